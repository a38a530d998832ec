"""The warnings schema lets a record through exactly when the Python walk finds no warning."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from care_exchange_standard import SCHEMA_DIR, Severity, Standard
from care_exchange_standard.fields import field_path
from tests.conftest import VALID_EXAMPLES


@pytest.fixture(scope="module")
def deprecating(tmp_path_factory: pytest.TempPathFactory) -> Standard:
    """A copy of the standard with a deprecated field (`notes`) and code (`staffing`)."""
    root = tmp_path_factory.mktemp("standard") / "schemas"
    shutil.copytree(SCHEMA_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    schema_path = root / "records" / "capacity-snapshot.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["notes"]["deprecated"] = True
    schema_path.write_text(json.dumps(schema))
    csv_path = root / "codelists" / "unavailable-reasons.csv"
    lines = csv_path.read_text().splitlines()
    lines = [lines[0] + ",Deprecated"] + [
        line + (",1.1" if line.startswith("staffing,") else ",") for line in lines[1:]
    ]
    csv_path.write_text("\n".join(lines) + "\n")
    return Standard(root)


def coded_places(standard: Standard, type_name: str, record: Any) -> Iterator[list[str | int]]:
    """Every place in the record whose field takes a code."""
    fields = standard.types[type_name].fields

    def walk(value: Any, at: list[str | int]) -> Iterator[list[str | int]]:
        found = fields.get(field_path(at))
        if found is not None and found.codelist and isinstance(value, str):
            yield at
        if isinstance(value, dict):
            for name, child in value.items():
                yield from walk(child, [*at, name])
        elif isinstance(value, list):
            for index, child in enumerate(value):
                yield from walk(child, [*at, index])

    yield from walk(record, [])


def put(record: Any, at: list[str | int], value: Any) -> None:
    node = record
    for part in at[:-1]:
        node = node[part]
    node[at[-1]] = value


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_warning_schema_agrees_with_the_walk(deprecating: Standard, data: st.DataObject) -> None:
    example = data.draw(st.sampled_from(VALID_EXAMPLES))
    record = copy.deepcopy(example.record)
    places = list(coded_places(deprecating, example.type_name, record))
    for at in places:
        if data.draw(st.booleans()):
            put(record, at, data.draw(st.sampled_from(["staffing", "flooding", "nursing", "x"])))
    if example.type_name == "capacity-snapshot" and data.draw(st.booleans()):
        record.pop("notes", None)
    validator = deprecating.validator(example.type_name)
    issues = deprecating.validate(record)[1]
    warnings = [i for i in issues if i.severity is Severity.WARNING]
    broken = [i for i in issues if i.rule is not None]
    if validator.is_valid(record):
        assert validator.clean(record) == (not warnings and not broken), issues
    else:
        assert not validator.clean(record)


def test_clean_records_take_the_fast_path(standard: Standard, tmp_path: Path) -> None:
    for example in VALID_EXAMPLES:
        assert standard.validator(example.type_name).clean(example.record), example
