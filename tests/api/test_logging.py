"""One JSON log line per request, with its request id, and never a token or a secret."""

from __future__ import annotations

import json
import logging

import pytest

from care_exchange_server.middleware import JsonFormatter
from tests.api.world import World, example_record


def test_one_json_line_per_request_without_secrets(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="care_exchange.requests")
    party = world["provider"]
    world.client.post(
        "/oauth/token",
        auth=(party.client_id, party.secret),
        data={"grant_type": "client_credentials"},
    )
    response = world.call(
        "provider",
        "POST",
        "/v1/records/capacity-snapshot",
        json=example_record("capacity-snapshot", "svc-p1"),
        headers={"X-Request-ID": "trace-123"},
    )
    assert response.headers["x-request-id"] == "trace-123"
    lines = [
        JsonFormatter().format(r) for r in caplog.records if r.name == "care_exchange.requests"
    ]
    entries = [json.loads(line) for line in lines]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/oauth/token", 200),
        ("POST", "/v1/records/capacity-snapshot", 201),
    ]
    assert entries[1]["request_id"] == "trace-123" and entries[1]["client_id"] == party.client_id
    text = "\n".join(lines) + caplog.text
    assert party.secret not in text and party.token not in text


def test_an_unsafe_request_id_is_replaced(world: World) -> None:
    response = world.call(None, "GET", "/", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32
