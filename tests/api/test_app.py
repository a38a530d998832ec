"""The application factory: apps built in one process share their operations' routes."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from care_exchange_server.app import create_app, dispose
from care_exchange_server.settings import Settings
from tests.api.conftest import ISSUER


def test_apps_share_the_routes_and_each_holds_requests_to_the_spec(tmp_path: Path) -> None:
    """FastAPI builds an included router's routes on an app's first request: shared, they are
    built once a process. Each app still refuses what the spec does not allow (`conform`)."""
    apps = [
        create_app(Settings(database_url=f"sqlite:///{tmp_path}/{n}.sqlite3", issuer=ISSUER))
        for n in range(2)
    ]
    try:
        first, second = (app.router.routes for app in apps)
        assert len(first) == len(second) > 13
        assert all(mine is theirs for mine, theirs in zip(first, second, strict=True))
        for app in apps:
            with TestClient(app, base_url=ISSUER) as client:
                answer = client.get("/.well-known/care-exchange", params={"unknown": "1"})
            assert answer.status_code == 400, answer.text
            assert answer.json()["errors"][0]["parameter"] == "unknown", answer.text
    finally:
        for app in apps:
            dispose(app)
