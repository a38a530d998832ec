"""Engines: pooled PostgreSQL connections that died while idle are replaced, not handed out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from care_exchange_server.storage import db
from tests.api.conftest import POSTGRES_ADMIN_URL, fresh_postgres_database


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database: only a server connection can be lost while idle."""
    yield from fresh_postgres_database(postgres_server)


def _kill_pooled_connection(engine_pid: int) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (engine_pid,))


@pytest.mark.parametrize(
    ("reading", "ping_after"),
    [(False, 0.0), (True, 0.0), (False, 3600.0), (True, 3600.0)],
    ids=["idle-writer", "idle-reader", "busy-writer", "busy-reader"],
)
def test_a_connection_killed_by_the_server_is_replaced(
    postgres_url: str, reading: bool, ping_after: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle, it is pinged; used a moment ago, the server's goodbye waiting on its socket is seen
    at checkout without a ping, however busy the pool."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", ping_after)
    engine = db.make_engine(postgres_url, reading=reading)
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        _kill_pooled_connection(pid)
        with engine.connect() as connection:
            fresh = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert fresh != pid
    finally:
        engine.dispose()


def test_a_healthy_connection_used_a_moment_ago_costs_no_round_trip(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the trade: a busy pool pays no ping per checkout."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = db.make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        before = _last_statement_start(pid)
        with engine.connect() as connection:
            assert _last_statement_start(pid) == before
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
    finally:
        engine.dispose()


def _last_statement_start(pid: int) -> object:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT query_start FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
    assert row is not None
    return row[0]


def _in_transaction(dbapi_connection: Any) -> bool:
    if isinstance(dbapi_connection, psycopg.Connection):
        return dbapi_connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    return bool(dbapi_connection.in_transaction)


def test_reading_engines_leave_no_transaction_open(database_url: str) -> None:
    """Readers hold neither a snapshot nor SQLite's lock between statements; writers do."""
    reading, writing = db.make_engine(database_url, reading=True), db.make_engine(database_url)
    try:
        with writing.connect() as writer, reading.connect() as reader:
            writer.execute(text("SELECT 1"))
            reader.execute(text("SELECT 1"))
            assert _in_transaction(writer.connection.dbapi_connection)
            assert not _in_transaction(reader.connection.dbapi_connection)
    finally:
        reading.dispose()
        writing.dispose()
