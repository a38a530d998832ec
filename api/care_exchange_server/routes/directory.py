"""Directory routes: who am I, my directory entry, my services, and delegations to vendors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from care_exchange_server.auth.dependencies import current_principal
from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import PageBody
from care_exchange_server.deps import get_session
from care_exchange_server.routes.common import (
    Config,
    Paged,
    in_transaction,
    json_response,
    parse_model,
    read_json,
    run_post,
)
from care_exchange_server.services import directory

router = APIRouter(prefix="/v1", tags=["directory"])
Caller = Annotated[Principal, Depends(current_principal)]
Db = Annotated[Session, Depends(get_session)]


class DelegationRequest(BaseModel):
    """A provider's grant of publishing rights to a vendor."""

    model_config = ConfigDict(extra="forbid")

    vendor_id: str = Field(alias="vendorId", min_length=1, max_length=128)
    # Required, though it may be null: every service, present and future, is asked for by name.
    service_ids: list[str] | None = Field(alias="serviceIds", min_length=1)


@router.get("/organisations/me")
def me(principal: Caller, session: Db) -> Response:
    organisation = directory.organisation_of(session, principal)
    return json_response(200, directory.organisation_dict(organisation))


@router.get("/organisations/me/directory-entry")
def my_directory_entry(principal: Caller, session: Db) -> Response:
    return json_response(200, directory.directory_entry(session, principal))


@router.put("/organisations/me/directory-entry")
async def replace_my_directory_entry(request: Request, principal: Caller) -> Response:
    body = await read_json(request)

    def work(session: Session) -> Response:
        return json_response(200, directory.replace_directory_entry(session, principal, body))

    return await in_transaction(request, work)


@router.get("/services")
def services(principal: Caller, session: Db, settings: Config, paged: Paged) -> Response:
    page = directory.managed_services(session, principal, paged.size(settings), paged.token)
    items = [service.document for service in page.items]
    return json_response(200, PageBody(items=items, nextPageToken=page.next_token))


@router.post("/services")
async def register(request: Request, principal: Caller) -> Response:
    body = await read_json(request)

    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        service = directory.register_service(session, principal, body)
        return 201, service.document, {"Location": f"/v1/services/{service.id}"}

    return await run_post(request, principal, work)


@router.get("/services/{service_id}")
def service(service_id: str, principal: Caller, session: Db) -> Response:
    return json_response(
        200, directory.get_managed_service(session, principal, service_id).document
    )


@router.put("/services/{service_id}")
async def replace(request: Request, service_id: str, principal: Caller) -> Response:
    body = await read_json(request)

    def work(session: Session) -> Response:
        updated = directory.replace_service(session, principal, service_id, body)
        return json_response(200, updated.document)

    return await in_transaction(request, work)


@router.post("/delegations")
async def delegate(request: Request, principal: Caller) -> Response:
    terms = parse_model(DelegationRequest, await read_json(request))

    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        made = directory.delegate(session, principal, terms.vendor_id, terms.service_ids)
        return 201, directory.delegation_dict(made), {"Location": f"/v1/delegations/{made.id}"}

    return await run_post(request, principal, work)


@router.get("/delegations")
def delegations(principal: Caller, session: Db, settings: Config, paged: Paged) -> Response:
    page = directory.list_delegations(session, principal, paged.size(settings), paged.token)
    items = [directory.delegation_dict(delegation) for delegation in page.items]
    return json_response(200, PageBody(items=items, nextPageToken=page.next_token))


@router.delete("/delegations/{delegation_id}", status_code=204)
async def revoke(request: Request, delegation_id: str, principal: Caller) -> Response:
    def work(session: Session) -> Response:
        directory.revoke_delegation(session, principal, delegation_id)
        return Response(status_code=204)

    return await in_transaction(request, work)
