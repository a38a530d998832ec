"""Idempotency keys with Stripe's semantics.

Replay the first response, refuse a changed request, refuse a concurrent duplicate, and never
leave a key stuck by a crash.

The claim on a key is committed before the work starts, so a duplicate sees it. The claim row's
`created_at` is the holder's token: the work's transaction begins by re-asserting it (`hold`),
which locks the row (PostgreSQL; on SQLite the work holds the one write lock anyway) until the
work and its stored response commit together, or until the transaction dies with its process or
connection. A duplicate that finds the claim unanswered tries that lock without waiting: taken,
the holder is at work and the duplicate is told 409; free, the holder is gone (or not started),
so the duplicate takes the claim over with a new token and a holder that comes late finds its
token changed and stands down. So a crashed request's key is free the moment the database knows
its connection is gone, and only the request holding the current token ever commits the work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.problems import ProblemError
from care_exchange_server.storage.models import IdempotencyKey
from care_exchange_server.storage.types import utcnow

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
_LOCK_NOT_AVAILABLE = "55P03"
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class StoredResponse:
    """What a replay sends back: the first response, byte for byte."""

    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Claim:
    """The right to do a keyed request's work, for as long as the row still holds `token`."""

    organisation_id: str
    key: str
    token: datetime


def in_progress() -> ProblemError:
    return ProblemError(
        "idempotency_in_progress",
        "A request with this Idempotency-Key is still being processed; retry later.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def claim(
    sessions: sessionmaker[Session], organisation_id: str, key: str, request_hash: str
) -> Claim | StoredResponse:
    """Take the key for this request, or return the response stored for it.

    Raises 422 when the key was used with a different request, 409 while another request with the
    key is being processed. On SQLite the key is looked up before inserting: the insert waits for
    the write lock, which a live holder keeps while it works, and a duplicate must not wait.
    """
    sqlite = _dialect(sessions) == "sqlite"
    row = _read(sessions, organisation_id, key) if sqlite else None
    if row is None:
        token = utcnow()
        try:
            with sessions() as session, session.begin():
                session.add(
                    IdempotencyKey(
                        organisation_id=organisation_id,
                        key=key,
                        request_hash=request_hash,
                        created_at=token,
                    )
                )
            return Claim(organisation_id, key, token)
        except IntegrityError:
            row = _read(sessions, organisation_id, key)
    if row is None:  # released by a failed holder since the insert failed
        raise in_progress()
    _check(row, request_hash)
    if row.status is not None:
        return _replay(row)
    return _take_over(sessions, organisation_id, key, request_hash, sqlite=sqlite)


def hold(session: Session, claim: Claim) -> bool:
    """Re-assert the claim first thing in the work's transaction, locking it until the end.

    False when another request has taken the claim over: it does the work, this one must not.
    A lock, not an update: a duplicate's insert would wait for an updated row, not a locked one.
    """
    held = session.execute(
        select(IdempotencyKey.key)
        .where(_is(claim), IdempotencyKey.status.is_(None))
        .with_for_update()
    ).first()
    return held is not None


def store(session: Session, claim: Claim, response: StoredResponse) -> None:
    """Record the response, in the same transaction as the work, after `hold`."""
    session.execute(
        update(IdempotencyKey)
        .where(_is(claim))
        .values(
            status=response.status, response_body=response.body, response_headers=response.headers
        )
        .execution_options(synchronize_session=False)
    )


def release(sessions: sessionmaker[Session], claim: Claim) -> None:
    """Forget a claim whose request failed unexpectedly, so that a retry starts afresh.

    Best effort: when the database is what failed, the claim stays, unlocked, and the retry takes
    it over at once; the failure that matters is the one the request is already raising.
    """
    try:
        with sessions() as session, session.begin():
            session.execute(
                delete(IdempotencyKey).where(_is(claim), IdempotencyKey.status.is_(None))
            )
    except SQLAlchemyError as error:
        log.warning("an idempotency claim was left for a retry to take over: %s", error)


def prune(session: Session, retention: timedelta) -> int:
    """Delete keys older than the retention window; returns how many went."""
    gone = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - retention)
    )
    return int(getattr(gone, "rowcount", 0))


def _take_over(
    sessions: sessionmaker[Session],
    organisation_id: str,
    key: str,
    request_hash: str,
    *,
    sqlite: bool,
) -> Claim | StoredResponse:
    """Claim a key whose holder is not at work, or refuse with 409 if it is, without waiting.

    PostgreSQL: the holder's row lock, tried with NOWAIT. SQLite: the one write lock, tried with
    no busy wait; another writer may hold it too, and that also answers 409, for a moment.
    """
    with sessions() as session:
        if sqlite:
            _begin_without_waiting(session)
        else:
            session.begin()
        try:
            row = session.scalars(
                select(IdempotencyKey)
                .where(IdempotencyKey.organisation_id == organisation_id, IdempotencyKey.key == key)
                .with_for_update(nowait=True)
            ).one_or_none()
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                raise in_progress() from None
            raise
        if row is None:
            raise in_progress()
        _check(row, request_hash)
        if row.status is not None:
            return _replay(row)
        row.created_at = token = max(utcnow(), row.created_at + _TICK)  # never the old token
        session.commit()
        return Claim(organisation_id, key, token)


def _begin_without_waiting(session: Session) -> None:
    """Take SQLite's write lock now or raise 409; the session then commits or rolls it back."""
    connection = session.connection(execution_options={"read_only": True})
    (wait_ms,) = connection.exec_driver_sql("PRAGMA busy_timeout").one()
    connection.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError:
        raise in_progress() from None
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(wait_ms)}")


def _read(sessions: sessionmaker[Session], organisation_id: str, key: str) -> IdempotencyKey | None:
    """The key's row as last committed, read without taking any lock."""
    with sessions() as session:
        session.connection(execution_options={"read_only": True})
        return session.get(IdempotencyKey, (organisation_id, key))


def _check(row: IdempotencyKey, request_hash: str) -> None:
    if row.request_hash != request_hash:
        raise ProblemError(
            "idempotency_key_reused",
            "This Idempotency-Key was first used with a different request.",
        )


def _replay(row: IdempotencyKey) -> StoredResponse:
    return StoredResponse(row.status or 0, row.response_body or "", row.response_headers or {})


def _is(claim: Claim) -> ColumnElement[bool]:
    return and_(
        IdempotencyKey.organisation_id == claim.organisation_id,
        IdempotencyKey.key == claim.key,
        IdempotencyKey.created_at == claim.token,
    )


def _dialect(sessions: sessionmaker[Session]) -> str:
    bind = sessions.kw["bind"]
    return str(bind.dialect.name)
