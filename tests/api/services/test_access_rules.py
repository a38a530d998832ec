"""Entitlement rules of `services.access` that the mutation run found no test for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import FastAPI

from care_exchange_server.auth.principal import Principal
from care_exchange_server.services.access import may_read
from tests.api.world import World

TYPE = "capacity-snapshot"


def test_may_read_finds_the_callers_agreements_with_the_provider_itself(
    app: FastAPI, world: World
) -> None:
    """Without `agreed`, `may_read` loads the caller's agreements with the record's provider:
    org-subscriber's agreement (every type and service of org-provider) and nothing else."""
    principal = Principal(
        client_id="client",
        organisation_id=world["subscriber"].organisation_id,
        organisation_kind="commissioner",
        scopes=frozenset({f"{TYPE}:read"}),
        jti="jti",
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    today = date.today()
    with app.state.read_sessions() as session:
        assert may_read(session, principal, TYPE, "org-provider", "svc-p1", today)
        assert not may_read(session, principal, TYPE, "org-other_provider", "svc-q1", today)
