"""Fixtures shared by every test: the loaded standard and the examples it ships."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from care_exchange_standard import SCHEMA_DIR, Standard, load_standard

EXAMPLES = SCHEMA_DIR / "examples"


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


@pytest.fixture(scope="session")
def standard() -> Standard:
    return load_standard()
