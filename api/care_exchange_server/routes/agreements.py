"""Agreement routes: grant, request, decide, revoke and list data-sharing agreements."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
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
    json_response,
    parse_model,
    read_json,
    run_post,
)
from care_exchange_server.services import agreements
from care_exchange_server.services.entitlements import AgreementTerms
from care_exchange_server.storage.enums import AgreementStatus

router = APIRouter(prefix="/v1", tags=["agreements"])
Caller = Annotated[Principal, Depends(current_principal)]
Db = Annotated[Session, Depends(get_session)]


class AgreementRequest(BaseModel):
    """A grant (provider), a request (subscriber) or a statutory agreement (administrator)."""

    model_config = ConfigDict(extra="forbid")

    provider_id: str | None = Field(alias="providerId", default=None, max_length=128)
    subscriber_id: str | None = Field(alias="subscriberId", default=None, max_length=128)
    record_types: list[str] = Field(alias="recordTypes", min_length=1)
    # Required, though it may be null: every service, present and future, is asked for by name.
    service_ids: list[str] | None = Field(alias="serviceIds", min_length=1)
    purpose: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(alias="legalBasis", min_length=1, max_length=2000)
    end_date: date | None = Field(alias="endDate", default=None)
    statutory: bool = False


@router.post("/agreements")
async def create(request: Request, principal: Caller) -> Response:
    form = parse_model(AgreementRequest, await read_json(request))
    terms = AgreementTerms(
        record_types=form.record_types,
        service_ids=form.service_ids,
        purpose=form.purpose,
        legal_basis=form.legal_basis,
        end_date=form.end_date,
    )

    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        made = agreements.create(
            session, principal, terms, form.provider_id, form.subscriber_id, form.statutory
        )
        return 201, agreements.agreement_dict(made), {"Location": f"/v1/agreements/{made.id}"}

    return await run_post(request, principal, work)


@router.get("/agreements")
def list_agreements(
    principal: Caller,
    session: Db,
    settings: Config,
    paged: Paged,
    status: Annotated[AgreementStatus | None, Query()] = None,
) -> Response:
    page = agreements.list_for(session, principal, status, paged.size(settings), paged.token)
    items = [agreements.agreement_dict(agreement) for agreement in page.items]
    return json_response(200, PageBody(items=items, nextPageToken=page.next_token))


@router.get("/agreements/{agreement_id}")
def get(agreement_id: str, principal: Caller, session: Db) -> Response:
    return json_response(
        200, agreements.agreement_dict(agreements.get(session, principal, agreement_id))
    )


@router.post("/agreements/{agreement_id}/accept")
async def accept(request: Request, agreement_id: str, principal: Caller) -> Response:
    return await _run(request, principal, agreement_id, "accept")


@router.post("/agreements/{agreement_id}/decline")
async def decline(request: Request, agreement_id: str, principal: Caller) -> Response:
    return await _run(request, principal, agreement_id, "decline")


@router.post("/agreements/{agreement_id}/revoke")
async def revoke(request: Request, agreement_id: str, principal: Caller) -> Response:
    return await _run(request, principal, agreement_id, "revoke")


async def _run(request: Request, principal: Principal, agreement_id: str, action: str) -> Response:
    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        if action == "revoke":
            changed = agreements.revoke(session, principal, agreement_id)
        else:
            changed = agreements.decide(session, principal, agreement_id, action == "accept")
        return 200, agreements.agreement_dict(changed), {}

    return await run_post(request, principal, work)
