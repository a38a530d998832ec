"""Engines: pooled PostgreSQL connections that died while idle are replaced, not handed out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import exc, text

from api.storage import db
from tests.api.conftest import POSTGRES_ADMIN_URL, fresh_postgres_database


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database: only a server connection can be lost while idle."""
    yield from fresh_postgres_database(postgres_server)


def _kill_pooled_connection(engine_pid: int) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (engine_pid,))


@pytest.mark.parametrize("reading", [False, True])
def test_an_idle_connection_killed_by_the_server_is_replaced(
    postgres_url: str, reading: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.make_engine(postgres_url, reading=reading)
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        _kill_pooled_connection(pid)
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        with engine.connect() as connection:
            fresh = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert fresh != pid
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the trade: a busy pool pays no round trip per checkout."""
    engine = db.make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        _kill_pooled_connection(pid)
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
        with pytest.raises(exc.OperationalError), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


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
