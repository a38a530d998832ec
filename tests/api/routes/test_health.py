"""Liveness and readiness: a probe always answers, and says which check failed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from care_exchange_client import Client
from care_exchange_server.app import create_app, dispose
from care_exchange_server.settings import Settings
from care_exchange_server.storage.migrate import upgrade
from care_exchange_testing.live_server import live_server
from tests.api.conftest import ISSUER


def test_a_migrated_server_is_alive_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "current"},
    }


@contextmanager
def _served(database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, issuer=ISSUER))
    try:
        with TestClient(app, base_url=ISSUER) as client:
            yield client
    finally:
        dispose(app)


def test_a_schema_behind_or_ahead_of_the_code_is_not_ready(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    upgrade(url, "0006")
    with _served(url) as client:
        behind = client.get("/readyz")
        assert behind.status_code == 503
        assert behind.json()["checks"] == {"database": "ok", "migrations": "behind"}
        assert client.get("/healthz").status_code == 200
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    with _served(url) as client:
        assert client.get("/readyz").json()["checks"]["migrations"] == "ahead"


def test_an_unreachable_database_is_not_ready_and_never_a_500() -> None:
    with _served("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2") as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json() == {
            "status": "not-ready",
            "checks": {"database": "unreachable", "migrations": "unknown"},
        }
        assert client.get("/healthz").status_code == 200


def test_the_sdk_reads_not_ready_as_an_answer(tmp_path: Path) -> None:
    """Over a real socket: a probe's 503 is its answer, not an error to retry."""
    url = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    upgrade(url, "0006")
    app = create_app(Settings(database_url=url, issuer=ISSUER))
    try:
        with live_server(app) as base_url, Client(base_url) as client:
            assert client.get_readiness()["checks"]["migrations"] == "behind"
            assert client.get_health() == {"status": "ok"}
    finally:
        dispose(app)
