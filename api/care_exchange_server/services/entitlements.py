"""The one writer of entitlements: agreements and delegations start, change state and end here.

What an organisation may see follows from the agreements it holds as a subscriber and the
delegations it holds as a vendor. Its feed, and through the feed its subscriptions' events, must
follow every change of those in the same transaction, or a grant stays unseen until the next
publish and a revoked agreement leaves its records in the feed. Each function here makes the
change and brings the feed in line, so no caller can do one without the other: the agreement
and directory services (after their own checks of who may, and of the terms), the worker and
the feed's reader closing lapsed agreements, and the seeding of the demo, the test world and
the benchmarks.

Each change is flushed before `feed.entitlements_changed` takes the counter's lock and decides
what the organisation sees now, so that decision is made under the lock, as every feed writer's
is (see `services.feed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from care_exchange_server.problems import ProblemError
from care_exchange_server.services import feed
from care_exchange_server.services.ids import new_id
from care_exchange_server.storage.enums import AgreementStatus
from care_exchange_server.storage.models import Agreement, Delegation
from care_exchange_server.storage.types import utcnow


@dataclass(frozen=True)
class AgreementTerms:
    """What an agreement covers and why; the parties come from the caller and the request."""

    record_types: list[str]
    service_ids: list[str] | None
    purpose: str
    legal_basis: str
    end_date: date | None


def _follow(session: Session, organisation_ids: Iterable[str], today: date) -> None:
    session.flush()
    feed.entitlements_changed(session, organisation_ids, today)


def _agreement(
    session: Session,
    provider_id: str,
    subscriber_id: str,
    terms: AgreementTerms,
    status: AgreementStatus,
    statutory: bool,
    agreement_id: str | None,
) -> Agreement:
    agreement = Agreement(
        id=agreement_id or new_id("agr"),
        provider_id=provider_id,
        subscriber_id=subscriber_id,
        record_types=terms.record_types,
        service_ids=terms.service_ids,
        purpose=terms.purpose,
        legal_basis=terms.legal_basis,
        end_date=terms.end_date,
        statutory=statutory,
        status=status,
        decided_at=utcnow() if status == AgreementStatus.ACTIVE else None,
    )
    session.add(agreement)
    session.flush()
    return agreement


def grant(
    session: Session,
    provider_id: str,
    subscriber_id: str,
    terms: AgreementTerms,
    *,
    statutory: bool = False,
    agreement_id: str | None = None,
) -> Agreement:
    """An agreement in force from now: a provider's grant or an administrator's statutory one.

    Seeding uses it too, with a fixed `agreement_id` where tests name the agreement.
    """
    agreement = _agreement(
        session,
        provider_id,
        subscriber_id,
        terms,
        AgreementStatus.ACTIVE,
        statutory,
        agreement_id,
    )
    _follow(session, [subscriber_id], date.today())
    return agreement


def request(
    session: Session,
    provider_id: str,
    subscriber_id: str,
    terms: AgreementTerms,
    *,
    agreement_id: str | None = None,
) -> Agreement:
    """A subscriber's request: nobody sees anything more until the provider accepts it."""
    return _agreement(
        session,
        provider_id,
        subscriber_id,
        terms,
        AgreementStatus.REQUESTED,
        False,
        agreement_id,
    )


def decide(session: Session, agreement: Agreement, accept: bool) -> None:
    """Accept or decline a request; only a request can be decided, and only once."""
    if agreement.status != AgreementStatus.REQUESTED:
        raise ProblemError("conflict", f"The agreement is {agreement.status}, not requested.")
    agreement.status = AgreementStatus.ACTIVE if accept else AgreementStatus.DECLINED
    agreement.decided_at = utcnow()
    session.flush()
    if accept:
        _follow(session, [agreement.subscriber_id], date.today())


def revoke(session: Session, agreement: Agreement) -> None:
    """End an agreement (or withdraw a request) now; what it let the subscriber see leaves."""
    if agreement.status not in (AgreementStatus.ACTIVE, AgreementStatus.REQUESTED):
        raise ProblemError("conflict", f"The agreement is already {agreement.status}.")
    agreement.status = AgreementStatus.REVOKED
    agreement.revoked_at = utcnow()
    _follow(session, [agreement.subscriber_id], date.today())


def _lapsed(today: date) -> ColumnElement[bool]:
    """Agreements still marked active whose end date has passed."""
    return and_(Agreement.status == AgreementStatus.ACTIVE, Agreement.end_date < today)


def has_lapsed(session: Session, subscriber_id: str, today: date) -> bool:
    """Whether the subscriber holds an agreement still marked active past its end date."""
    query = select(Agreement.id).where(_lapsed(today), Agreement.subscriber_id == subscriber_id)
    return session.execute(query.limit(1)).first() is not None


def close_lapsed(session: Session, today: date, subscriber_id: str | None = None) -> None:
    """Mark agreements past their end date `expired` and remove their records from feeds.

    Nothing needs a job to stop a lapsed agreement granting anything (every read checks the end
    date); this brings the stored status and the feeds in line, when the worker sweeps or the
    subscriber next reads its feed. The changes of every subscriber go out in one write, so
    subscription rows are locked once, in one order, as every other writer locks them.
    `FOR NO KEY UPDATE` leaves the agreements free for rows that only reference them (access
    receipts) meanwhile.
    """
    query = select(Agreement).where(_lapsed(today))
    if subscriber_id is not None:
        query = query.where(Agreement.subscriber_id == subscriber_id)
    lapsed = list(session.scalars(query.with_for_update(key_share=True)))
    if not lapsed:
        return
    for agreement in lapsed:
        agreement.status = AgreementStatus.EXPIRED
    _follow(session, {agreement.subscriber_id for agreement in lapsed}, today)


def delegate(
    session: Session,
    provider_id: str,
    vendor_id: str,
    service_ids: list[str] | None,
    *,
    delegation_id: str | None = None,
) -> Delegation:
    """Let a vendor publish for some or (None) all of a provider's services, now and future."""
    delegation = Delegation(
        id=delegation_id or new_id("dlg"),
        provider_id=provider_id,
        vendor_id=vendor_id,
        service_ids=service_ids,
    )
    session.add(delegation)
    _follow(session, [vendor_id], date.today())
    return delegation


def revoke_delegation(session: Session, delegation: Delegation) -> None:
    """End a delegation now; revoking one already revoked changes nothing."""
    if delegation.revoked_at is not None:
        return
    delegation.revoked_at = utcnow()
    _follow(session, [delegation.vendor_id], date.today())
