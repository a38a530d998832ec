"""Return template routes: declare, version, list, read, retire, coverage, and the filled return.

A filled return is computed in a worker process that may take seconds (each field has its
time limit), so it runs in the threadpool, never on the event loop: a hostile template slows
only its own request.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from care_exchange_server.auth.dependencies import current_principal
from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import PageBody
from care_exchange_server.deps import get_session
from care_exchange_server.problems import ProblemError
from care_exchange_server.routes.common import (
    Config,
    Paged,
    in_transaction,
    json_response,
    read_json,
    run_post,
)
from care_exchange_server.services import paging, return_templates
from care_exchange_server.services.receipt_book import ReceiptBook
from care_exchange_server.services.return_templates import ReturnPlan, Version
from care_exchange_standard.returns import FilledReturn, SandboxPool, Template
from care_exchange_standard.returns.rendering import MEDIA_TYPES, as_csv, write_xlsx

router = APIRouter(prefix="/v1", tags=["return templates"])
Caller = Annotated[Principal, Depends(current_principal)]
Db = Annotated[Session, Depends(get_session)]
VersionQuery = Annotated[str | None, Query()]
# The media types a filled return is given in, in the order preferred when several are equal.
OFFERED = (MEDIA_TYPES["json"], MEDIA_TYPES["csv"], MEDIA_TYPES["xlsx"])


def shipped(request: Request) -> dict[str, Template]:
    """The templates the standard ships, by id: read-only, owned by the standard.

    The app may hold its own (`app.state.shipped_templates`), so a deployment (or a test)
    offers another set without touching the standard's files.
    """
    found: dict[str, Template] | None = getattr(request.app.state, "shipped_templates", None)
    return return_templates.shipped() if found is None else found


Shipped = Annotated[dict[str, Template], Depends(shipped)]


def _location(version: Version) -> dict[str, str]:
    template = version.template
    return {"Location": f"/v1/return-templates/{template.id}?version={template.version}"}


def _page_of_versions(page: paging.Page[Version]) -> Response:
    items = [return_templates.version_dict(version) for version in page.items]
    return json_response(200, PageBody(items=items, nextPageToken=page.next_token))


@router.post("/return-templates")
async def create(request: Request, principal: Caller, templates: Shipped) -> Response:
    document = await read_json(request)

    def work(session: Session) -> tuple[int, Any, dict[str, str]]:
        made = return_templates.create(session, principal, document, templates)
        return 201, return_templates.version_dict(made), _location(made)

    return await run_post(request, principal, work)


@router.get("/return-templates")
def list_templates(
    principal: Caller,
    session: Db,
    settings: Config,
    paged: Paged,
    templates: Shipped,
    owner: Annotated[str | None, Query()] = None,
) -> Response:
    page = return_templates.list_for(
        session, principal, owner, paged.size(settings), paged.token, templates
    )
    return _page_of_versions(page)


@router.get("/return-templates/{template_id}")
def get(
    template_id: str,
    principal: Caller,
    session: Db,
    templates: Shipped,
    version: VersionQuery = None,
) -> Response:
    found = return_templates.get(session, principal, template_id, version, templates)
    return json_response(200, return_templates.version_dict(found))


@router.delete("/return-templates/{template_id}", status_code=204)
async def retire(
    request: Request, template_id: str, principal: Caller, templates: Shipped
) -> Response:
    def work(session: Session) -> Response:
        return_templates.retire(session, principal, template_id, templates)
        return Response(status_code=204)

    return await in_transaction(request, work)


@router.get("/return-templates/{template_id}/versions")
def versions(
    template_id: str,
    principal: Caller,
    session: Db,
    settings: Config,
    paged: Paged,
    templates: Shipped,
) -> Response:
    page = return_templates.versions(
        session, principal, template_id, paged.size(settings), paged.token, templates
    )
    return _page_of_versions(page)


@router.post("/return-templates/{template_id}/versions")
async def add_version(
    request: Request, template_id: str, principal: Caller, templates: Shipped
) -> Response:
    document = await read_json(request)

    def work(session: Session) -> tuple[int, Any, dict[str, str]]:
        made = return_templates.add_version(session, principal, template_id, document, templates)
        return 201, return_templates.version_dict(made), _location(made)

    return await run_post(request, principal, work)


@router.get("/return-templates/{template_id}/coverage")
def coverage(
    template_id: str,
    principal: Caller,
    session: Db,
    templates: Shipped,
    version: VersionQuery = None,
) -> Response:
    found = return_templates.get(session, principal, template_id, version, templates)
    return json_response(200, return_templates.coverage(found))


def _weighted(accept: str) -> list[tuple[float, int, str]]:
    """The media ranges of an Accept header, with their quality and position."""
    ranges = []
    for position, part in enumerate(accept.split(",")):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((quality, position, media.lower()))
    return ranges


def _covers(media_range: str, offered: str) -> bool:
    """Whether a media range (`*/*`, `text/*`, `text/csv`) takes the offered type."""
    if media_range in ("*/*", offered):
        return True
    kind, _, subtype = media_range.partition("/")
    return subtype == "*" and offered.startswith(kind + "/")


def negotiate(accept: str | None) -> str:
    """The media type to answer in: the offered one the client weighs highest; 406 for none.

    Ties go to the order the client wrote, then to the order offered (JSON first), so that
    `*/*` and no Accept at all are JSON. A type refused by name (`text/csv;q=0`) is never
    chosen through a wider range that follows it.
    """
    if not accept or not accept.strip():
        return OFFERED[0]
    ranges = sorted(_weighted(accept), key=lambda item: (-item[0], item[1]))
    refused = {media for quality, _, media in ranges if quality <= 0}
    for quality, _, media in ranges:
        if quality <= 0:
            break
        for offered in OFFERED:
            if offered not in refused and _covers(media, offered):
                return offered
    raise ProblemError("not_acceptable", "A filled return is given as " + ", ".join(OFFERED) + ".")


@dataclass(frozen=True)
class _Rendered:
    """A filled return as a file: CSV for upload, or a workbook for a manager to read."""

    content: bytes
    media_type: str


def _as_file(filled: FilledReturn, media_type: str) -> _Rendered | None:
    """The file for CSV and XLSX (blocking, so made in the threadpool); None for JSON."""
    if media_type == MEDIA_TYPES["csv"]:
        return _Rendered(as_csv([filled]).encode(), "text/csv; charset=utf-8")
    if media_type == MEDIA_TYPES["xlsx"]:
        workbook = io.BytesIO()
        write_xlsx(filled, workbook)
        return _Rendered(workbook.getvalue(), media_type)
    return None


@router.get("/return-templates/{template_id}/returns")
async def fill_return(
    request: Request,
    template_id: str,
    principal: Caller,
    templates: Shipped,
    service_id: Annotated[str, Query(alias="serviceId")],
    period: Annotated[str, Query()],
    version: VersionQuery = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    media_type = negotiate(accept)
    sessions: sessionmaker[Session] = request.app.state.read_sessions
    pool: SandboxPool = request.app.state.return_pool

    def planned() -> ReturnPlan:
        with sessions() as session:
            return return_templates.plan(
                session, principal, template_id, version, service_id, period, templates
            )

    plan = await run_in_threadpool(planned)

    def filled_and_rendered() -> tuple[FilledReturn, _Rendered | None]:
        filled = return_templates.fill_plan(plan, pool)
        return filled, _as_file(filled, media_type)

    filled, rendered = await run_in_threadpool(filled_and_rendered)
    book: ReceiptBook = request.app.state.receipt_book
    book.add(return_templates.receipts_for(principal, plan, filled))
    if rendered is None:
        return json_response(200, return_templates.filled_dict(filled))
    return Response(rendered.content, status_code=200, media_type=rendered.media_type)
