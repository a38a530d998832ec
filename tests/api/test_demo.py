"""The README's walkthrough, run against the seeded demo through the real token endpoint."""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from care_exchange_conformance.config import Party, load
from care_exchange_server.auth.tokens import InvalidTokenError, decode_access_token
from care_exchange_server.demo import (
    PROVIDER,
    SECOND_PROVIDER,
    SERVICES,
    expired_token,
    seed,
    write_conformance_config,
)
from care_exchange_server.storage.db import transaction
from tests.conftest import EXAMPLES


def test_walkthrough(app: FastAPI, client: TestClient) -> None:
    with transaction(app.state.sessions) as session:
        made = seed(session)
    assert made is not None
    tokens = []
    for party in made:
        response = client.post(
            "/oauth/token",
            auth=(party.client_id, party.secret),
            data={"grant_type": "client_credentials"},
        )
        tokens.append({"Authorization": f"Bearer {response.json()['access_token']}"})
    provider, commissioner, other, _ = tokens
    subscription = client.post(
        "/v1/subscriptions",
        json={"types": ["capacity-snapshot"], "channel": {"type": "pull"}},
        headers=commissioner,
    )
    assert subscription.status_code == 201, subscription.text
    record = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())
    published = client.post("/v1/records/capacity-snapshot", json=record, headers=provider)
    assert published.status_code == 201, published.text
    path = f"/v1/records/capacity-snapshot/{record['id']}"
    assert client.get(path, headers=commissioner).json()["data"] == record
    assert client.get(path, headers=other).status_code == 404
    feed = client.get("/v1/feed/capacity-snapshot", headers=commissioner).json()
    assert [(item["id"], item["state"]) for item in feed["items"]] == [(record["id"], "updated")]
    assert client.get("/v1/feed/capacity-snapshot", headers=other).json()["items"] == []
    events = client.get(
        f"/v1/subscriptions/{subscription.json()['id']}/events", headers=commissioner
    ).json()
    assert [(e["type"], e["data"]["id"]) for e in events["items"]] == [
        ("org.careexchange.record.updated", record["id"])
    ]
    said = {"kind": "impact", "text": "It changed a placement.", "recordType": "capacity-snapshot"}
    sent = client.post(
        "/v1/feedback", json={**said, "recordId": record["id"]}, headers=commissioner
    )
    assert sent.status_code == 201, sent.text
    received = client.get("/v1/feedback", headers=provider).json()["items"]
    assert [item["id"] for item in received] == [sent.json()["id"]]


def test_the_demo_configures_the_conformance_suite(
    app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file `care-exchange run` writes is one the suite reads, with the demo's three roles."""
    with transaction(app.state.sessions) as session:
        made = seed(session)
        assert made is not None
        expired = expired_token(session, app.state.settings, made[0].client_id)
    monkeypatch.chdir(tmp_path)
    written = write_conformance_config("http://127.0.0.1:8000", made, expired)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    config = load(written)
    provider, commissioner, other, second = made
    assert config.base_url == "http://127.0.0.1:8000"
    assert config.publisher == Party(provider.client_id, provider.secret)
    assert config.subscriber == Party(commissioner.client_id, commissioner.secret)
    assert config.outsider == Party(other.client_id, other.secret)
    assert config.second_publisher == Party(second.client_id, second.secret)
    assert config.service_id == SERVICES[0]
    assert config.expired_token == expired


def test_the_demos_expired_token_is_genuine_and_refused_only_for_its_age(app: FastAPI) -> None:
    """Signed with the server's key for the provider's client, so only its `exp` is wrong."""
    with transaction(app.state.sessions) as session:
        made = seed(session)
        assert made is not None
        expired = expired_token(session, app.state.settings, made[0].client_id)
        with pytest.raises(InvalidTokenError, match="expired"):
            decode_access_token(session, app.state.settings, expired)
    claims = json.loads(base64.urlsafe_b64decode(expired.split(".")[1] + "=="))
    assert claims["client_id"] == made[0].client_id
    assert claims["exp"] < time.time() < claims["exp"] + 120


def test_the_demos_providers_have_directory_entries_that_returns_read(
    app: FastAPI, client: TestClient
) -> None:
    """So that a demo ASC-WDS return shows the employer type (a private company: 6)."""
    with transaction(app.state.sessions) as session:
        made = seed(session)
    assert made is not None
    provider, commissioner, _, second = (
        {"Authorization": f"Bearer {token(client, party.client_id, party.secret)}"}
        for party in made
    )
    for headers, organisation in ((provider, PROVIDER), (second, SECOND_PROVIDER)):
        entry = client.get("/v1/organisations/me/directory-entry", headers=headers)
        assert entry.status_code == 200, entry.text
        assert (entry.json()["id"], entry.json()["organisationType"]) == (
            organisation,
            "private-company",
        )
    path = "/v1/return-templates/asc-wds-workplace-bulk-upload/returns"
    query = {"serviceId": SERVICES[0], "period": "2026-10-31"}
    for headers in (provider, commissioner):
        filled = client.get(path, params=query, headers=headers)
        assert filled.status_code == 200, filled.text
        fields = {item["code"]: item for item in filled.json()["fields"]}
        assert (fields["ESTTYPE"]["status"], fields["ESTTYPE"]["value"]) == ("value", "6")


def token(client: TestClient, client_id: str, secret: str) -> str:
    response = client.post(
        "/oauth/token", auth=(client_id, secret), data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200, response.text
    found: str = response.json()["access_token"]
    return found
