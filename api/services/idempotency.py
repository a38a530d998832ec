"""Idempotency keys with Stripe's semantics.

Replay the first response, refuse a changed request, refuse a concurrent duplicate, and never
leave a key stuck by a crash.

The claim on a key is committed before the work starts, so a concurrent duplicate sees it and is
told 409; the work and its stored response commit together, so a replay is exactly what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.problems import ProblemError
from api.storage.models import IdempotencyKey
from api.storage.types import utcnow

ABANDONED_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class StoredResponse:
    """What a replay sends back: the first response, byte for byte."""

    status: int
    body: str
    headers: dict[str, str]


def claim(
    sessions: sessionmaker[Session], organisation_id: str, key: str, request_hash: str
) -> StoredResponse | None:
    """Take the key for this request, or return the response stored for it.

    Raises 422 when the key was used with a different request, 409 while another request with the
    key is still being processed.
    """
    with sessions() as session:
        try:
            with session.begin():
                session.add(
                    IdempotencyKey(
                        organisation_id=organisation_id, key=key, request_hash=request_hash
                    )
                )
            return None
        except IntegrityError:
            pass
        with session.begin():
            row = session.get(IdempotencyKey, (organisation_id, key))
            if row is None:
                raise ProblemError(409, "idempotency_in_progress", "Retry the request.")
            if row.request_hash != request_hash:
                raise ProblemError(
                    422,
                    "idempotency_key_reused",
                    "This Idempotency-Key was first used with a different request.",
                )
            if row.status is not None:
                return StoredResponse(
                    row.status, row.response_body or "", row.response_headers or {}
                )
            if utcnow() - row.created_at < ABANDONED_AFTER or not _take_over(session, row):
                raise ProblemError(
                    409,
                    "idempotency_in_progress",
                    "A request with this Idempotency-Key is still being processed; retry later.",
                    headers={"Retry-After": "1"},
                )
            return None


def _take_over(session: Session, row: IdempotencyKey) -> bool:
    """Claim a key whose first request died before answering; only one retry can win it."""
    taken = session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.organisation_id == row.organisation_id,
            IdempotencyKey.key == row.key,
            IdempotencyKey.created_at == row.created_at,
            IdempotencyKey.status.is_(None),
        )
        .values(created_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return getattr(taken, "rowcount", 0) == 1


def store(session: Session, organisation_id: str, key: str, response: StoredResponse) -> None:
    """Record the response, in the same transaction as the work that produced it."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.organisation_id == organisation_id, IdempotencyKey.key == key)
        .values(
            status=response.status, response_body=response.body, response_headers=response.headers
        )
        .execution_options(synchronize_session=False)
    )


def release(sessions: sessionmaker[Session], organisation_id: str, key: str) -> None:
    """Forget a claim whose request failed unexpectedly, so the client may simply retry."""
    with sessions() as session, session.begin():
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.organisation_id == organisation_id,
                IdempotencyKey.key == key,
                IdempotencyKey.status.is_(None),
            )
        )


def prune(session: Session, retention: timedelta) -> int:
    """Delete keys older than the retention window; returns how many went."""
    gone = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - retention)
    )
    return int(getattr(gone, "rowcount", 0))
