"""Record routes: publish, read, new version, retract, versions, list and bulk."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from care_exchange_server import errors
from care_exchange_server.auth.dependencies import (
    bearer_token,
    current_principal,
    identified,
    refusal,
)
from care_exchange_server.auth.principal import Principal
from care_exchange_server.auth.tokens import InvalidTokenError, decode_access_token
from care_exchange_server.bodies import (
    BulkItemFailedBody,
    BulkItemPublishedBody,
    BulkResultBody,
    PageBody,
)
from care_exchange_server.deps import get_session, get_settings
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.routes.common import (
    dry_run_post,
    in_read_session,
    in_transaction,
    json_response,
    page_size_of,
    read_json,
    run_post,
)
from care_exchange_server.services import receipts, records
from care_exchange_server.services.receipt_book import ReceiptBook
from care_exchange_server.services.stored import StoredRecord
from care_exchange_server.settings import Settings

router = APIRouter(prefix="/v1", tags=["records"])
Caller = Annotated[Principal, Depends(current_principal)]
Token = Annotated[str, Depends(bearer_token)]
Db = Annotated[Session, Depends(get_session)]


def _location(record_type: str, record_id: str) -> str:
    return f"/v1/records/{record_type}/{record_id}"


def _published(record_type: str, record: StoredRecord) -> tuple[int, Any, dict[str, str]]:
    headers = {
        "Location": _location(record_type, record.record_id),
        "ETag": records.etag(record.version),
    }
    return 201, records.envelope(record_type, record), headers


@router.post("/records/{record_type}")
async def publish(request: Request, record_type: str, principal: Caller) -> Response:
    records.known_type(record_type)
    body = await read_json(request)
    return await run_post(
        request,
        principal,
        lambda session: _published(
            record_type, records.publish(session, principal, record_type, body)
        ),
    )


@router.get("/records/{record_type}/{record_id}")
async def read(request: Request, record_type: str, record_id: str, token: Token) -> Response:
    """The hottest route: the token's database checks and the record share one query."""
    settings: Settings = request.app.state.settings
    book: ReceiptBook = request.app.state.receipt_book

    def work(session: Session) -> Response:
        try:
            claims = decode_access_token(session, settings, token)
            principal, rows = records.lookup_as(session, claims, record_type, record_id)
        except InvalidTokenError as error:
            raise refusal(error) from error
        identified(request, principal)
        record, grants = records.read_found(session, principal, record_type, record_id, rows)
        book.add(receipts.rows_for(principal, [record], receipts.READ, grants))
        envelope = records.envelope(record_type, record)
        return json_response(200, envelope, {"ETag": records.etag(record.version)})

    return await in_read_session(request, work)


@router.put("/records/{record_type}/{record_id}")
async def replace(
    request: Request,
    record_type: str,
    record_id: str,
    principal: Caller,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    records.known_type(record_type)
    body = await read_json(request)

    def work(session: Session) -> Response:
        record = records.replace(session, principal, record_type, record_id, body, if_match)
        envelope = records.envelope(record_type, record)
        return json_response(200, envelope, {"ETag": records.etag(record.version)})

    return await in_transaction(request, work)


@router.delete("/records/{record_type}/{record_id}", status_code=204)
async def retract(
    request: Request,
    record_type: str,
    record_id: str,
    principal: Caller,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    records.known_type(record_type)

    def work(session: Session) -> Response:
        record = records.retract(session, principal, record_type, record_id, if_match)
        return Response(status_code=204, headers={"ETag": records.etag(record.version)})

    return await in_transaction(request, work)


@router.get("/records/{record_type}/{record_id}/versions")
def versions(
    record_type: str,
    record_id: str,
    principal: Caller,
    session: Db,
    settings: Annotated[Settings, Depends(get_settings)],
    page_size: Annotated[int | None, Query()] = None,
    page_token: Annotated[str | None, Query()] = None,
) -> Response:
    records.known_type(record_type)
    size = page_size_of(settings, page_size)
    record, page = records.versions(session, principal, record_type, record_id, size, page_token)
    items = [records.envelope(record_type, version, record) for version in page.items]
    return json_response(200, PageBody(items=items, nextPageToken=page.next_token))


@router.get("/records/{record_type}")
def list_records(
    request: Request,
    record_type: str,
    principal: Caller,
    session: Db,
    settings: Annotated[Settings, Depends(get_settings)],
    service_id: Annotated[str | None, Query(alias="serviceId", max_length=128)] = None,
    page_size: Annotated[int | None, Query()] = None,
    page_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    records.known_type(record_type)
    page = records.list_records(
        session, principal, record_type, service_id, page_size_of(settings, page_size), page_token
    )
    agreed = receipts.agreed_for(session, principal, page.items)
    book: ReceiptBook = request.app.state.receipt_book
    book.add(receipts.rows_for(principal, page.items, receipts.LISTED, agreed))
    items = [records.envelope(record_type, record) for record in page.items]
    return json_response(200, PageBody(items=items, nextPageToken=page.next_token))


def _bulk_result(
    index: int, outcome: StoredRecord | ProblemError, request_id: str
) -> BulkItemPublishedBody | BulkItemFailedBody:
    if isinstance(outcome, ProblemError):
        return BulkItemFailedBody(
            index=index, status=outcome.status, problem=outcome.body(request_id)
        )
    published = BulkItemPublishedBody(
        index=index,
        status=201,
        recordType=outcome.record_type,
        id=outcome.record_id,
        version=outcome.version,
    )
    if outcome.warnings:
        published["warnings"] = [warning.as_dict() for warning in outcome.warnings]
    return published


def _bulk_results(
    session: Session, principal: Principal, items: list[Any], request_id: str, dry_run: bool
) -> tuple[int, BulkResultBody, dict[str, str]]:
    submissions = [
        (item.get("recordType") if isinstance(item, dict) else None, item) for item in items
    ]
    outcomes = records.publish_many(session, principal, submissions)
    body = BulkResultBody(
        results=[_bulk_result(i, outcome, request_id) for i, outcome in enumerate(outcomes)]
    )
    if dry_run:
        body["dryRun"] = True
    return 200, body, {}


@router.post("/bulk")
async def bulk(
    request: Request,
    principal: Caller,
    settings: Annotated[Settings, Depends(get_settings)],
    dry_run: Annotated[bool, Query()] = False,
) -> Response:
    """Publish many records; each item succeeds or fails on its own and is answered in order."""
    body = await read_json(request)
    items = body.get("records") if isinstance(body, dict) else None
    if not isinstance(items, list) or set(body) != {"records"}:
        raise ProblemError(
            "validation_failed",
            'The body must be {"records": [...]}.',
            [FieldError("/records", "must be an array of records.", "type")],
        )
    if not any(scope.endswith(":publish") for scope in principal.scopes):
        raise ProblemError(
            "insufficient_scope",
            "Bulk publishing needs the publish scope of at least one record type.",
            headers={
                "WWW-Authenticate": 'Bearer realm="care-exchange", error="insufficient_scope"'
            },
        )
    if not items:
        raise ProblemError(
            "validation_failed",
            "Send at least one record.",
            [FieldError("/records", "must not be empty.", "minItems")],
        )
    if len(items) > settings.bulk_max_items:
        raise ProblemError(
            "too_many_items",
            f"At most {settings.bulk_max_items} records in one request; split the batch.",
            [FieldError("/records", f"has {len(items)} items.", "maxItems")],
        )
    request_id = errors.request_id(request)

    def handler(session: Session) -> tuple[int, BulkResultBody, dict[str, str]]:
        return _bulk_results(session, principal, items, request_id, dry_run)

    if dry_run:
        return await dry_run_post(request, handler)
    return await run_post(request, principal, handler)
