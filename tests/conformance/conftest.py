"""The reference server for the suite to check, on SQLite and PostgreSQL (the server tests'
own database fixtures), optionally changed into a broken variant."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path

import pytest

from care_exchange_conformance.config import Config
from care_exchange_testing.reference import Variant, serve_reference
from tests.api.conftest import database_url, postgres_server  # noqa: F401  (fixtures)

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
