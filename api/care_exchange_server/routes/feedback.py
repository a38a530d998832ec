"""Feedback routes: send feedback on a record or a service and period, and reply to it."""

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
from care_exchange_server.deps import get_session, get_settings
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.routes.common import (
    json_response,
    page_size_of,
    parse_model,
    read_json,
    run_post,
)
from care_exchange_server.services import feedback
from care_exchange_server.services.feedback import FeedbackTerms
from care_exchange_server.settings import Settings
from care_exchange_server.storage.enums import FeedbackKind
from care_exchange_standard import load_standard

router = APIRouter(prefix="/v1", tags=["feedback"])
Caller = Annotated[Principal, Depends(current_principal)]
Db = Annotated[Session, Depends(get_session)]


class Period(BaseModel):
    """The first and last day the feedback is about."""

    model_config = ConfigDict(extra="forbid")

    start: date
    end: date


class FeedbackRequest(BaseModel):
    """About a record, or about a service and period: checked after parsing, with pointers."""

    model_config = ConfigDict(extra="forbid")

    kind: FeedbackKind
    text: str = Field(min_length=1, max_length=5000)
    record_type: str | None = Field(alias="recordType", default=None, max_length=60)
    record_id: str | None = Field(alias="recordId", default=None, max_length=128)
    service_id: str | None = Field(alias="serviceId", default=None, max_length=128)
    period: Period | None = None


class ReplyRequest(BaseModel):
    """A provider's answer."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


def _terms(form: FeedbackRequest) -> FeedbackTerms:
    on_record = form.record_type is not None or form.record_id is not None
    on_service = form.service_id is not None or form.period is not None
    errors: list[FieldError] = []
    if on_record == on_service:
        errors.append(
            FieldError("", "give recordType and recordId, or serviceId and period.", "oneOf")
        )
    elif on_record:
        errors += [
            FieldError(f"/{name}", "required with the other record field.", "required")
            for name, value in (("recordType", form.record_type), ("recordId", form.record_id))
            if value is None
        ]
        if form.record_type is not None and form.record_type not in load_standard().record_types:
            errors.append(FieldError("/recordType", "not a record type.", "enum"))
    else:
        errors += [
            FieldError(f"/{name}", "required with the other service field.", "required")
            for name, value in (("serviceId", form.service_id), ("period", form.period))
            if value is None
        ]
        if form.period is not None and form.period.start > form.period.end:
            errors.append(FieldError("/period/end", "must not be before start.", "minimum"))
    if errors:
        raise ProblemError("validation_failed", "The request body is not valid.", errors)
    return FeedbackTerms(
        kind=form.kind,
        text=form.text,
        record_type=form.record_type,
        record_id=form.record_id,
        service_id=form.service_id,
        period=(form.period.start, form.period.end) if form.period is not None else None,
    )


@router.post("/feedback")
async def create(request: Request, principal: Caller) -> Response:
    terms = _terms(parse_model(FeedbackRequest, await read_json(request)))

    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        made = feedback.create(session, principal, terms)
        return 201, feedback.feedback_dict(session, made), {"Location": f"/v1/feedback/{made.id}"}

    return await run_post(request, principal, work)


@router.get("/feedback")
def list_feedback(
    principal: Caller,
    session: Db,
    settings: Annotated[Settings, Depends(get_settings)],
    service_id: Annotated[str | None, Query(alias="serviceId", max_length=128)] = None,
    kind: Annotated[FeedbackKind | None, Query()] = None,
    page_size: Annotated[int | None, Query()] = None,
    page_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    size = page_size_of(settings, page_size)
    items, token = feedback.list_for(session, principal, service_id, kind, size, page_token)
    body = PageBody(items=feedback.feedback_dicts(session, items), nextPageToken=token)
    return json_response(200, body)


@router.get("/feedback/{feedback_id}")
def get(feedback_id: str, principal: Caller, session: Db) -> Response:
    found = feedback.get(session, principal, feedback_id)
    return json_response(200, feedback.feedback_dict(session, found))


@router.post("/feedback/{feedback_id}/replies")
async def reply(request: Request, feedback_id: str, principal: Caller) -> Response:
    form = parse_model(ReplyRequest, await read_json(request))

    def work(session: Session) -> tuple[int, object, dict[str, str]]:
        answered = feedback.reply(session, principal, feedback_id, form.text)
        return 201, feedback.feedback_dict(session, answered), {}

    return await run_post(request, principal, work)
