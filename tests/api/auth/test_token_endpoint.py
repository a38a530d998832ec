"""POST /oauth/token: client credentials with Basic and private_key_jwt, and every refusal."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
    OAuth2Client,
    OAuthError,
)
from authlib.oauth2.rfc7523 import PrivateKeyJWT  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.auth.clients import disable_client
from care_exchange_server.settings import Settings
from care_exchange_testing.live_server import live_server
from tests.api.auth.conftest import MakeClient
from tests.api.auth.helpers import assertion, assertion_form

GRANT = {"grant_type": "client_credentials"}


def test_basic_auth_issues_an_rfc9068_token(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client()
    assert registered.secret is not None
    response = client.post(
        "/oauth/token", data=GRANT, auth=(registered.client_id, registered.secret)
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.access_token_lifetime_seconds
    assert body["scope"].split() == registered.scopes
    header = jwt.decode(
        body["access_token"], KeySet.import_key_set(client.get("/jwks.json").json())
    ).header
    assert header["typ"] == "at+jwt"
    assert header["kid"]


def test_token_verifies_against_the_served_jwks(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client()
    token = client.post(
        "/oauth/token", data=GRANT, auth=(registered.client_id, registered.secret or "")
    ).json()["access_token"]
    document = client.get("/jwks.json")
    assert document.status_code == 200
    assert all("d" not in key for key in document.json()["keys"])
    decoded = jwt.decode(token, KeySet.import_key_set(document.json()), algorithms=["RS256"])
    claims = decoded.claims
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.audience},
    ).validate(claims)
    assert claims["sub"] == claims["client_id"] == registered.client_id
    assert claims["org"] == registered.organisation_id
    assert claims["exp"] - claims["iat"] == settings.access_token_lifetime_seconds
    assert claims["jti"]


def test_private_key_jwt_issues_a_token(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client(jwt_auth=True)
    signed = assertion(registered, settings.token_endpoint)
    response = client.post("/oauth/token", data=assertion_form(signed, **GRANT))
    assert response.status_code == 200, response.text
    assert response.json()["scope"].split() == registered.scopes


def test_replayed_assertion_is_refused(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client(jwt_auth=True)
    signed = assertion(registered, settings.token_endpoint)
    assert client.post("/oauth/token", data=assertion_form(signed, **GRANT)).status_code == 200
    replay = client.post("/oauth/token", data=assertion_form(signed, **GRANT))
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


def test_an_assertion_spent_on_a_refused_request_stays_spent(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    """The jti is written in the request's own transaction, which commits an OAuth error too."""
    registered = make_client(jwt_auth=True)
    signed = assertion(registered, settings.token_endpoint)
    refused = client.post("/oauth/token", data=assertion_form(signed, **GRANT, scope="admin"))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    replay = client.post("/oauth/token", data=assertion_form(signed, **GRANT))
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


def test_a_concurrent_replay_gets_no_second_token(
    app: FastAPI, make_client: MakeClient, settings: Settings
) -> None:
    """Two servers' worth of concurrency on one assertion: one token, the rest refused."""
    registered = make_client(jwt_auth=True)
    form = assertion_form(assertion(registered, settings.token_endpoint), **GRANT)
    with live_server(app, loops=2) as url, ThreadPoolExecutor(6) as pool:
        statuses = sorted(
            pool.map(lambda _: httpx.post(f"{url}/oauth/token", data=form).status_code, range(6))
        )
    assert statuses == [200, 401, 401, 401, 401, 401]


def test_assertion_with_wrong_audience_is_refused(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client(jwt_auth=True)
    for audience in (settings.issuer, "https://elsewhere.example/oauth/token"):
        signed = assertion(registered, audience)
        response = client.post("/oauth/token", data=assertion_form(signed, **GRANT))
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"


def test_assertion_without_exp_is_refused(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client(jwt_auth=True)
    signed = assertion(registered, settings.token_endpoint, lifetime=None)
    response = client.post("/oauth/token", data=assertion_form(signed, **GRANT))
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "The client assertion has no exp claim.",
    }


def test_assertion_expiring_too_far_ahead_is_refused(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client(jwt_auth=True)
    lifetime = settings.client_assertion_max_lifetime_seconds + 300
    signed = assertion(registered, settings.token_endpoint, lifetime=lifetime)
    response = client.post("/oauth/token", data=assertion_form(signed, **GRANT))
    assert response.status_code == 401
    assert "too far ahead" in response.json()["error_description"]


def test_expired_assertion_is_refused(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client(jwt_auth=True)
    signed = assertion(registered, settings.token_endpoint, lifetime=-600)
    response = client.post("/oauth/token", data=assertion_form(signed, **GRANT))
    assert response.status_code == 401


def test_assertion_signed_with_another_key_is_refused(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    from joserfc.jwk import RSAKey

    registered = make_client(jwt_auth=True)
    stranger = RSAKey.generate_key(2048, parameters={"alg": "RS256"}, auto_kid=True)
    forged = jwt.encode(
        {"alg": "RS256", "kid": registered.key.kid if registered.key else ""},
        {
            "iss": registered.client_id,
            "sub": registered.client_id,
            "aud": settings.token_endpoint,
            "exp": 2_000_000_000,
            "jti": "x",
        },
        stranger,
    )
    response = client.post("/oauth/token", data=assertion_form(forged, **GRANT))
    assert response.status_code == 401


def test_wrong_secret_is_401_with_basic_challenge(
    client: TestClient, make_client: MakeClient
) -> None:
    registered = make_client()
    response = client.post("/oauth/token", data=GRANT, auth=(registered.client_id, "wrong"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="care-exchange"'
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed.",
    }


def test_unknown_client_looks_like_a_wrong_secret(client: TestClient) -> None:
    response = client.post("/oauth/token", data=GRANT, auth=("cx-nobody", "whatever"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="care-exchange"'
    assert response.json()["error_description"] == "Client authentication failed."


def test_no_credentials_is_invalid_client(client: TestClient) -> None:
    response = client.post("/oauth/token", data=GRANT)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_secret_basic_client_cannot_use_an_assertion_and_vice_versa(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    jwt_client = make_client(jwt_auth=True)
    response = client.post("/oauth/token", data=GRANT, auth=(jwt_client.client_id, "anything"))
    assert response.status_code == 401


def test_disabled_client_cannot_get_tokens(
    client: TestClient, make_client: MakeClient, sessions: sessionmaker[Session]
) -> None:
    registered = make_client()
    with sessions() as session:
        disable_client(session, registered.client_id)
        session.commit()
    response = client.post(
        "/oauth/token", data=GRANT, auth=(registered.client_id, registered.secret or "")
    )
    assert response.status_code == 401


def test_requested_scope_must_be_a_subset(client: TestClient, make_client: MakeClient) -> None:
    registered = make_client(["capacity-snapshot:read", "services"])
    auth = (registered.client_id, registered.secret or "")
    narrowed = client.post("/oauth/token", data={**GRANT, "scope": "services"}, auth=auth)
    assert narrowed.status_code == 200
    assert narrowed.json()["scope"] == "services"
    token = narrowed.json()["access_token"]
    introspected = client.post("/oauth/introspect", data={"token": token}, auth=auth).json()
    assert introspected["scope"] == "services"
    refused = client.post("/oauth/token", data={**GRANT, "scope": "services admin"}, auth=auth)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    assert "admin" in refused.json()["error_description"]
    odd = client.post("/oauth/token", data={**GRANT, "scope": 'x"\\y'}, auth=auth)
    assert odd.status_code == 400
    assert odd.json()["error"] == "invalid_scope"


def test_unsupported_and_missing_grant_types(client: TestClient, make_client: MakeClient) -> None:
    registered = make_client()
    auth = (registered.client_id, registered.secret or "")
    response = client.post("/oauth/token", data={"grant_type": "password"}, auth=auth)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    response = client.post("/oauth/token", data={}, auth=auth)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_repeated_parameters_and_two_auth_methods_are_invalid_requests(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client()
    auth = (registered.client_id, registered.secret or "")
    repeated = client.post(
        "/oauth/token",
        content="grant_type=client_credentials&scope=services&scope=services",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=auth,
    )
    assert repeated.status_code == 400
    assert repeated.json()["error"] == "invalid_request"
    jwt_client = make_client(jwt_auth=True)
    signed = assertion(jwt_client, settings.token_endpoint)
    basic = base64.b64encode(f"{registered.client_id}:{registered.secret}".encode()).decode()
    both = client.post(
        "/oauth/token",
        data=assertion_form(signed, **GRANT),
        headers={"Authorization": f"Basic {basic}"},
    )
    assert both.status_code == 400
    assert both.json()["error"] == "invalid_request"


def test_metadata_names_this_issuer(client: TestClient, settings: Settings) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == settings.issuer
    assert metadata["token_endpoint"] == f"{settings.issuer}/oauth/token"
    assert metadata["revocation_endpoint"] == f"{settings.issuer}/oauth/revoke"
    assert metadata["introspection_endpoint"] == f"{settings.issuer}/oauth/introspect"
    assert metadata["jwks_uri"] == f"{settings.issuer}/jwks.json"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "private_key_jwt",
    ]
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert "admin" in metadata["scopes_supported"]


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """The subclass docs/authentication.md gives vendors: a fresh, short `exp` per assertion."""

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        self.claims = {"exp": int(time.time()) + 300}
        return super().sign(auth, token_endpoint)


def _authlib_client(client: TestClient, registered: Any, method: Any) -> OAuth2Client:
    assert registered.key is not None
    return OAuth2Client(
        client_id=registered.client_id,
        client_secret=registered.key.as_dict(private=True),
        token_endpoint_auth_method=method,
        transport=client._transport,
        base_url=str(client.base_url),
    )


def test_authlibs_stock_assertion_is_refused_with_the_fix_named(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client(jwt_auth=True)
    stock = _authlib_client(client, registered, PrivateKeyJWT(settings.token_endpoint))
    with pytest.raises(OAuthError) as refused:
        stock.fetch_token(settings.token_endpoint, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"
    assert "at most 300 seconds" in str(refused.value.description)
    assert "docs/authentication.md" in str(refused.value.description)


def test_the_documented_authlib_client_gets_tokens_again_and_again(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    registered = make_client(jwt_auth=True)
    fixed = _authlib_client(client, registered, ShortLivedPrivateKeyJWT(settings.token_endpoint))
    for _ in range(2):  # a fresh jti each time, so the second is not a replay
        token = fixed.fetch_token(settings.token_endpoint, grant_type="client_credentials")
        assert token["token_type"].lower() == "bearer"
