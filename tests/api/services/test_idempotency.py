"""Idempotency claims on both databases: refused while the holder works, taken over once it died.

The holder's work transaction is real and open on a connection of its own; "died" is the end of
that connection (PostgreSQL: its backend terminated; SQLite: the connection closed mid-
transaction, as a killed process's is), so the locks involved are the real ones.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.problems import ProblemError
from care_exchange_server.services import idempotency
from care_exchange_server.services.idempotency import Claim, StoredResponse
from care_exchange_server.storage import db
from care_exchange_server.storage.models import IdempotencyKey
from tests.api.conftest import POSTGRES_ADMIN_URL

ORG, KEY, HASH = "org-1", "key-1", "a" * 64
ANSWER = StoredResponse(201, '{"id":"x"}', {"content-type": "application/json"})


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


def claimed(sessions: sessionmaker[Session]) -> Claim:
    found = idempotency.claim(sessions, ORG, KEY, HASH)
    assert isinstance(found, Claim)
    return found


def refused_at_once(sessions: sessionmaker[Session], request_hash: str = HASH) -> ProblemError:
    started = time.monotonic()
    with pytest.raises(ProblemError) as refused:
        idempotency.claim(sessions, ORG, KEY, request_hash)
    # Well below SQLite's 30 s lock wait, and well above a loaded machine's round trips.
    assert time.monotonic() - started < 10.0, "a duplicate must not wait for the holder"
    return refused.value


def die(session: Session) -> None:
    """End the holder's connection mid-transaction, as the death of its process does."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    else:
        connection.connection.dbapi_connection.close()  # type: ignore[union-attr]


def test_a_new_key_is_claimed_and_its_answer_replayed(sessions: sessionmaker[Session]) -> None:
    claim = claimed(sessions)
    with sessions() as session, session.begin():
        assert idempotency.hold(session, claim)
        idempotency.store(session, claim, ANSWER)

    assert idempotency.claim(sessions, ORG, KEY, HASH) == ANSWER
    assert refused_at_once(sessions, "b" * 64).status == 422


def test_a_duplicate_of_a_request_at_work_is_refused_without_waiting(
    sessions: sessionmaker[Session],
) -> None:
    claim = claimed(sessions)
    with sessions() as holder, holder.begin():
        assert idempotency.hold(holder, claim)

        refused = refused_at_once(sessions)
        assert (refused.status, refused.code) == (409, "idempotency_in_progress")
        assert refused.headers["Retry-After"] == "1"
        assert refused_at_once(sessions, "b" * 64).status == 422

        idempotency.store(holder, claim, ANSWER)
    assert idempotency.claim(sessions, ORG, KEY, HASH) == ANSWER


def test_a_claim_whose_holder_died_is_taken_over_at_once(
    sessions: sessionmaker[Session],
) -> None:
    first = claimed(sessions)
    holder = sessions()
    holder.begin()
    assert idempotency.hold(holder, first)
    die(holder)
    with contextlib.suppress(Exception):
        holder.close()

    second = claimed(sessions)
    assert second.token != first.token
    with sessions() as session, session.begin():
        assert not idempotency.hold(session, first), "the dead holder's token is void"
    with sessions() as session, session.begin():
        assert idempotency.hold(session, second)
        idempotency.store(session, second, ANSWER)
    assert idempotency.claim(sessions, ORG, KEY, HASH) == ANSWER
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_a_holder_that_comes_late_stands_down(sessions: sessionmaker[Session]) -> None:
    """Between committing its claim and beginning its work a holder holds no lock: a duplicate
    may take over then, and the work is still done once, by the duplicate."""
    first = claimed(sessions)
    second = claimed(sessions)

    with sessions() as session, session.begin():
        assert not idempotency.hold(session, first)
    with sessions() as session, session.begin():
        assert idempotency.hold(session, second)


def test_release_frees_only_its_own_claim(sessions: sessionmaker[Session]) -> None:
    first = claimed(sessions)
    second = claimed(sessions)
    idempotency.release(sessions, first)
    with sessions() as session, session.begin():
        assert idempotency.hold(session, second)
    idempotency.release(sessions, second)
    third = claimed(sessions)
    with sessions() as session, session.begin():
        assert idempotency.hold(session, third)
