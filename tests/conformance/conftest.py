"""The reference server on a real socket, seeded with the demo, for the suite to check.

The database fixtures are the server tests' own, so the suite runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from care_exchange_conformance.config import Config, Party
from care_exchange_server.app import create_app, dispose
from care_exchange_server.demo import SERVICES, DemoClient, seed
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import transaction
from care_exchange_testing.live_server import bound_socket, live_server
from tests.api.conftest import database_url, postgres_server  # noqa: F401  (fixtures)

Variant = Callable[[FastAPI], None]
Serve = Callable[..., AbstractContextManager[Config]]


@pytest.fixture
def serve_reference(database_url: str) -> Serve:  # noqa: F811
    """Serve the reference server, changed by `variant` if given; yields the suite's Config."""

    @contextmanager
    def serve(variant: Variant | None = None) -> Iterator[Config]:
        listener = bound_socket()
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings = Settings(
            database_url=database_url, issuer=base_url, webhook_allowed_hosts=["127.0.0.1/32"]
        )
        app = create_app(settings)
        try:
            sessions = app.state.sessions
            with transaction(sessions) as session:
                made = _seed(session)
            if variant is not None:
                variant(app)
            with live_server(app, listener=listener):
                provider, commissioner, other = made
                yield Config(
                    base_url=base_url,
                    publisher=Party(provider.client_id, provider.secret),
                    service_id=SERVICES[0],
                    subscriber=Party(commissioner.client_id, commissioner.secret),
                    outsider=Party(other.client_id, other.secret),
                )
        finally:
            dispose(app)

    return serve


def _seed(session: Session) -> list[DemoClient]:
    made = seed(session)
    assert made is not None
    return made
