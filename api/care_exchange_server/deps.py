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
    """A reading session for the request, closed afterwards.

    Writes go through `get_write_session` or the threadpool helpers in `routes.common`.
    """
    with request.app.state.read_sessions() as session:
        yield session


def get_write_session(request: Request) -> Iterator[Session]:
    """A session for a route that writes; the route commits."""
    with request.app.state.sessions() as session:
        yield session
