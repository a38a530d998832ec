"""The database side of webhook delivery: claiming work, and recording how it went.

A worker claims subscriptions with something due (the next events, or a heartbeat) by leasing
them for a while, commits, delivers without holding any transaction, then records the outcome.
A worker that dies mid-batch records nothing: its lease runs out and the events it may have
delivered are delivered again, with the same `webhook-id`. Nothing is ever dropped; receivers
deduplicate. Each subscription's events go one at a time, in sequence order, and a failure stops
that subscription's batch, so a receiver sees sequences without gaps.

Claims use `FOR UPDATE SKIP LOCKED` so that several workers share the work on PostgreSQL; on
SQLite the single writer does the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, type_coerce
from sqlalchemy.orm import Session

from api.services import event_bodies, receipts, subscriptions
from api.services.event_bodies import Rendered
from api.settings import Settings
from api.storage.models import AccessReceipt, Subscription, SubscriptionEvent
from api.storage.types import UTCDateTime, utcnow

REASON_GONE = "The receiver answered 410 Gone on {at}; deliveries are disabled until resumed."
REASON_ERROR = "Event {sequence} failed {attempts} times, the last on {at}: {message}"


@dataclass(frozen=True)
class Work:
    """One leased subscription: its next events in order, or a heartbeat."""

    subscription_pk: int
    subscription_id: str
    organisation_id: str
    url: str
    secrets: tuple[str, ...]
    events: tuple[Rendered, ...]
    heartbeat: tuple[str, bytes] | None = None


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed: the receiver's status, if it answered, and when to try again."""

    message: str
    status: int | None = None
    retry_after: float | None = None

    @property
    def gone(self) -> bool:
        return self.status == 410


@dataclass
class Outcome:
    """What happened to one piece of work: the events delivered, in order, then any failure."""

    work: Work
    delivered: list[Rendered] = field(default_factory=list)
    failure: Failure | None = None


def _secrets(subscription: Subscription, now: datetime) -> tuple[str, ...]:
    assert subscription.secret is not None
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret is not None and expires is not None and now < expires:
        return (subscription.secret, subscription.previous_secret)
    return (subscription.secret,)


def database_now(session: Session) -> datetime:
    """The database's clock on PostgreSQL, so that leases mean the same to every worker host."""
    if session.get_bind().dialect.name != "postgresql":
        return utcnow()
    now: datetime = session.execute(select(type_coerce(func.now(), UTCDateTime()))).scalar_one()
    return now


def claim(session: Session, worker_id: str, settings: Settings) -> list[int]:
    """Lease what is due and return the leased subscriptions' pks; commit before rendering.

    The rows stay locked only for this short transaction: publishers wait for them while
    holding the feed's lock, so nothing slow may happen under it.
    """
    now = database_now(session)
    heartbeat_before = now - timedelta(seconds=settings.webhook_heartbeat_seconds)
    backlog = and_(
        Subscription.delivered_sequence < Subscription.last_sequence,
        or_(Subscription.next_attempt_at.is_(None), Subscription.next_attempt_at <= now),
    )
    idle = and_(
        Subscription.delivered_sequence >= Subscription.last_sequence,
        func.coalesce(Subscription.last_contact_at, Subscription.created_at) < heartbeat_before,
    )
    due = list(
        session.scalars(
            select(Subscription)
            .where(
                Subscription.channel == subscriptions.WEBHOOK,
                Subscription.status == subscriptions.ACTIVE,
                or_(Subscription.lease_until.is_(None), Subscription.lease_until < now),
                or_(backlog, idle),
            )
            .order_by(Subscription.pk)
            .limit(settings.worker_claim_size)
            .with_for_update(skip_locked=True)
        )
    )
    lease_until = now + timedelta(seconds=settings.worker_lease_seconds)
    for subscription in due:
        subscription.leased_by, subscription.lease_until = worker_id, lease_until
    session.flush()
    return [subscription.pk for subscription in due]


def prepare(session: Session, leased: Sequence[int], settings: Settings, today: date) -> list[Work]:
    """The leased subscriptions' next events (or heartbeats), rendered and ready to sign."""
    now = database_now(session)
    found = list(
        session.scalars(
            select(Subscription).where(Subscription.pk.in_(leased)).order_by(Subscription.pk)
        )
    )
    pending = [s for s in found if s.delivered_sequence < s.last_sequence]
    events: dict[Subscription, list[SubscriptionEvent]] = {s: [] for s in pending}
    by_pk = {s.pk: s for s in pending}
    if pending:
        rows = session.scalars(
            select(SubscriptionEvent)
            .join(Subscription, Subscription.pk == SubscriptionEvent.subscription_pk)
            .where(
                Subscription.pk.in_(list(by_pk)),
                SubscriptionEvent.sequence > Subscription.delivered_sequence,
                SubscriptionEvent.sequence
                <= Subscription.delivered_sequence + settings.worker_events_per_claim,
            )
            .order_by(SubscriptionEvent.subscription_pk, SubscriptionEvent.sequence)
        )
        for row in rows:
            events[by_pk[row.subscription_pk]].append(row)
    rendered = event_bodies.render(session, settings.issuer, events, today)
    return [
        Work(
            subscription_pk=s.pk,
            subscription_id=s.id,
            organisation_id=s.organisation_id,
            url=s.url or "",
            secrets=_secrets(s, now),
            events=tuple(rendered.get(s.pk, ())),
            heartbeat=None if s.pk in rendered else event_bodies.heartbeat(settings.issuer, s),
        )
        for s in found
        if s.channel == subscriptions.WEBHOOK and s.secret is not None
    ]


def _noted(subscription: Subscription, failure: Failure, now: datetime) -> None:
    subscription.last_error = failure.message
    subscription.last_error_status = failure.status
    subscription.last_error_at = now


def _failed(
    subscription: Subscription, failure: Failure, settings: Settings, now: datetime
) -> None:
    _noted(subscription, failure, now)
    at = now.isoformat().replace("+00:00", "Z")
    if failure.gone:
        subscription.status = subscriptions.DISABLED
        subscription.status_reason = REASON_GONE.format(at=at)
        subscription.next_attempt_at = None
        return
    subscription.attempts += 1
    delays = settings.webhook_retry_delays_seconds
    if subscription.attempts >= len(delays):
        subscription.status = subscriptions.ERROR
        subscription.status_reason = REASON_ERROR.format(
            sequence=subscription.delivered_sequence + 1,
            attempts=subscription.attempts,
            at=at,
            message=failure.message,
        )
        subscription.next_attempt_at = None
        return
    delay = (
        failure.retry_after if failure.retry_after is not None else delays[subscription.attempts]
    )
    subscription.next_attempt_at = now + timedelta(seconds=delay)


def record(
    session: Session, worker_id: str, outcomes: Sequence[Outcome], settings: Settings
) -> None:
    """Move each subscription on past what was delivered, schedule retries, release leases.

    Rows are locked in pk order, as event writers lock them, so the two never deadlock.
    """
    now = database_now(session)
    outcomes = sorted(outcomes, key=lambda outcome: outcome.work.subscription_pk)
    found = {
        s.pk: s
        for s in session.scalars(
            select(Subscription)
            .where(Subscription.pk.in_([o.work.subscription_pk for o in outcomes]))
            .order_by(Subscription.pk)
            .with_for_update()
        )
    }
    received: list[dict[str, object]] = []
    for outcome in outcomes:
        received += [
            receipts.row(
                outcome.work.organisation_id, e.received, e.agreement_id, receipts.WEBHOOK, now
            )
            for e in outcome.delivered
            if e.received is not None and e.agreement_id is not None
        ]
        subscription = found.get(outcome.work.subscription_pk)
        if subscription is None:
            continue
        if outcome.delivered:
            last = outcome.delivered[-1].sequence
            subscription.delivered_sequence = max(subscription.delivered_sequence, last)
            subscription.last_delivered_at = subscription.last_contact_at = now
            subscription.attempts, subscription.next_attempt_at = 0, None
        if outcome.work.heartbeat is not None:
            subscription.last_contact_at = now
        if subscription.leased_by != worker_id:
            continue
        failure = outcome.failure
        if failure is not None and (failure.gone or outcome.work.events):
            _failed(subscription, failure, settings, now)
        elif failure is not None:
            _noted(subscription, failure, now)
        subscription.leased_by = subscription.lease_until = None
    if received:
        session.execute(insert(AccessReceipt), received)
    session.flush()
