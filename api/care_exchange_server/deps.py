"""FastAPI dependencies shared by the routes: settings, a database session, the caller."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_read_sessions(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.read_sessions
    return sessions


def get_session(request: Request) -> Iterator[Session]:
    """The read session of a route that only reads: autocommit, closed after the response.

    Every write runs through `routes.common.in_transaction` (or `run_post`, which adds
    idempotency keys to it): one transaction per request, committed on success and rolled back
    on error, defined once in `storage.db.transaction`. The hottest read fuses authentication
    and the read in one threadpool hop (`routes.common.as_reader`).
    """
    with request.app.state.read_sessions() as session:
        yield session
