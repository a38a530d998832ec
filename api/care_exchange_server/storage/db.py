"""Engines and sessions; SQLite gets the pragmas that make it a safe single-file store."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(database_url: str, *, reading: bool = False) -> Engine:
    """An engine for the URL; the SQLite file's folder is created on first use.

    A `reading` engine runs each statement on its own (autocommit), in a pool of its own: no read
    needs a snapshot across statements, a reader never takes SQLite's write lock, and on
    PostgreSQL BEGIN and ROLLBACK would cost two round trips per request. (Setting the isolation
    level per checkout on a shared pool costs more than a second pool.)
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            execution_options={"read_only": reading},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, isolation_level="AUTOCOMMIT") if reading else create_engine(url)
    event.listen(engine, "checkin", _mark_idle)
    event.listen(engine, "checkout", _ping_if_doubtful)
    return engine


def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_doubtful(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Check a connection before handing it out, with a round trip only when there is a reason.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip per request. A connection
    the server ended (terminated, restarted, crashed) has the server's farewell or end of file
    waiting on its socket, which one non-blocking poll sees at no cost; one that sat idle may have
    been dropped silently on the way, and gets a ping, as HikariCP does. Raising
    DisconnectionError makes the pool connect afresh: the request never sees the dead connection.
    """
    idle_since = record.info.get("idle_since")
    idle = idle_since is not None and time.monotonic() - idle_since >= PING_AFTER_IDLE_SECONDS
    if not idle and not _has_unread_input(dbapi_connection):
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        raise exc.DisconnectionError("a pooled connection no longer answers") from error


def _has_unread_input(dbapi_connection: Any) -> bool:
    """Whether the server sent something to a connection nobody is using: usually its end."""
    try:
        descriptor = dbapi_connection.fileno()
    except Exception:
        return True  # already closed
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([descriptor], [], [], 0)[0])


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # the driver's own implicit BEGIN breaks savepoints
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Begin explicitly, taking SQLite's one write lock at once, unless told the work only reads.

    Two writers then queue (busy_timeout) instead of one failing on a stale snapshot.
    """
    if connection.get_execution_options().get("read_only"):
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions keeping loaded values after commit, for the response."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together or not at all."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def rolled_back(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is always undone: a dry run meets every check a write would."""
    with factory() as session, session.begin() as work:
        yield session
        work.rollback()
