"""The reference server for the suite to check, on SQLite and PostgreSQL (the server tests'
own database fixtures), optionally changed into a broken variant."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path

import httpx
import pytest

from care_exchange_conformance.config import Config
from care_exchange_standard import SCHEMA_DIR
from care_exchange_testing.reference import Variant, serve_reference
from tests.api.conftest import (  # noqa: F401  (fixtures)
    database_url,
    postgres_server,
    postgresql_empty_template,
    sqlite_empty_template,
)

__all__ = ["Serve", "Variant"]

Serve = Callable[..., AbstractContextManager[Config]]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The whole folder is in the slow group, and only the reference server's own runs use both
    databases.

    Every area must pass against the reference server on SQLite and on PostgreSQL. A broken
    variant tests what the suite catches, which does not depend on the database behind the
    server, so it runs on SQLite alone.
    """
    here = Path(__file__).parent
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        if here not in item.path.parents:
            kept.append(item)
            continue
        item.add_marker(pytest.mark.slow)
        both = item.name.startswith("test_the_reference_server_passes")
        on_postgresql = "[postgresql" in item.name
        (dropped if on_postgresql and not both else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(name="serve_reference")
def serve_reference_fixture(database_url: str) -> Serve:  # noqa: F811
    """Serve the reference server, changed by a variant if one is given."""
    return partial(serve_reference, database_url)


REAL_SNAPSHOT_DAY = "2001-02-03"


def publish_real_snapshot(config: Config) -> str:
    """Publish, as the publisher, a capacity snapshot that is not test data (the suite publishes
    only test data, which no return uses); its id. Its day is `REAL_SNAPSHOT_DAY`."""
    assert config.publisher is not None and config.service_id is not None
    example = SCHEMA_DIR / "examples" / "valid" / "capacity-snapshot" / "nursing-home-open.json"
    record = json.loads(example.read_text(encoding="utf-8"))
    record |= {
        "id": str(uuid.uuid4()),
        "serviceId": config.service_id,
        "asAt": f"{REAL_SNAPSHOT_DAY}T12:00:00Z",
    }
    if "since" in record.get("admissions", {}):
        record["admissions"] = record["admissions"] | {"since": REAL_SNAPSHOT_DAY}
    with httpx.Client(base_url=config.base_url) as http:
        token = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(config.publisher.client_id, config.publisher.client_secret),
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        published = http.post("/v1/records/capacity-snapshot", json=record, headers=headers)
        assert published.status_code == 201, published.text
    found: str = record["id"]
    return found
