"""Feedback: subscribers say what data changed, ask, or acknowledge it; providers reply.

Feedback is about something the subscriber may see: a record it can read, or a service that an
agreement in force covers. A reference it may not use is refused as a field error whether or
not it exists, so feedback never reveals what another organisation can see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from care_exchange_server.auth.principal import Principal
from care_exchange_server.bodies import FeedbackBody, FeedbackPeriodBody, FeedbackReplyBody
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.scopes import require_scope
from care_exchange_server.services import events, feed, paging, records
from care_exchange_server.services.access import Grant, in_force, services_of
from care_exchange_server.services.agreements import SUBSCRIBER_KINDS
from care_exchange_server.services.ids import new_id
from care_exchange_server.services.times import timestamp
from care_exchange_server.storage.enums import FeedbackKind
from care_exchange_server.storage.models import Agreement, Feedback, FeedbackReply, Record, Service

SCOPE = "feedback"


@dataclass(frozen=True)
class FeedbackTerms:
    """What a subscriber says and what about: a record, or a service and a period."""

    kind: str
    text: str
    record_type: str | None
    record_id: str | None
    service_id: str | None
    period: tuple[date, date] | None


def _not_yours(pointer: str, detail: str) -> ProblemError:
    return ProblemError(
        "validation_failed",
        detail,
        [FieldError(pointer, "not something you may send feedback about.", "exists")],
    )


def _covered_service(session: Session, principal: Principal, service_id: str) -> Service:
    """The service, when an agreement in force covers it for any record type."""
    service = session.get(Service, service_id)
    covered = False
    if service is not None:
        service_lists = session.scalars(
            select(Agreement.service_ids).where(
                in_force(principal.organisation_id, date.today()),
                Agreement.provider_id == service.provider_id,
            )
        )
        covered = any(
            Grant(service.provider_id, services_of(ids)).covers(service.provider_id, service.id)
            for ids in service_lists
        )
    if service is None or not covered:
        raise _not_yours("/serviceId", f"No service '{service_id}' that your agreements cover.")
    return service


def create(session: Session, principal: Principal, terms: FeedbackTerms) -> Feedback:
    require_scope(principal, SCOPE)
    if principal.organisation_kind not in SUBSCRIBER_KINDS:
        raise ProblemError("forbidden", "Feedback is sent by subscribers to providers.")
    feedback = Feedback(
        id=new_id("fbk"),
        kind=FeedbackKind(terms.kind),
        text=terms.text,
        subscriber_id=principal.organisation_id,
        author_client_id=principal.client_id,
    )
    if terms.record_type is not None and terms.record_id is not None:
        try:
            record = records.read(session, principal, terms.record_type, terms.record_id)
        except ProblemError as problem:
            if problem.status not in (403, 404, 410):
                raise
            raise _not_yours(
                "/recordId", f"No {terms.record_type} '{terms.record_id}' that you may read."
            ) from None
        feedback.provider_id, feedback.service_id = record.provider_id, record.service_id
        feedback.record_pk, feedback.record_version = record.pk, record.version
    else:
        if terms.service_id is None or terms.period is None:
            raise ProblemError("validation_failed", "Name a record, or a service and period.")
        service = _covered_service(session, principal, terms.service_id)
        feedback.provider_id, feedback.service_id = service.provider_id, service.id
        feedback.period_start, feedback.period_end = terms.period
    session.add(feedback)
    session.flush()
    feed.lock(session)
    events.feedback_sent(session, feedback)
    return feedback


def _visible(session: Session, principal: Principal, feedback_id: str) -> Feedback:
    require_scope(principal, SCOPE)
    found = session.scalar(select(Feedback).where(Feedback.id == feedback_id))
    parties = {found.provider_id, found.subscriber_id} if found is not None else set()
    if found is None or principal.organisation_id not in parties:
        raise ProblemError("not_found", f"No feedback '{feedback_id}' of yours.")
    return found


def get(session: Session, principal: Principal, feedback_id: str) -> Feedback:
    return _visible(session, principal, feedback_id)


def reply(session: Session, principal: Principal, feedback_id: str, text: str) -> Feedback:
    feedback = _visible(session, principal, feedback_id)
    if feedback.provider_id != principal.organisation_id:
        raise ProblemError("forbidden", "Only the provider replies to feedback.")
    session.add(
        FeedbackReply(
            feedback_pk=feedback.pk,
            provider_id=principal.organisation_id,
            author_client_id=principal.client_id,
            text=text,
        )
    )
    session.flush()
    return feedback


def list_for(
    session: Session,
    principal: Principal,
    service_id: str | None,
    kind: str | None,
    page_size: int,
    page_token: str | None,
) -> tuple[list[Feedback], str | None]:
    """Feedback received (providers) or sent (subscribers), newest first, by keyset."""
    require_scope(principal, SCOPE)
    query_key = {"list": "feedback", "serviceId": service_id, "kind": kind}
    mine = (Feedback.provider_id == principal.organisation_id) | (
        Feedback.subscriber_id == principal.organisation_id
    )
    query = select(Feedback).where(mine)
    if service_id is not None:
        query = query.where(Feedback.service_id == service_id)
    if kind is not None:
        query = query.where(Feedback.kind == kind)
    page = paging.keyset(
        session, query, Feedback.pk, page_size, page_token, query_key, newest_first=True
    )
    return page.items, page.next_token


def feedback_dicts(session: Session, items: Sequence[Feedback]) -> list[FeedbackBody]:
    """The response shape of each, with its record and replies loaded for the page at once."""
    record_pks = {item.record_pk for item in items if item.record_pk is not None}
    named = {
        row.pk: (row.record_type, row.record_id)
        for row in session.execute(
            select(Record.pk, Record.record_type, Record.record_id).where(Record.pk.in_(record_pks))
        )
    }
    replies: dict[int, list[FeedbackReplyBody]] = {item.pk: [] for item in items}
    for reply_row in session.scalars(
        select(FeedbackReply)
        .where(FeedbackReply.feedback_pk.in_(list(replies)))
        .order_by(FeedbackReply.pk)
    ):
        replies[reply_row.feedback_pk].append(
            FeedbackReplyBody(
                text=reply_row.text,
                providerId=reply_row.provider_id,
                createdAt=timestamp(reply_row.created_at),
            )
        )
    return [_shape(item, named.get(item.record_pk or -1), replies[item.pk]) for item in items]


def feedback_dict(session: Session, feedback: Feedback) -> FeedbackBody:
    return feedback_dicts(session, [feedback])[0]


def _shape(
    feedback: Feedback, record: tuple[str, str] | None, replies: list[FeedbackReplyBody]
) -> FeedbackBody:
    period = (
        FeedbackPeriodBody(
            start=feedback.period_start.isoformat(), end=feedback.period_end.isoformat()
        )
        if feedback.period_start is not None and feedback.period_end is not None
        else None
    )
    return FeedbackBody(
        id=feedback.id,
        kind=feedback.kind,
        text=feedback.text,
        providerId=feedback.provider_id,
        serviceId=feedback.service_id,
        subscriberId=feedback.subscriber_id,
        recordType=record[0] if record is not None else None,
        recordId=record[1] if record is not None else None,
        recordVersion=feedback.record_version,
        period=period,
        createdAt=timestamp(feedback.created_at),
        replies=replies,
    )
