"""Administration: organisations and their OAuth clients. Every route needs the `admin` scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from care_exchange_server.auth import clients
from care_exchange_server.auth.dependencies import scoped
from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import PageBody
from care_exchange_server.deps import get_session
from care_exchange_server.problems import FieldError, ProblemError
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
from care_exchange_server.storage.enums import AuthMethod, OrganisationKind

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Db = Annotated[Session, Depends(get_session)]


def administrator(principal: Annotated[Principal, Depends(scoped("admin"))]) -> Principal:
    """Both the scope and an administrator organisation: a scope alone is not enough."""
    if not principal.is_admin:
        raise ProblemError("forbidden", "Only an administrator organisation may do this.")
    return principal


Admin = Annotated[Principal, Depends(administrator)]


class OrganisationRequest(BaseModel):
    """A new organisation."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    kind: OrganisationKind
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class ClientRequest(BaseModel):
    """A new OAuth client for an organisation."""

    model_config = ConfigDict(extra="forbid")

    organisation_id: str = Field(alias="organisationId", min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=300)
    scopes: list[str] = Field(min_length=1)
    auth_method: AuthMethod = Field(alias="authMethod")
    jwks: dict[str, Any] | None = None


@router.post("/organisations")
async def create_organisation(request: Request, principal: Admin) -> Response:
    form = parse_model(OrganisationRequest, await read_json(request))

    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        made = directory.create_organisation(session, form.name, form.kind, form.id)
        return 201, directory.organisation_dict(made), {}

    return await run_post(request, principal, work)


@router.get("/organisations")
def list_organisations(principal: Admin, session: Db, settings: Config, paged: Paged) -> Response:
    page = directory.list_organisations(session, paged.size(settings), paged.token)
    items = [directory.organisation_dict(organisation) for organisation in page.items]
    return json_response(200, PageBody(items=items, nextPageToken=page.next_token))


@router.post("/clients")
async def create_client(request: Request, principal: Admin) -> Response:
    form = parse_model(ClientRequest, await read_json(request))

    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        try:
            made, secret = clients.create_client(
                session, form.organisation_id, form.name, form.scopes, form.auth_method, form.jwks
            )
        except ValueError as error:
            raise ProblemError(
                "validation_failed", str(error), [FieldError("", str(error))]
            ) from None
        return 201, clients.client_dict(made, secret), {"Cache-Control": "no-store"}

    return await run_post(request, principal, work, for_replay=_without_secret)


def _without_secret(body: Any) -> Any:
    """A replay must not hand out the secret again, nor may the secret be stored to replay it."""
    return {name: value for name, value in body.items() if name != "clientSecret"}


@router.get("/clients")
def list_clients(principal: Admin, session: Db, settings: Config, paged: Paged) -> Response:
    page = clients.page_clients(session, paged.size(settings), paged.token)
    items = [clients.client_dict(client) for client in page.items]
    return json_response(200, PageBody(items=items, nextPageToken=page.next_token))


@router.delete("/clients/{client_id}", status_code=204)
async def disable_client(request: Request, client_id: str, principal: Admin) -> Response:
    def work(session: Session) -> Response:
        if clients.disable_client(session, client_id) is None:
            raise ProblemError("not_found", f"No client '{client_id}'.")
        return Response(status_code=204)

    return await in_transaction(request, work)
