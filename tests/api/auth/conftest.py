"""Fixtures for the OAuth tests: a session factory, a client key, and registered clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.auth.clients import create_client
from tests.api.auth.helpers import Registered, add_organisation, add_probe_routes
from tests.api.conftest import ISSUER


@pytest.fixture
def sessions(app: FastAPI) -> sessionmaker[Session]:
    """Sessions that take SQLite's write lock only when they write, so a test holding one open
    does not block the server it calls (the server's own writers lock at BEGIN)."""
    factory: sessionmaker[Session] = app.state.read_sessions
    return factory


@pytest.fixture(scope="session")
def client_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True)


MakeClient = Callable[..., Registered]


@pytest.fixture
def make_client(sessions: sessionmaker[Session], client_key: RSAKey) -> MakeClient:
    def make(
        scopes: list[str] | None = None,
        *,
        organisation_id: str | None = None,
        kind: str = "provider",
        jwt_auth: bool = False,
    ) -> Registered:
        organisation_id = organisation_id or add_organisation(sessions, kind)
        wanted = scopes or ["capacity-snapshot:read", "capacity-snapshot:publish", "services"]
        with sessions() as session:
            if jwt_auth:
                jwks = {"keys": [client_key.as_dict(private=False)]}
                client, secret = create_client(
                    session, organisation_id, "test", wanted, "private_key_jwt", jwks
                )
            else:
                client, secret = create_client(
                    session, organisation_id, "test", wanted, "client_secret_basic"
                )
            session.commit()
            return Registered(
                client_id=client.client_id,
                organisation_id=organisation_id,
                secret=secret,
                key=client_key if jwt_auth else None,
                scopes=wanted,
            )

    return make


@pytest.fixture
def probe_client(app: FastAPI) -> Iterator[TestClient]:
    """A test client for the app with the test-only protected routes added."""
    add_probe_routes(app)
    with TestClient(app, base_url=ISSUER) as test_client:
        yield test_client
