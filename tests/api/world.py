"""A small world of organisations, services, clients and agreements, with real access tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.auth import clients
from api.services import directory
from api.services.ids import new_id
from api.storage.db import transaction
from api.storage.models import Agreement, Delegation, Service
from api.storage.types import utcnow
from schemas import load_standard
from tests.conftest import EXAMPLES

RECORD_TYPES = load_standard().record_types
PUBLISH = [f"{t}:publish" for t in RECORD_TYPES]
READ = [f"{t}:read" for t in RECORD_TYPES]
SUBS = "subscriptions"

# name: (organisation kind, scopes)
PARTIES: dict[str, tuple[str, list[str]]] = {
    "provider": ("provider", [*PUBLISH, *READ, "services", "agreements", "feedback", SUBS]),
    "other_provider": ("provider", [*PUBLISH, *READ, "services", "agreements", "feedback", SUBS]),
    "vendor": ("vendor", [*PUBLISH, "services"]),
    "other_vendor": ("vendor", [*PUBLISH, "services"]),
    "subscriber": ("commissioner", [*READ, "agreements", "feedback", SUBS]),
    "other_subscriber": ("commissioner", [*READ, "agreements", "feedback", SUBS]),
    "admin": ("administrator", ["admin", "agreements"]),
    "no_scope": ("commissioner", ["agreements"]),
}


@dataclass
class Party:
    """One organisation with one client and a token for it."""

    name: str
    organisation_id: str
    client_id: str
    secret: str
    token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    """Everything a test needs to call the API as anyone."""

    client: TestClient
    parties: dict[str, Party] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Party:
        return self.parties[name]

    def call(self, party: str | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if party is not None:
            headers.update(self[party].auth)
        return self.client.request(method, path, headers=headers, **kwargs)


def service_document(service_id: str, provider_id: str) -> dict[str, Any]:
    return {
        "directoryType": "service",
        "schemaVersion": "1.0",
        "id": service_id,
        "providerId": provider_id,
        "name": f"Service {service_id}",
        "identifiers": [{"scheme": "care-inspectorate-service", "value": "CS2003001025"}],
        "serviceType": "care-home-without-nursing",
        "clientGroups": ["older-people"],
        "geography": {"country": "scotland", "councilArea": "S12000036"},
        "registeredPlaces": 30,
        "status": "active",
    }


def example_record(
    record_type: str, service_id: str, record_id: str | None = None
) -> dict[str, Any]:
    """The first valid example of a type, moved to the given service and id."""
    path = sorted((EXAMPLES / "valid" / record_type).glob("*.json"))[0]
    record: dict[str, Any] = json.loads(path.read_text())
    record["serviceId"] = service_id
    record["id"] = record_id or new_id("rec")
    return record


def published_example(
    world: World,
    service_id: str = "svc-p1",
    party: str = "provider",
    record_type: str = "capacity-snapshot",
) -> dict[str, Any]:
    """An example record published through the API (it must be a 201)."""
    record = example_record(record_type, service_id)
    response = world.call(party, "POST", f"/v1/records/{record_type}", json=record)
    assert response.status_code == 201, response.text
    return record


def build_world(app: FastAPI, client: TestClient) -> World:
    world = World(client)
    with transaction(app.state.sessions) as session:
        for name, (kind, scopes) in PARTIES.items():
            organisation = directory.create_organisation(session, name, kind, f"org-{name}")
            made, secret = clients.create_client(
                session, organisation.id, name, scopes, "client_secret_basic"
            )
            assert secret is not None
            world.parties[name] = Party(name, organisation.id, made.client_id, secret)
        for service_id, owner in (
            ("svc-p1", "org-provider"),
            ("svc-p2", "org-provider"),
            ("svc-q1", "org-other_provider"),
        ):
            session.add(
                Service(
                    id=service_id, provider_id=owner, document=service_document(service_id, owner)
                )
            )
        session.flush()
        session.add(
            Delegation(
                id="dlg-vendor",
                provider_id="org-provider",
                vendor_id="org-vendor",
                service_ids=["svc-p1"],
            )
        )
        session.add(
            Agreement(
                id="agr-subscriber",
                provider_id="org-provider",
                subscriber_id="org-subscriber",
                record_types=RECORD_TYPES,
                service_ids=None,
                purpose="Contract monitoring.",
                legal_basis="Public task.",
                end_date=None,
                statutory=False,
                status="active",
                decided_at=utcnow(),
            )
        )
    for party in world.parties.values():
        response = client.post(
            "/oauth/token",
            auth=(party.client_id, party.secret),
            data={"grant_type": "client_credentials"},
        )
        assert response.status_code == 200, response.text
        party.token = response.json()["access_token"]
    return world
