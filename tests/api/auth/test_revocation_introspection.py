"""Revocation (RFC 7009) through the jti deny list; introspection (RFC 7662) per organisation."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.settings import Settings
from care_exchange_server.storage.models import RevokedToken
from tests.api.auth.conftest import MakeClient
from tests.api.auth.helpers import PROBE_PATH, assertion, assertion_form, get_token


def _auth(registered_secret: str | None, client_id: str) -> tuple[str, str]:
    return client_id, registered_secret or ""


def test_revoked_token_is_inactive_and_refused(
    probe_client: TestClient, make_client: MakeClient, sessions: sessionmaker[Session]
) -> None:
    client = probe_client
    registered = make_client()
    auth = _auth(registered.secret, registered.client_id)
    token = get_token(client, registered)
    active = client.post("/oauth/introspect", data={"token": token}, auth=auth).json()
    assert active["active"] is True
    assert active["org"] == registered.organisation_id
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get(PROBE_PATH, headers=bearer).status_code == 200

    revoked = client.post("/oauth/revoke", data={"token": token}, auth=auth)
    assert revoked.status_code == 200
    assert revoked.content == b""
    assert client.post("/oauth/introspect", data={"token": token}, auth=auth).json() == {
        "active": False
    }
    with sessions() as session:
        assert session.scalars(select(RevokedToken.jti)).all() == [active["jti"]]
    refused = client.get(PROBE_PATH, headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="care-exchange", error="invalid_token", '
        'error_description="The token has been revoked."'
    )
    # Revoking twice is still fine.
    assert client.post("/oauth/revoke", data={"token": token}, auth=auth).status_code == 200


def test_unknown_or_garbage_tokens_revoke_with_200(
    client: TestClient, make_client: MakeClient
) -> None:
    registered = make_client()
    auth = _auth(registered.secret, registered.client_id)
    for token in ("not-a-token", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
        response = client.post("/oauth/revoke", data={"token": token}, auth=auth)
        assert response.status_code == 200
    missing = client.post("/oauth/revoke", data={}, auth=auth)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


def test_revocation_needs_client_authentication(
    client: TestClient, make_client: MakeClient
) -> None:
    token = get_token(client, make_client())
    response = client.post("/oauth/revoke", data={"token": token})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    response = client.post("/oauth/revoke", data={"token": token}, auth=("cx-none", "bad"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="care-exchange"'


def test_another_organisation_cannot_revoke(client: TestClient, make_client: MakeClient) -> None:
    owner = make_client()
    stranger = make_client()
    token = get_token(client, owner)
    response = client.post(
        "/oauth/revoke", data={"token": token}, auth=_auth(stranger.secret, stranger.client_id)
    )
    assert response.status_code == 200
    still = client.post(
        "/oauth/introspect", data={"token": token}, auth=_auth(owner.secret, owner.client_id)
    )
    assert still.json()["active"] is True


def test_same_organisation_client_may_revoke(client: TestClient, make_client: MakeClient) -> None:
    first = make_client()
    second = make_client(organisation_id=first.organisation_id)
    token = get_token(client, first)
    client.post("/oauth/revoke", data={"token": token}, auth=_auth(second.secret, second.client_id))
    answer = client.post(
        "/oauth/introspect", data={"token": token}, auth=_auth(first.secret, first.client_id)
    )
    assert answer.json() == {"active": False}


def test_introspection_across_organisations_is_inactive(
    client: TestClient, make_client: MakeClient
) -> None:
    owner = make_client()
    stranger = make_client()
    token = get_token(client, owner)
    answer = client.post(
        "/oauth/introspect",
        data={"token": token},
        auth=_auth(stranger.secret, stranger.client_id),
    )
    assert answer.status_code == 200
    assert answer.json() == {"active": False}


def test_admin_client_may_introspect_any_token(client: TestClient, make_client: MakeClient) -> None:
    owner = make_client()
    admin = make_client(["admin"], kind="administrator")
    admin_scope_elsewhere = make_client(["admin"], kind="provider")
    token = get_token(client, owner)
    seen = client.post(
        "/oauth/introspect", data={"token": token}, auth=_auth(admin.secret, admin.client_id)
    ).json()
    assert seen["active"] is True
    assert seen["client_id"] == owner.client_id
    assert set(seen) == {
        "active",
        "token_type",
        "scope",
        "client_id",
        "sub",
        "org",
        "exp",
        "iat",
        "iss",
        "aud",
        "jti",
    }
    not_admin = client.post(
        "/oauth/introspect",
        data={"token": token},
        auth=_auth(admin_scope_elsewhere.secret, admin_scope_elsewhere.client_id),
    ).json()
    assert not_admin == {"active": False}


def test_introspection_with_private_key_jwt(
    client: TestClient, make_client: MakeClient, settings: Settings
) -> None:
    jwt_client = make_client(jwt_auth=True)
    signed = assertion(jwt_client, settings.token_endpoint)
    token = client.post(
        "/oauth/token", data=assertion_form(signed, grant_type="client_credentials")
    ).json()["access_token"]
    again = assertion(jwt_client, settings.token_endpoint)
    answer = client.post("/oauth/introspect", data=assertion_form(again, token=token))
    assert answer.status_code == 200
    assert answer.json()["active"] is True
    garbage = assertion(jwt_client, settings.token_endpoint)
    answer = client.post("/oauth/introspect", data=assertion_form(garbage, token="nonsense"))
    assert answer.json() == {"active": False}
