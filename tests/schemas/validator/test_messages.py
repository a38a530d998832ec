"""Every keyword the schemas use gets a message a care home's data person can act on.

One row per keyword (and per conditional rule), each breaking one example record; a test over the
schemas fails when they start using a keyword this table does not cover.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from care_exchange_standard import SCHEMA_DIR, Severity, Standard
from care_exchange_standard.messages import describe
from care_exchange_standard.validation import DEFAULT_DOCS_BASE
from tests.conftest import EXAMPLES

# Schema words and computer words a data person should never have to read.
JARGON = re.compile(
    r"anyOf|oneOf|allOf|\bitems\b|\bschema\b|\bJSON\b|\bstring\b|\binteger\b|\bobject\b|"
    r"\bpointer\b|\bkeyword\b|\bregex\b|\bnot of type\b|additional properties",
    re.IGNORECASE,
)
# Keywords that only describe (or only steer other keywords) and never fail on their own.
NEVER_FAIL = {
    "$defs",
    "$id",
    "$ref",
    "$schema",
    "allOf",
    "codelist",
    "description",
    "if",
    "items",
    "openCodelist",
    "properties",
    "then",
    "title",
    "x-personal-data",
    "x-since",
}


@dataclass(frozen=True)
class Case:
    """One way to break an example, and what the message must say."""

    example: str
    change: Callable[[dict[str, Any]], None]
    pointer: str
    keyword: str
    message: str

    def __str__(self) -> str:
        return f"{self.keyword}:{self.pointer}"


def put(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        node: Any = record
        for part in parents:
            node = node[part]
        node[last] = value

    return change


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        node: Any = record
        for part in parents:
            node = node[part]
        del node[last]

    return change


def both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        for one in changes:
            one(record)

    return change


CAPACITY = "capacity-snapshot/nursing-home-open.json"
ACHIEVEMENT = "achievement/english-night-falls-reduction.json"
CASES = [
    Case(
        CAPACITY,
        drop("beds/1/occupied"),
        "/beds/1/occupied",
        "required",
        "'occupied' is required here but is missing.",
    ),
    Case(
        CAPACITY,
        put("admissions", {"status": "closed"}),
        "/admissions/reasons",
        "required",
        "'reasons' is required when 'admissions.status' is \"closed\", and it is missing.",
    ),
    Case(
        CAPACITY,
        drop("beds/0/notAvailableReasons"),
        "/beds/0/notAvailableReasons",
        "required",
        "'notAvailableReasons' is required when 'beds.vacantNotAvailable' is 1, and it is missing.",
    ),
    Case(
        "notifiable-event/unwitnessed-fall-fracture.json",
        both(put("eventType", "death"), drop("personReference")),
        "/death",
        "required",
        "'death' is required when 'eventType' is \"death\", and it is missing.",
    ),
    Case(
        CAPACITY,
        put("beds/0/ocupied", 1),
        "/beds/0/ocupied",
        "additionalProperties",
        "'ocupied' is not one of the fields of 'beds'. Did you mean 'occupied'?",
    ),
    Case(
        CAPACITY,
        put("beds/0/careLevel", "nursng"),
        "/beds/0/careLevel",
        "enum",
        "\"nursng\" is not a code in the care-levels codelist. Did you mean 'nursing'?",
    ),
    Case(
        CAPACITY,
        put("beds/0/occupied", 0.71),
        "/beds/0/occupied",
        "type",
        "0.71 is not a whole number.",
    ),
    Case(
        CAPACITY,
        put("registeredPlaces", "sixty"),
        "/registeredPlaces",
        "type",
        '"sixty" is not a whole number; it is text.',
    ),
    Case(
        CAPACITY,
        put("registeredPlaces", -4),
        "/registeredPlaces",
        "minimum",
        "must be at least 0; it is -4.",
    ),
    Case(
        "home-care-activity/scottish-hscp-monthly.json",
        put("visits/late", {"count": 1, "thresholdMinutes": 500}),
        "/visits/late/thresholdMinutes",
        "maximum",
        "must be at most 240; it is 500.",
    ),
    Case(ACHIEVEMENT, put("title", ""), "/title", "minLength", "must not be empty."),
    Case(
        ACHIEVEMENT,
        put("title", "x" * 151),
        "/title",
        "maxLength",
        "must be at most 150 characters long; it has 151.",
    ),
    Case(
        CAPACITY,
        put("beds", []),
        "/beds",
        "minItems",
        "list at least one entry; the list is empty.",
    ),
    Case(
        "complaints-and-compliments/small-english-care-home-year.json",
        put("compliments/highlights", ["Kind staff."] * 11),
        "/compliments/highlights",
        "maxItems",
        "list at most 10 entries; it has 11.",
    ),
    Case(
        CAPACITY,
        put("schemaVersion", "2.0"),
        "/schemaVersion",
        "pattern",
        '"2.0" is not in the expected form. The MAJOR.MINOR version',
    ),
    Case(
        "provider/scottish-charity.json",
        put("identifiers/0/value", "SP-2026-000088"),
        "/identifiers/0/value",
        "pattern",
        "That form is asked for when 'identifiers.scheme' is \"care-inspectorate-provider\".",
    ),
    Case(
        CAPACITY,
        put("asAt", "2026-11-02"),
        "/asAt",
        "format",
        '"2026-11-02" is not a date and time with a time zone, for example',
    ),
    Case(
        ACHIEVEMENT,
        put("tags", ["falls", "falls"]),
        "/tags",
        "uniqueItems",
        "lists the same entry more than once; give each one once.",
    ),
    Case(
        "workforce-snapshot/nursing-home-annual-return.json",
        put("absences/0", {"reason": "sickness"}),
        "/absences/0",
        "anyOf",
        "give at least one of 'staffAbsent', 'daysLost' or 'wteAbsent'.",
    ),
]


def load(name: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((EXAMPLES / "valid" / name).read_text())
    return record


@pytest.mark.parametrize("case", CASES, ids=str)
def test_message(standard: Standard, case: Case) -> None:
    record = copy.deepcopy(load(case.example))
    case.change(record)
    _, issues = standard.validate(record)
    errors = [issue for issue in issues if issue.severity is Severity.ERROR]
    found = [
        issue for issue in errors if (issue.pointer, issue.keyword) == (case.pointer, case.keyword)
    ]
    assert found, errors
    assert case.message in found[0].message
    assert not JARGON.search(found[0].message), found[0].message
    assert found[0].docs and found[0].docs.startswith(DEFAULT_DOCS_BASE)


def test_const_is_plain() -> None:
    """`const` fixes each record's type, which picks the schema, so no record reaches it."""
    message = describe("const", {"expected_value": "capacity-snapshot"}, "x", None, None, {}, "")
    assert message == 'must be "capacity-snapshot", not "x".'
    assert not JARGON.search(message)


def used_keywords() -> set[str]:
    found: set[str] = set()

    def walk(node: Any, parent: str | None) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if parent not in ("properties", "$defs"):
                    found.add(key)
                walk(value, key)
        elif isinstance(node, list):
            for value in node:
                walk(value, None)

    for folder in ("records", "common", "directory"):
        for path in sorted((SCHEMA_DIR / folder).glob("*.json")):
            walk(json.loads(path.read_text()), None)
    return found


def test_every_keyword_the_schemas_use_has_a_case() -> None:
    covered = {case.keyword for case in CASES} | {"const"}
    missing = used_keywords() - NEVER_FAIL - covered
    assert not missing, f"add a Case for {sorted(missing)}"


def examples() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((EXAMPLES / "invalid").glob("*/*.json")):
        yield path.name, json.loads(path.read_text())


@pytest.mark.parametrize(("name", "record"), list(examples()))
def test_invalid_examples_speak_plainly(standard: Standard, name: str, record: Any) -> None:
    _, issues = standard.validate(record)
    assert issues
    for issue in issues:
        assert not JARGON.search(issue.message), issue.message
        assert issue.docs is None or issue.docs.startswith(DEFAULT_DOCS_BASE)
