"""A small world of organisations, services, clients and agreements, with real access tokens."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from care_exchange_server.auth import clients
from care_exchange_server.services import directory, entitlements
from care_exchange_server.services.ids import new_id
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.enums import AgreementStatus, AuthMethod
from care_exchange_server.storage.models import Agreement, Base, Service
from care_exchange_standard import load_standard
from tests.conftest import EXAMPLES

RECORD_TYPES = load_standard().record_types
PUBLISH = [f"{t}:publish" for t in RECORD_TYPES]
READ = [f"{t}:read" for t in RECORD_TYPES]
SUBS = "subscriptions"
RETURNS = "returns"

# name: (organisation kind, scopes)
PARTIES: dict[str, tuple[str, list[str]]] = {
    "provider": (
        "provider",
        [*PUBLISH, *READ, "services", "agreements", "feedback", SUBS, RETURNS],
    ),
    "other_provider": (
        "provider",
        [*PUBLISH, *READ, "services", "agreements", "feedback", SUBS, RETURNS],
    ),
    "vendor": ("vendor", [*PUBLISH, "services"]),
    "other_vendor": ("vendor", [*PUBLISH, "services"]),
    "subscriber": ("commissioner", [*READ, "agreements", "feedback", SUBS, RETURNS]),
    "other_subscriber": ("commissioner", [*READ, "agreements", "feedback", SUBS, RETURNS]),
    "admin": ("administrator", ["admin", "agreements"]),
    "no_scope": ("commissioner", ["agreements"]),
}

# The entitlement world (`build_world(..., entitlement=True)`): subscribers that each differ from
# `subscriber` in one dimension of entitlement, for tests/api/test_entitlement_paths.py and the
# matrix's entitlement cells. Only the worlds of those two modules hold them, so no other test
# sees more agreements or fan-out than it expects.
CAPACITY, WORKFORCE = "capacity-snapshot", "workforce-snapshot"
SUBSCRIBING = ["agreements", "feedback", SUBS, RETURNS]
ENTITLEMENT_PARTIES: dict[str, tuple[str, list[str]]] = {
    # Scope per record type: reads workforce snapshots only, under an agreement for every type.
    "narrow_subscriber": ("commissioner", [f"{WORKFORCE}:read", *SUBSCRIBING]),
    # Agreement per record type: every read scope, an agreement for workforce snapshots only.
    "typed_subscriber": ("commissioner", [*READ, *SUBSCRIBING]),
    # Agreement per service: every read scope, an agreement for svc-p2 only.
    "service_subscriber": ("commissioner", [*READ, *SUBSCRIBING]),
    # End date: an agreement that ended yesterday, and one that ends today (still in force).
    "lapsed_subscriber": ("commissioner", [*READ, *SUBSCRIBING]),
    "ending_subscriber": ("commissioner", [*READ, *SUBSCRIBING]),
}


@dataclass(frozen=True)
class AgreementTerms:
    """An agreement of the entitlement world, between two parties."""

    id: str
    provider: str
    subscriber: str
    record_types: list[str]
    service_ids: list[str] | None = None
    # Days from today to the end date (None: no end date); see `renew_end_dates`.
    ends_in_days: int | None = None


# Every world's one agreement: org-subscriber reads every type of every service of org-provider.
WORLD_AGREEMENT = AgreementTerms("agr-subscriber", "provider", "subscriber", RECORD_TYPES)

# Decoys come first (agreements are read back in insertion order when no order is asked for), so
# a path that ignored the type, the provider or the service would name the decoy in receipts.
ENTITLEMENT_AGREEMENTS = (
    AgreementTerms("agr-narrow", "provider", "narrow_subscriber", RECORD_TYPES),
    AgreementTerms("agr-typed-decoy", "provider", "typed_subscriber", ["achievement"]),
    AgreementTerms("agr-typed", "provider", "typed_subscriber", [WORKFORCE]),
    AgreementTerms(
        "agr-service-decoy", "other_provider", "service_subscriber", RECORD_TYPES, ["svc-q1"]
    ),
    AgreementTerms("agr-service", "provider", "service_subscriber", RECORD_TYPES, ["svc-p2"]),
    AgreementTerms("agr-lapsed", "provider", "lapsed_subscriber", RECORD_TYPES, ends_in_days=-1),
    AgreementTerms("agr-ending", "provider", "ending_subscriber", RECORD_TYPES, ends_in_days=0),
)


def _end_date(terms: AgreementTerms, today: date) -> date | None:
    return None if terms.ends_in_days is None else today + timedelta(days=terms.ends_in_days)


def renew_end_dates(session: Session, today: date) -> None:
    """Set the entitlement agreements' end dates relative to `today` again.

    The world is built once per run; a run that passes midnight would otherwise see the
    agreement that ends today as lapsed. It writes the rows directly, on purpose: this moves
    the world's calendar, it is no change of entitlement for `services.entitlements` to make,
    and in a fresh copy, with nothing published, no feed has anything to follow.
    """
    for terms in ENTITLEMENT_AGREEMENTS:
        if terms.ends_in_days is not None:
            session.execute(
                update(Agreement)
                .where(Agreement.id == terms.id)
                .values(end_date=_end_date(terms, today), status=AgreementStatus.ACTIVE)
            )


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
        "serviceType": "care-home-with-nursing",
        "clientGroups": ["older-people"],
        "geography": {"country": "scotland", "councilArea": "S12000036"},
        "registeredPlaces": 30,
        "status": "active",
    }


def provider_entry(organisation_id: str = "org-provider", **changes: Any) -> dict[str, Any]:
    """A provider directory entry (the example English private company) as the organisation's."""
    path = EXAMPLES / "valid" / "provider" / "english-private-company.json"
    document: dict[str, Any] = json.loads(path.read_text())
    return document | {"id": organisation_id} | changes


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


def _grant(session: Session, terms: AgreementTerms, today: date) -> Agreement:
    """The agreement in force, granted as the server grants one (its feed follows)."""
    return entitlements.grant(
        session,
        f"org-{terms.provider}",
        f"org-{terms.subscriber}",
        entitlements.AgreementTerms(
            record_types=terms.record_types,
            service_ids=terms.service_ids,
            purpose="Contract monitoring.",
            legal_basis="Public task.",
            end_date=_end_date(terms, today),
        ),
        agreement_id=terms.id,
    )


def build_world(app: FastAPI, client: TestClient, entitlement: bool = False) -> World:
    """The world's parties, services, delegation and agreement; with `entitlement`, also the
    parties and agreements of `ENTITLEMENT_PARTIES` and `ENTITLEMENT_AGREEMENTS`."""
    world = World(client)
    parties = {**PARTIES, **(ENTITLEMENT_PARTIES if entitlement else {})}
    with transaction(app.state.sessions) as session:
        for name, (kind, scopes) in parties.items():
            organisation = directory.create_organisation(session, name, kind, f"org-{name}")
            made, secret = clients.create_client(
                session, organisation.id, name, scopes, AuthMethod.CLIENT_SECRET_BASIC
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
        entitlements.delegate(
            session, "org-provider", "org-vendor", ["svc-p1"], delegation_id="dlg-vendor"
        )
        today = date.today()
        _grant(session, WORLD_AGREEMENT, today)
        for terms in ENTITLEMENT_AGREEMENTS if entitlement else ():
            _grant(session, terms, today)
    for party in world.parties.values():
        response = client.post(
            "/oauth/token",
            auth=(party.client_id, party.secret),
            data={"grant_type": "client_credentials"},
        )
        assert response.status_code == 200, response.text
        party.token = response.json()["access_token"]
    return world


def walk_feed(
    world: World, party: str | None, url: str, max_pages: int = 200
) -> tuple[list[dict[str, Any]], str]:
    """Every feed item from `url` on, following `next` until a page is empty; and that last URL.

    A cursor that repeats a page fails here at once, rather than looping until the time limit:
    each page must start after the last change the one before ended with, and a page with items
    must not point at itself.
    """
    items: list[dict[str, Any]] = []
    last_change = -1
    for _ in range(max_pages):
        response = world.call(party, "GET", url)
        assert response.status_code == 200, response.text
        page = response.json()
        if not page["items"]:
            assert page["next"] == str(response.url), "the last page must point at itself"
            return items, page["next"]
        modified = [item["modified"] for item in page["items"]]
        assert modified == sorted(set(modified)), f"{url}: changes out of order: {modified}"
        assert modified[0] > last_change, f"{url} repeats changes up to {last_change}"
        assert page["next"] != str(response.url), f"{url} has items but points at itself"
        last_change = modified[-1]
        items += page["items"]
        url = page["next"]
    raise AssertionError(f"the feed did not end within {max_pages} pages")


def table_digest(engine: Engine, leaving_out: Collection[str] = ()) -> str:
    """A digest of every row the server keeps, but in the tables `leaving_out` names."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in leaving_out:
                continue
            rows = sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            digest.update(f"{table.name}:{len(rows)}:".encode())
            for row in rows:
                digest.update(row.encode())
    return digest.hexdigest()
