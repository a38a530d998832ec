"""Fixtures for the server's tests: every test that takes `app` runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app, dispose
from api.settings import Settings
from api.storage.migrate import upgrade
from tests.api.world import World, build_world

POSTGRES_ADMIN_URL = os.environ.get(
    "CARE_EXCHANGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ISSUER = "https://care-exchange.test"


def _postgres_unreachable() -> str | None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} cannot be reached: {error}".strip()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the PostgreSQL server; skips (with the reason) only when it is down."""
    reason = _postgres_unreachable()
    if reason:
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    name = f"care_exchange_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new, migrated, empty database for each test, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'care-exchange.sqlite3'}"
        upgrade(url)
        yield url
        return
    admin_url: str = request.getfixturevalue("postgres_server")
    for url in fresh_postgres_database(admin_url):
        upgrade(url)
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, issuer=ISSUER)


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
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)
