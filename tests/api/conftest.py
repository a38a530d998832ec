"""Fixtures for the server's tests: every test that takes `app` runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from care_exchange_server.app import create_app, dispose
from care_exchange_server.settings import Settings
from care_exchange_server.storage.migrate import upgrade
from care_exchange_testing import postgres
from tests.api import templates
from tests.api.templates import Template
from tests.api.world import World

POSTGRES_ADMIN_URL = os.environ.get(
    "CARE_EXCHANGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ISSUER = "https://care-exchange.test"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the PostgreSQL server; skips (with the reason) only when it is down."""
    reason = postgres.unreachable(POSTGRES_ADMIN_URL)
    if reason:
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


fresh_postgres_database = postgres.fresh_database


@pytest.fixture(scope="session")
def sqlite_world_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    url = f"sqlite:///{tmp_path_factory.mktemp('world') / 'world.sqlite3'}"
    return templates.populate("sqlite", url, ISSUER)


@pytest.fixture(scope="session")
def postgresql_world_template(postgres_server: str) -> Iterator[Template]:
    yield from templates.postgresql_template(postgres_server, ISSUER)


@pytest.fixture(scope="session")
def sqlite_empty_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    url = f"sqlite:///{tmp_path_factory.mktemp('empty') / 'empty.sqlite3'}"
    upgrade(url)
    return Template("sqlite", url, {})


@pytest.fixture(scope="session")
def postgresql_empty_template(postgres_server: str) -> Iterator[Template]:
    yield from templates.postgresql_template(postgres_server, ISSUER, empty=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new database for each test, on each backend: a copy of a migrated, empty database or,
    for a test that takes `world`, of the world (tests/api/templates.py)."""
    contents = "world" if "world" in request.fixturenames else "empty"
    template: Template = request.getfixturevalue(f"{request.param}_{contents}_template")
    yield from templates.copy(template, tmp_path_factory.mktemp("db"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        issuer=ISSUER,
        webhook_allowed_hosts=["127.0.0.1/32"],
        webhook_retry_delays_seconds=[0, 0.2, 0.4, 0.6],
        # Long enough that a loaded machine's loopback POST is not taken for a dead receiver.
        webhook_timeout_seconds=3.0,
        worker_lease_seconds=6.0,
        worker_poll_seconds=0.05,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    dispose(application)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=ISSUER) as test_client:
        yield test_client


@pytest.fixture
def world(request: pytest.FixtureRequest, database_url: str, client: TestClient) -> World:
    """The parties of the world the test's database was copied from, with their tokens."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    template: Template = request.getfixturevalue(f"{backend}_world_template")
    return World(client, template.fresh_parties())
