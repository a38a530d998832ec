"""Access receipt routes: a provider sees who received its records, when, under which agreement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from care_exchange_server.auth.dependencies import current_principal
from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import PageBody
from care_exchange_server.deps import get_session, get_settings
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.routes.common import json_response, page_size_of
from care_exchange_server.services import paging, receipts
from care_exchange_server.services.receipt_book import ReceiptBook
from care_exchange_server.services.receipts import ReceiptFilter
from care_exchange_server.settings import Settings

router = APIRouter(prefix="/v1", tags=["receipts"])
Caller = Annotated[Principal, Depends(current_principal)]
Db = Annotated[Session, Depends(get_session)]
ServiceId = Annotated[str | None, Query(alias="serviceId", max_length=128)]
SubscriberId = Annotated[str | None, Query(alias="subscriberId", max_length=128)]
Moment = Annotated[datetime | None, Query()]


def _filter(
    service_id: str | None,
    subscriber_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> ReceiptFilter:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ProblemError(
                "invalid_query",
                f"`{name}` needs a time zone offset (RFC 3339).",
                [FieldError.of_parameter(name, "must carry a time zone offset.", "format")],
            )
    return ReceiptFilter(service_id, subscriber_id, _in_utc(since), _in_utc(until))


def _in_utc(moment: datetime | None) -> datetime | None:
    """The instant in UTC; one past the ends of the calendar is the calendar's end.

    `9999-12-31T23:59:59-23:59` and `0001-01-01T00:00:00+01:00` are valid RFC 3339 but fall
    outside the years Python can hold once moved to UTC; as bounds they mean "no bound".
    """
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.max if moment.year == datetime.max.year else datetime.min
        return edge.replace(tzinfo=UTC)


def _flushed(request: Request) -> None:
    """Receipts this process has served but not yet written are written first."""
    book: ReceiptBook = request.app.state.receipt_book
    book.flush()


@router.get("/access-receipts")
def list_receipts(
    request: Request,
    principal: Caller,
    session: Db,
    settings: Annotated[Settings, Depends(get_settings)],
    service_id: ServiceId = None,
    subscriber_id: SubscriberId = None,
    since: Moment = None,
    until: Moment = None,
    page_size: Annotated[int | None, Query()] = None,
    page_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    chosen = _filter(service_id, subscriber_id, since, until)
    _flushed(request)
    query_key = {
        "list": "access-receipts",
        "serviceId": service_id,
        "subscriberId": subscriber_id,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    before = paging.decode_token(page_token, query_key) if page_token else None
    size = page_size_of(settings, page_size)
    items, more = receipts.list_for(session, principal, chosen, size, before)
    token = paging.encode_token({"after": more, **query_key}) if more is not None else None
    body = PageBody(items=[receipts.receipt_dict(item) for item in items], nextPageToken=token)
    return json_response(200, body)


@router.get("/access-receipts/summary")
def summary(
    request: Request,
    principal: Caller,
    session: Db,
    service_id: ServiceId = None,
    subscriber_id: SubscriberId = None,
    since: Moment = None,
    until: Moment = None,
) -> Response:
    chosen = _filter(service_id, subscriber_id, since, until)
    _flushed(request)
    return json_response(200, receipts.summary(session, principal, chosen))
