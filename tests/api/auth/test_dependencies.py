"""`current_principal` and `require_scope` over HTTP, with the exact RFC 6750 challenges."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from care_exchange_server.middleware import JsonFormatter
from tests.api.auth.conftest import MakeClient
from tests.api.auth.helpers import PROBE_ADMIN_PATH, PROBE_PATH, get_token


def test_missing_token_gets_a_bare_challenge(probe_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = probe_client.get(PROBE_PATH, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="care-exchange"'
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_token"


def test_invalid_token_gets_error_and_description(probe_client: TestClient) -> None:
    response = probe_client.get(PROBE_PATH, headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="care-exchange", error="invalid_token", '
        'error_description="The token is malformed."'
    )
    assert response.json()["detail"] == "The token is malformed."


def test_valid_token_reaches_the_route(probe_client: TestClient, make_client: MakeClient) -> None:
    registered = make_client()
    token = get_token(probe_client, registered)
    response = probe_client.get(PROBE_PATH, headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body["clientId"] == registered.client_id
    assert body["organisationId"] == registered.organisation_id
    assert body["logged"] == registered.client_id
    assert body["scopes"] == sorted(registered.scopes)


def test_missing_scope_is_403_with_scope_challenge(
    probe_client: TestClient, make_client: MakeClient
) -> None:
    registered = make_client(["capacity-snapshot:read", "services"])
    token = get_token(probe_client, registered, scope="capacity-snapshot:read")
    response = probe_client.get(PROBE_PATH, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="services"'
    )
    assert response.json()["code"] == "insufficient_scope"
    admin = probe_client.get(PROBE_ADMIN_PATH, headers={"Authorization": f"Bearer {token}"})
    assert admin.status_code == 403
    assert admin.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="admin"'


def test_request_log_has_the_client_id_but_no_token(
    probe_client: TestClient, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    registered = make_client()
    token = get_token(probe_client, registered)
    with caplog.at_level(logging.DEBUG):
        probe_client.get(PROBE_PATH, headers={"Authorization": f"Bearer {token}"})
        probe_client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(registered.client_id, registered.secret or ""),
        )
    lines = [JsonFormatter().format(record) for record in caplog.records]
    requests = [json.loads(line) for line in lines if '"message": "request"' in line]
    assert any(entry.get("client_id") == registered.client_id for entry in requests)
    text = "\n".join(lines) + caplog.text
    assert token not in text
    assert registered.secret and registered.secret not in text
    assert "eyJ" not in text
