"""Subscription routes: manage subscriptions, see how delivery is going, read or replay events."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from care_exchange_server.auth.dependencies import bearer_token, current_principal
from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import EventPageBody, PageBody
from care_exchange_server.deps import get_session, get_settings
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.routes.common import (
    Paged,
    as_reader,
    in_transaction,
    json_response,
    page_size_of,
    parse_model,
    read_json,
    run_post,
)
from care_exchange_server.routes.feed import MAX_CHANGE
from care_exchange_server.services import event_bodies, receipts, subscriptions
from care_exchange_server.services.receipt_book import ReceiptBook
from care_exchange_server.services.subscriptions import PULL, WEBHOOK, Terms
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.types import utcnow

router = APIRouter(prefix="/v1", tags=["subscriptions"])
Caller = Annotated[Principal, Depends(current_principal)]
Db = Annotated[Session, Depends(get_session)]
ServiceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
AreaCode = Annotated[str, Field(pattern=r"^(S12|E06|E08|E09|E10|W06|N09|S37)[0-9]{6}$")]
Content = Literal["id-only", "full"]


class Filter(BaseModel):
    """Some services, some areas, or both."""

    model_config = ConfigDict(extra="forbid")

    services: list[ServiceId] | None = Field(default=None, min_length=1, max_length=500)
    areas: list[AreaCode] | None = Field(default=None, min_length=1, max_length=100)


class Channel(BaseModel):
    """A webhook with its URL, or pull; checked after parsing so errors point at the member."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook", "pull"]
    url: str | None = Field(default=None, min_length=1, max_length=2000)


class SubscriptionRequest(BaseModel):
    """A new subscription; `content` defaults to `id-only`."""

    model_config = ConfigDict(extra="forbid")

    types: list[str] = Field(min_length=1, max_length=20)
    filter: Filter | None = None
    channel: Channel
    content: Content = "id-only"


class SubscriptionUpdate(BaseModel):
    """Members present replace the stored ones."""

    model_config = ConfigDict(extra="forbid")

    types: list[str] | None = Field(default=None, min_length=1, max_length=20)
    filter: Filter | None = None
    channel: Channel | None = None
    content: Content | None = None
    status: Literal["active", "paused"] | None = None


def _invalid(errors: list[FieldError]) -> ProblemError:
    return ProblemError("validation_failed", "The request body is not valid.", errors)


def _members(
    form: SubscriptionRequest | SubscriptionUpdate, names: Collection[str]
) -> dict[str, Any]:
    """The `Terms` fields that the named members of the body give.

    Also checks the rules a schema cannot say with pointers (repeats, url with its channel).
    """
    errors: list[FieldError] = []
    found: dict[str, Any] = {}
    if "types" in names and form.types is not None:
        if len(set(form.types)) != len(form.types):
            errors.append(FieldError("/types", "must not repeat a type.", "uniqueItems"))
        found["types"] = tuple(form.types)
    if "filter" in names:
        given = form.filter
        if given is not None and given.services is None and given.areas is None:
            errors.append(FieldError("/filter", "give services, areas or both.", "minProperties"))
        for name, key in (("services", "service_ids"), ("areas", "area_codes")):
            values = getattr(given, name) if given is not None else None
            if values is not None and len(set(values)) != len(values):
                errors.append(FieldError(f"/filter/{name}", "must not repeat.", "uniqueItems"))
            found[key] = None if values is None else tuple(values)
    if "channel" in names and form.channel is not None:
        channel = form.channel
        if channel.type == WEBHOOK and channel.url is None:
            errors.append(FieldError("/channel/url", "a webhook needs a url.", "required"))
        if channel.type == PULL and channel.url is not None:
            errors.append(FieldError("/channel/url", "a pull channel has no url.", "additional"))
        found["channel"], found["url"] = channel.type, channel.url
    if "content" in names and form.content is not None:
        found["content"] = form.content
    if errors:
        raise _invalid(errors)
    return found


def _without_secret(body: Any) -> Any:
    """What an idempotent replay may show: the secret is shown once."""
    return {**body, "secret": None} if isinstance(body, dict) and "secret" in body else body


@router.post("/subscriptions")
async def create(
    request: Request, principal: Caller, settings: Annotated[Settings, Depends(get_settings)]
) -> Response:
    form = parse_model(SubscriptionRequest, await read_json(request))
    terms = Terms(**_members(form, ("types", "filter", "channel", "content")))

    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        made, secret = subscriptions.create(session, principal, terms, settings)
        body = {**subscriptions.subscription_dict(made), "secret": secret}
        return 201, body, {"Location": f"/v1/subscriptions/{made.id}"}

    return await run_post(request, principal, work, for_replay=_without_secret)


@router.get("/subscriptions")
def list_subscriptions(
    principal: Caller,
    session: Db,
    settings: Annotated[Settings, Depends(get_settings)],
    page_size: Annotated[int | None, Query()] = None,
    page_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    size = page_size_of(settings, page_size)
    items, token = subscriptions.list_for(session, principal, size, page_token)
    body = PageBody(
        items=[subscriptions.subscription_dict(item) for item in items], nextPageToken=token
    )
    return json_response(200, body)


@router.get("/subscriptions/{subscription_id}")
def get(subscription_id: str, principal: Caller, session: Db) -> Response:
    found = subscriptions.owned(session, principal, subscription_id)
    return json_response(200, subscriptions.subscription_dict(found))


@router.patch("/subscriptions/{subscription_id}")
async def change(
    request: Request,
    subscription_id: str,
    principal: Caller,
    settings: Annotated[Settings, Depends(get_settings)],
) -> Response:
    form = parse_model(SubscriptionUpdate, await read_json(request))
    if not form.model_fields_set:
        raise _invalid([FieldError("", "change at least one member.", "minProperties")])
    nulls = sorted(
        name for name in form.model_fields_set - {"filter"} if getattr(form, name) is None
    )
    if nulls:
        raise _invalid([FieldError(f"/{name}", "must not be null.", "type") for name in nulls])

    given = _members(form, form.model_fields_set)

    def work(session: Session) -> Response:
        changed = subscriptions.update(
            session, principal, subscription_id, given, form.status, settings
        )
        return json_response(200, subscriptions.subscription_dict(changed))

    return await in_transaction(request, work)


@router.delete("/subscriptions/{subscription_id}")
async def remove(request: Request, subscription_id: str, principal: Caller) -> Response:
    def work(session: Session) -> Response:
        subscriptions.remove(session, principal, subscription_id)
        return Response(status_code=204)

    return await in_transaction(request, work)


@router.post("/subscriptions/{subscription_id}/rotate-secret")
async def rotate_secret(
    request: Request,
    subscription_id: str,
    principal: Caller,
    settings: Annotated[Settings, Depends(get_settings)],
) -> Response:
    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        return 200, subscriptions.rotate_secret(session, principal, subscription_id, settings), {}

    return await run_post(request, principal, work, for_replay=_without_secret)


@router.get("/subscriptions/{subscription_id}/status")
def status(subscription_id: str, principal: Caller, session: Db) -> Response:
    found = subscriptions.owned(session, principal, subscription_id)
    return json_response(200, subscriptions.status_dict(found))


@router.get("/subscriptions/{subscription_id}/events")
async def list_events(
    request: Request,
    subscription_id: str,
    token: Annotated[str, Depends(bearer_token)],
    paged: Paged,
    after: Annotated[int, Query(ge=0, le=MAX_CHANGE)] = 0,
) -> Response:
    settings: Settings = request.app.state.settings
    book: ReceiptBook = request.app.state.receipt_book

    def work(session: Session, principal: Principal) -> Response:
        size = paged.size(settings)
        found = subscriptions.owned(session, principal, subscription_id)
        subscriptions.require_reader_of_events(principal, found)
        page = subscriptions.events_page(session, found, after, size, paged.token)
        rendered = event_bodies.render(session, settings.issuer, {found: page.items}, date.today())
        items = rendered[found.pk]
        now = utcnow()
        book.add(
            [
                receipts.row(
                    found.organisation_id, e.received, e.agreement_id, receipts.EVENTS, now
                )
                for e in items
                if e.received is not None and e.agreement_id is not None
            ]
        )
        if found.channel == PULL and items and items[-1].sequence > found.delivered_sequence:
            with transaction(request.app.state.sessions) as writing:
                subscriptions.mark_read(writing, found.pk, items[-1].sequence)
        latest = max([found.last_sequence, *(item.sequence for item in items)])
        body = EventPageBody(
            items=[item.body for item in items],
            latestSequence=latest,
            nextPageToken=page.next_token,
        )
        return json_response(200, body)

    return await as_reader(request, token, work)
