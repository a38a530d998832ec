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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every suite test serves the reference server: the whole folder is in the slow group."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(name="serve_reference")
def serve_reference_fixture(database_url: str) -> Serve:  # noqa: F811
    """Serve the reference server, changed by a variant if one is given."""
    return partial(serve_reference, database_url)
