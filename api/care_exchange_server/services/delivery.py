"""The database side of webhook delivery: claiming work, and recording how it went.

A worker claims subscriptions with something due (the next events, or a heartbeat) by leasing
them for a while, commits, delivers without holding any transaction, renews the leases of what
it is still delivering, then records each subscription's outcome as soon as it has one. A worker
that dies mid-batch records nothing: its leases are taken over and the events it may have
delivered are delivered again, with the same `webhook-id`. Nothing is ever dropped; receivers
deduplicate. Each subscription's events go one at a time, in sequence order, and a failure stops
that subscription's batch, so a receiver sees sequences without gaps.

A lease ends at `lease_until`, and on PostgreSQL also when its holder dies: a worker holds a
session advisory lock for as long as it lives (`HolderLock`), its leases name the lock's key, and
a lease whose key nobody holds any more is taken over at once. The server releases the lock the
moment the worker's connection closes, which a killed process's kernel does for it; only a host
that vanishes without closing its sockets leaves its leases to run out. SQLite has no such
witness, so there a dead worker's leases last until `lease_until`, kept short by renewal.

Claims use `FOR UPDATE SKIP LOCKED` so that several workers share the work on PostgreSQL; on
SQLite the single writer does the same.

Retries follow the configured schedule as a timeline from the first failure of the current
streak: without `Retry-After`, the next attempt is at the schedule's next point on it; with one,
when the receiver asked (within a day). The subscription goes to `error` only when the streak has
both lasted the schedule's whole span and had as many attempts as the schedule has, so a receiver
asking for quick retries cannot spend a day's budget in seconds, and one asking for slow ones
still gets every attempt it was promised.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    and_,
    cast,
    column,
    func,
    or_,
    select,
    table,
    text,
    type_coerce,
)
from sqlalchemy.orm import Session

from care_exchange_server.services import event_bodies, receipts
from care_exchange_server.services.event_bodies import Rendered
from care_exchange_server.settings import Settings
from care_exchange_server.storage.enums import SubscriptionChannel, SubscriptionStatus
from care_exchange_server.storage.models import Subscription, SubscriptionEvent
from care_exchange_server.storage.types import UTCDateTime, utcnow

REASON_GONE = "The receiver answered 410 Gone on {at}; deliveries are disabled until resumed."
REASON_ERROR = (
    "Event {sequence} failed {attempts} times over {lasted:.1f} s, the last on {at}: {message}"
)
LOCK_NAMESPACE = 0x43455857  # "CEXW": the first key of every worker's advisory lock
_pg_locks = table(
    "pg_locks",
    column("locktype"),
    column("database"),
    column("classid"),
    column("objid"),
    column("objsubid"),
    column("granted"),
)
_pg_database = table("pg_database", column("oid"), column("datname"))


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
    beat: bool = False


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


class HolderLock:
    """A worker's proof of life on PostgreSQL: a session advisory lock on a connection of its own.

    Its key goes into every lease the worker takes; other workers take over a lease whose key no
    session holds. On SQLite there is nothing to hold and `key` stays None.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.key: int | None = None
        self._connection: Connection | None = None

    def acquire(self) -> int | None:
        if self.engine.dialect.name != "postgresql":
            return None
        self.release()
        connection = self.engine.connect()
        try:
            while True:
                key = random.randrange(1, 2**31)
                taken = connection.execute(
                    text("SELECT pg_try_advisory_lock(:namespace, :key)"),
                    {"namespace": LOCK_NAMESPACE, "key": key},
                ).scalar_one()
                connection.commit()
                if taken:
                    break
        except Exception:
            connection.close()
            raise
        self._connection, self.key = connection, key
        return key

    def held(self) -> bool:
        """Whether the lock is still ours: its connection still answers."""
        if self._connection is None:
            return self.engine.dialect.name != "postgresql"
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except Exception:
            self.release()
            return False
        return True

    def release(self) -> None:
        connection, self._connection, self.key = self._connection, None, None
        if connection is None:
            return
        try:
            connection.invalidate()
        finally:
            connection.close()


def _holder_gone() -> ColumnElement[bool]:
    """On PostgreSQL: the lease's holder no longer holds its advisory lock (it died)."""
    live = select(cast(_pg_locks.c.objid, BigInteger)).where(
        _pg_locks.c.locktype == "advisory",
        _pg_locks.c.database
        == select(_pg_database.c.oid)
        .where(_pg_database.c.datname == func.current_database())
        .scalar_subquery(),
        cast(_pg_locks.c.classid, BigInteger) == LOCK_NAMESPACE,
        _pg_locks.c.objsubid == 2,
        _pg_locks.c.granted,
    )
    return and_(Subscription.lease_key.is_not(None), Subscription.lease_key.not_in(live))


def claim(
    session: Session,
    worker_id: str,
    settings: Settings,
    limit: int | None = None,
    exclude: Collection[int] = (),
    lease_key: int | None = None,
) -> list[int]:
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
    free = [Subscription.lease_until.is_(None), Subscription.lease_until < now]
    if session.get_bind().dialect.name == "postgresql":
        free.append(_holder_gone())
    query = select(Subscription).where(
        Subscription.channel == SubscriptionChannel.WEBHOOK,
        Subscription.status == SubscriptionStatus.ACTIVE,
        or_(*free),
        or_(backlog, idle),
    )
    if exclude:
        query = query.where(Subscription.pk.not_in(list(exclude)))
    due = list(
        session.scalars(
            query.order_by(Subscription.pk)
            .limit(settings.worker_claim_size if limit is None else limit)
            .with_for_update(skip_locked=True)
        )
    )
    lease_until = now + timedelta(seconds=settings.worker_lease_seconds)
    for subscription in due:
        subscription.leased_by, subscription.lease_until = worker_id, lease_until
        subscription.lease_key = lease_key
    session.flush()
    return [subscription.pk for subscription in due]


def renew(
    session: Session, worker_id: str, leased: Collection[int], settings: Settings
) -> set[int]:
    """Extend this worker's leases on `leased`; returns those it still holds.

    Rows are locked in pk order, as event writers lock them, so the two never deadlock.
    """
    if not leased:
        return set()
    now = database_now(session)
    held = list(
        session.scalars(
            select(Subscription)
            .where(Subscription.pk.in_(list(leased)), Subscription.leased_by == worker_id)
            .order_by(Subscription.pk)
            .with_for_update()
        )
    )
    lease_until = now + timedelta(seconds=settings.worker_lease_seconds)
    for subscription in held:
        subscription.lease_until = lease_until
    session.flush()
    return {subscription.pk for subscription in held}


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
        if s.channel == SubscriptionChannel.WEBHOOK and s.secret is not None
    ]


def _noted(subscription: Subscription, failure: Failure, now: datetime) -> None:
    subscription.last_error = failure.message
    subscription.last_error_status = failure.status
    subscription.last_error_at = now


def _next_delay(delays: Sequence[float], attempts: int, lasted: float) -> float:
    """Without `Retry-After`: the wait until the schedule's next point after `lasted` seconds.

    Points are the schedule's delays after the first, added up from the streak's first failure;
    past the last, a streak that still owes attempts goes on at the schedule's pace.
    """
    for point in accumulate(delays[1:]):
        if point > lasted:
            return point - lasted
    return delays[min(attempts, len(delays) - 1)]


def _failed(
    subscription: Subscription, failure: Failure, settings: Settings, now: datetime
) -> None:
    """Count a failed attempt at the first undelivered event; schedule the next, or give up.

    A streak starts when `attempts` is 0 (after a delivery, and after the owner resumes the
    subscription), so `failing_since` needs no resetting elsewhere.
    """
    _noted(subscription, failure, now)
    at = now.isoformat().replace("+00:00", "Z")
    if failure.gone:
        subscription.status = SubscriptionStatus.DISABLED
        subscription.status_reason = REASON_GONE.format(at=at)
        subscription.next_attempt_at = None
        return
    if subscription.attempts == 0 or subscription.failing_since is None:
        subscription.failing_since = now
    subscription.attempts += 1
    delays = settings.webhook_retry_delays_seconds
    lasted = max((now - subscription.failing_since).total_seconds(), 0.0)
    if subscription.attempts >= len(delays) and lasted >= sum(delays[1:]):
        subscription.status = SubscriptionStatus.ERROR
        subscription.status_reason = REASON_ERROR.format(
            sequence=subscription.delivered_sequence + 1,
            attempts=subscription.attempts,
            lasted=lasted,
            at=at,
            message=failure.message,
        )
        subscription.next_attempt_at = None
        return
    delay = failure.retry_after
    if delay is None:
        delay = _next_delay(delays, subscription.attempts, lasted)
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
            subscription.failing_since = None
        if outcome.beat:
            subscription.last_contact_at = now
        if subscription.leased_by != worker_id:
            continue
        failure = outcome.failure
        if failure is not None and (failure.gone or outcome.work.events):
            _failed(subscription, failure, settings, now)
        elif failure is not None:
            _noted(subscription, failure, now)
        subscription.leased_by = subscription.lease_until = subscription.lease_key = None
    if received:
        receipts.write(session, received)
    session.flush()
