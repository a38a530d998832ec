"""The SDK against the reference server on a real socket, on SQLite and on PostgreSQL.

One server per backend per test process (`serve_reference`, the demo seeded, the delivery worker
running): the tests make their own records and parties (random ids), so they can share it.
The demo has no administrator, so one is added here, through the server's own registration
code, to let the tests create organisations and `private_key_jwt` clients through the API.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from care_exchange_client import Client, ClientSecret
from care_exchange_conformance.config import Config, Party
from care_exchange_server.auth import clients as server_clients
from care_exchange_server.demo import COMMISSIONER, OTHER, PROVIDER
from care_exchange_server.services import directory
from care_exchange_server.storage.enums import AuthMethod, OrganisationKind
from care_exchange_server.storage.migrate import upgrade
from care_exchange_standard import SCHEMA_DIR
from care_exchange_testing import postgres
from care_exchange_testing.reference import serve_reference
from tests.api.conftest import postgres_server  # noqa: F401  (fixture)

ADMIN_ORGANISATION = "org-sdk-admin"
EXAMPLE = SCHEMA_DIR / "examples" / "valid" / "capacity-snapshot" / "nursing-home-open.json"


@dataclass(frozen=True)
class Reference:
    """A running reference server and the parties the tests act as."""

    config: Config
    admin: Party
    database_url: str

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def service_id(self) -> str:
        assert self.config.service_id is not None
        return self.config.service_id

    def party(self, name: str) -> Party:
        found = self.admin if name == "admin" else self.config.party(name)
        assert found is not None
        return found

    def client(self, name: str, **options: Any) -> Client:
        party = self.party(name)
        return Client(self.base_url, ClientSecret(party.client_id, party.client_secret), **options)


ORGANISATIONS = {"publisher": PROVIDER, "subscriber": COMMISSIONER, "outsider": OTHER}


def _add_admin(database_url: str) -> Party:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            directory.create_organisation(
                session,
                "SDK test administrator",
                OrganisationKind.ADMINISTRATOR,
                ADMIN_ORGANISATION,
            )
            client, secret = server_clients.create_client(
                session,
                ADMIN_ORGANISATION,
                "SDK tests",
                ["admin", "agreements"],
                AuthMethod.CLIENT_SECRET_BASIC,
            )
            assert secret is not None
            session.commit()
            return Party(client.client_id, secret)
    finally:
        engine.dispose()


def _database(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        folder = request.getfixturevalue("tmp_path_factory").mktemp("sdk-db")
        url = f"sqlite:///{folder / 'care-exchange.sqlite3'}"
        upgrade(url)
        yield url
        return
    admin_url: str = request.getfixturevalue("postgres_server")
    for url in postgres.fresh_database(admin_url, prefix="care_exchange_sdk"):
        upgrade(url)
        yield url


def _serve(backend: str, request: pytest.FixtureRequest) -> Iterator[Reference]:
    for url in _database(backend, request):
        with serve_reference(url) as config:
            yield Reference(config, _add_admin(url), url)


# Two session fixtures rather than one parametrised: pytest keeps only one parameter of a
# session fixture alive at a time, so a parametrised one would restart both servers for
# every test file that alternates between them.
@pytest.fixture(scope="session")
def sqlite_reference(request: pytest.FixtureRequest) -> Iterator[Reference]:
    yield from _serve("sqlite", request)


@pytest.fixture(scope="session")
def postgresql_reference(request: pytest.FixtureRequest) -> Iterator[Reference]:
    yield from _serve("postgresql", request)


@pytest.fixture(params=["sqlite", "postgresql"])
def reference(request: pytest.FixtureRequest) -> Reference:
    """The reference server on each backend, started once per test process."""
    found: Reference = request.getfixturevalue(f"{request.param}_reference")
    return found


@pytest.fixture
def publisher(reference: Reference) -> Iterator[Client]:
    with reference.client("publisher") as client:
        yield client


@pytest.fixture
def subscriber(reference: Reference) -> Iterator[Client]:
    with reference.client("subscriber") as client:
        yield client


@pytest.fixture
def outsider(reference: Reference) -> Iterator[Client]:
    with reference.client("outsider") as client:
        yield client


@pytest.fixture
def admin(reference: Reference) -> Iterator[Client]:
    with reference.client("admin") as client:
        yield client


def new_record(service_id: str, **changes: Any) -> dict[str, Any]:
    """A valid capacity snapshot with a fresh random id, for the given service."""
    record: dict[str, Any] = copy.deepcopy(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    record["id"] = str(uuid.uuid4())
    record["serviceId"] = service_id
    record.update(changes)
    return record
