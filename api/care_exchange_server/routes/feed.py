"""The change feed of each record type (RPDE state synchronisation)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from care_exchange_server.auth.dependencies import bearer_token
from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import FeedItemBody, FeedPageBody
from care_exchange_server.routes.common import as_reader, json_response, next_link, page_size_of
from care_exchange_server.services import entitlements, feed, receipts, records
from care_exchange_server.services.receipt_book import ReceiptBook
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.enums import FeedState

router = APIRouter(prefix="/v1", tags=["feed"])
MAX_CHANGE = 2**63 - 1  # change numbers are 64-bit


def _item(record_type: str, change: int, state: FeedState, record: Any) -> FeedItemBody:
    item = FeedItemBody(id=record.record_id, kind=record_type, state=state, modified=change)
    if state == FeedState.UPDATED:
        item["data"] = records.envelope(record_type, record)
    return item


@router.get("/feed/{record_type}")
async def read_feed(
    request: Request,
    record_type: str,
    token: Annotated[str, Depends(bearer_token)],
    after: Annotated[int, Query(ge=0, le=MAX_CHANGE)] = 0,
    page_size: Annotated[int | None, Query()] = None,
) -> Response:
    settings: Settings = request.app.state.settings
    book: ReceiptBook = request.app.state.receipt_book

    def work(session: Session, principal: Principal) -> Response:
        size = page_size_of(settings, page_size)
        records.known_type(record_type)
        records.require_reader(principal, record_type)
        today = date.today()
        if entitlements.has_lapsed(session, principal.organisation_id, today):
            with transaction(request.app.state.sessions) as writing:
                entitlements.close_lapsed(writing, today, principal.organisation_id)
        rows = feed.page(session, principal.organisation_id, record_type, after, size)
        sent = [record for _, state, record in rows if state == FeedState.UPDATED]
        agreed = receipts.agreed_for(session, principal, sent)
        book.add(receipts.rows_for(principal, sent, receipts.FEED, agreed))
        items = [_item(record_type, change, state, record) for change, state, record in rows]
        last = items[-1]["modified"] if items else None
        body = FeedPageBody(items=items, next=next_link(request, last, page_size))
        return json_response(200, body)

    return await as_reader(request, token, work)
