"""Helpers for the OAuth tests: organisations, assertions, token requests."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.auth.dependencies import current_principal, scoped
from care_exchange_server.auth.principal import Principal
from care_exchange_server.scopes import require_scope
from care_exchange_server.settings import Settings
from care_exchange_server.storage.models import Client, Organisation


@dataclass
class Registered:
    """A client as the tests know it: its id, and its secret or private key."""

    client_id: str
    organisation_id: str
    secret: str | None = None
    key: RSAKey | None = None
    scopes: list[str] = field(default_factory=list)


def add_organisation(sessions: sessionmaker[Session], kind: str = "provider") -> str:
    organisation_id = f"org-{uuid.uuid4().hex[:8]}"
    with sessions() as session:
        session.add(Organisation(id=organisation_id, name=f"{kind} {organisation_id}", kind=kind))
        session.commit()
    return organisation_id


def assertion(
    registered: Registered,
    audience: str,
    *,
    lifetime: int | None = 120,
    jti: str | None = None,
    **extra: Any,
) -> str:
    """A signed RFC 7523 client assertion built independently of the server's code."""
    assert registered.key is not None
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": registered.client_id,
        "sub": registered.client_id,
        "aud": audience,
        "iat": now,
        "jti": jti or uuid.uuid4().hex,
    }
    if lifetime is not None:
        claims["exp"] = now + lifetime
    claims.update(extra)
    header = {"alg": "RS256", "kid": registered.key.kid}
    return jwt.encode(header, claims, registered.key)


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def assertion_form(signed: str, **form: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed, **form}


def get_token(client: TestClient, registered: Registered, scope: str | None = None) -> str:
    """A token through the real endpoint, with Basic authentication."""
    assert registered.secret is not None
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    response = client.post(
        "/oauth/token", data=form, auth=(registered.client_id, registered.secret)
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def client_row(sessions: sessionmaker[Session], client_id: str) -> Client:
    with sessions() as session:
        row = session.get(Client, client_id)
        assert row is not None
        return row


def settings_of(app: FastAPI) -> Settings:
    settings: Settings = app.state.settings
    return settings


PROBE_PATH = "/test-only/probe"
PROBE_ADMIN_PATH = "/test-only/admin"


def add_probe_routes(app: FastAPI) -> None:
    """Test-only routes that exercise `current_principal` and `require_scope` over HTTP."""

    @app.get(PROBE_PATH)
    def probe(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> dict[str, Any]:
        require_scope(principal, "services")
        return {
            "clientId": principal.client_id,
            "organisationId": principal.organisation_id,
            "kind": principal.organisation_kind,
            "scopes": sorted(principal.scopes),
            "logged": request.scope["state"].get("client_id"),
        }

    @app.get(PROBE_ADMIN_PATH)
    def admin_only(principal: Annotated[Principal, Depends(scoped("admin"))]) -> dict[str, str]:
        return {"clientId": principal.client_id}
