"""Fixtures shared by every test: the loaded standard and the examples it ships."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest

from care_exchange_standard import SCHEMA_DIR, Standard, load_standard

EXAMPLES = SCHEMA_DIR / "examples"
TEST_SCRYPT_N = 2**10


@dataclass(frozen=True)
class Example:
    """One example file with its type and, for an invalid one, the errors it must produce."""

    path: Path
    type_name: str
    expected: frozenset[tuple[str, str]]

    @property
    def record(self) -> Any:
        return json.loads(self.path.read_text(encoding="utf-8"))

    def __str__(self) -> str:
        return f"{self.type_name}/{self.path.name}"


def examples(verdict: str) -> list[Example]:
    """Every example of one verdict (`valid` or `invalid`), for parametrising tests."""
    found = []
    for folder in sorted((EXAMPLES / verdict).iterdir()):
        expected_file = EXAMPLES / "expected-errors" / f"{folder.name}.json"
        labelled = verdict == "invalid" and expected_file.exists()
        labels = json.loads(expected_file.read_text()) if labelled else {}
        for path in sorted(folder.glob("*.json")):
            expected = frozenset(
                (error["pointer"], error["keyword"]) for error in labels.get(path.name, [])
            )
            found.append(Example(path, folder.name, expected))
    return found


VALID_EXAMPLES = examples("valid")
INVALID_EXAMPLES = examples("invalid")


# The longest modules, longest first (each runs on one worker, `--dist loadfile`). Started
# first, they overlap the many short modules instead of running alone at the end of the run.
LONGEST_FIRST = [
    "tests/api/test_schemathesis.py",
    "tests/conformance/test_generated.py",
    "tests/api/test_authorization_matrix.py",
    "tests/conformance/test_subscriptions.py",
    "tests/packaging/test_wheels.py",
    "tests/schemas/test_jsonata_native.py",
    "tests/api/test_hostile_requests.py",
    "tests/api/test_worker.py",
    "tests/conformance/test_receipts.py",
    "tests/api/test_worker_process.py",
]


# Hypothesis fails an example slower than 200 ms as "unreliable"; on a loaded CI machine one
# stall is enough. Speed is measured in bench/, not here.
hypothesis.settings.register_profile("care-exchange", deadline=None)
hypothesis.settings.load_profile("care-exchange")


def pytest_configure(config: pytest.Config) -> None:
    """Client secrets are hashed with scrypt at n = 2**10 in tests, not the server's 2**14.

    Hashing and checking are the same code at either cost (test_clients.py checks the
    server's own), but at full cost they took 175 s of the suite's 23 minutes of processor
    time: thousands of demo clients and token requests.
    """
    if importlib.util.find_spec("care_exchange_server") is not None:
        from care_exchange_server.auth import secrets

        secrets.COST.n = TEST_SCRYPT_N


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The run's order: the longest modules first, then the rest as collected."""
    rank = {Path(config.rootpath, name): place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path, len(rank)))


@pytest.fixture(scope="session")
def standard() -> Standard:
    return load_standard()
