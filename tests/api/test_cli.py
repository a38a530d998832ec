"""The server's commands: migrations, administration (JSON out, secrets once) and the demo."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from care_exchange_server.cli import LOOPBACK, _demo_settings
from care_exchange_server.demo import (
    COMMISSIONER,
    OTHER,
    PROVIDER,
    SECOND_PROVIDER,
    seed,
    walkthrough,
)
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import make_engine, session_factory, transaction
from care_exchange_server.storage.models import Client, IdempotencyKey
from care_exchange_server.storage.types import utcnow
from care_exchange_standard.command import build

app = build()

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CARE_EXCHANGE_DATABASE_URL", database_url)
    return database_url


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output + str(result.exception)
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_admin_commands_print_json_and_show_a_secret_once(env: str) -> None:
    org = cli(
        "admin", "org-create", "--name", "Acme Care", "--kind", "provider", "--id", "org-acme"
    )
    assert org == {"id": "org-acme", "name": "Acme Care", "kind": "provider"}
    made = cli(
        "admin",
        "client-create",
        "--org",
        "org-acme",
        "--name",
        "acme app",
        "--scope",
        "capacity-snapshot:publish",
        "--scope",
        "services",
    )
    assert made["scopes"] == ["capacity-snapshot:publish", "services"]
    secret = made["clientSecret"]
    listed = cli("admin", "client-list")
    assert [c["clientId"] for c in listed] == [made["clientId"]]
    assert "clientSecret" not in listed[0]
    engine = make_engine(env)
    with transaction(session_factory(engine)) as session:
        row = session.get_one(Client, made["clientId"])
        assert row.secret_hash and secret not in row.secret_hash
    engine.dispose()
    expired = runner.invoke(app, ["admin", "expired-token", made["clientId"]])
    assert expired.exit_code == 0, expired.output
    claims = json.loads(base64.urlsafe_b64decode(expired.stdout.split(".")[1] + "=="))
    assert claims["client_id"] == made["clientId"] and claims["exp"] < time.time()
    disabled = cli("admin", "client-disable", made["clientId"])
    assert disabled["clientId"] == made["clientId"]
    assert disabled["disabledAt"] is not None
    assert cli("admin", "client-list") == [disabled]


def test_admin_mistakes_are_one_line_errors(env: str) -> None:
    result = runner.invoke(app, ["admin", "org-create", "--name", "X", "--kind", "pirate"])
    assert result.exit_code == 2
    assert "kind must be one of" in result.stderr
    unknown = runner.invoke(
        app, ["admin", "client-create", "--org", "nobody", "--name", "x", "--scope", "admin"]
    )
    assert unknown.exit_code == 2 and "unknown organisation" in unknown.stderr
    nobody = runner.invoke(app, ["admin", "expired-token", "nobody"])
    assert nobody.exit_code == 2 and nobody.stderr == "care-exchange admin: no client 'nobody'\n"


def test_key_rotation_publishes_old_and_new_keys(env: str) -> None:
    first = cli("keys", "rotate")
    second = cli("keys", "rotate")
    assert len(second["keys"]) == len(first["keys"]) + 1
    assert {k["kid"] for k in first["keys"]} < {k["kid"] for k in second["keys"]}


def test_demo_seeds_once_and_its_walkthrough_names_its_credentials(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        made = seed(session)
    with transaction(sessions) as session:
        assert seed(session) is None
    engine.dispose()
    assert made is not None
    assert [c.organisation for c in made] == [PROVIDER, COMMISSIONER, OTHER, SECOND_PROVIDER]
    text = walkthrough("http://127.0.0.1:8000", made)
    for party in made[:3]:
        assert f"{party.client_id}:{party.secret}" in text
    second = made[3]
    assert f"client_id={second.client_id} client_secret={second.secret}" in text
    assert "/v1/records/capacity-snapshot" in text


def test_prune_deletes_only_keys_past_retention(env: str) -> None:
    engine = make_engine(env)
    sessions = session_factory(engine)
    now = utcnow()
    with transaction(sessions) as session:
        for key, age in (("old", timedelta(hours=25)), ("new", timedelta(hours=23))):
            session.add(
                IdempotencyKey(
                    organisation_id="org", key=key, request_hash="h", created_at=now - age
                )
            )
    assert cli("db", "prune") == {"idempotencyKeysDeleted": 1, "subscriptionEventsDeleted": 0}
    with transaction(sessions) as session:
        assert [row.key for row in session.scalars(select(IdempotencyKey))] == ["new"]
    engine.dispose()


def test_the_demo_lets_webhooks_reach_this_machine_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("WEBHOOK_ALLOWED_HOSTS", "WEBHOOK_HEARTBEAT_SECONDS", "WEBHOOK_TIMEOUT_SECONDS"):
        monkeypatch.delenv(f"CARE_EXCHANGE_{name}", raising=False)
    demo = _demo_settings(Settings())
    assert demo.webhook_allowed_hosts == LOOPBACK
    assert (demo.webhook_heartbeat_seconds, demo.webhook_timeout_seconds) == (10, 5)
    monkeypatch.setenv("CARE_EXCHANGE_WEBHOOK_ALLOWED_HOSTS", '["10.1.2.0/24"]')
    monkeypatch.setenv("CARE_EXCHANGE_WEBHOOK_HEARTBEAT_SECONDS", "300")
    told = _demo_settings(Settings())
    assert told.webhook_allowed_hosts == ["10.1.2.0/24"]
    assert (told.webhook_heartbeat_seconds, told.webhook_timeout_seconds) == (300, 5)
