"""Databases for the storage tests: empty and not yet migrated, on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import fresh_postgres_database


def empty_database(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """A new database of the backend `request.param` names, with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{folder / 'care-exchange.sqlite3'}"
        return
    yield from fresh_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from empty_database(request, tmp_path)
