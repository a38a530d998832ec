"""What the loader says about records: pointers, keywords, plain-English messages and warnings."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from care_exchange_standard import SCHEMA_DIR, Issue, Severity, Standard
from tests.conftest import EXAMPLES

REFERENCE = "https://care-exchange.org/docs/reference/"


@pytest.fixture
def snapshot() -> dict[str, Any]:
    path = EXAMPLES / "valid" / "capacity-snapshot" / "nursing-home-open.json"
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def errors(standard: Standard, record: Any) -> list[Issue]:
    return [issue for issue in standard.validate(record)[1] if issue.severity is Severity.ERROR]


def only_error(standard: Standard, record: Any) -> Issue:
    found = errors(standard, record)
    assert len(found) == 1, found
    return found[0]


def test_required_points_at_the_missing_field(standard: Standard, snapshot: dict[str, Any]) -> None:
    del snapshot["beds"][1]["occupied"]
    issue = only_error(standard, snapshot)
    assert (issue.pointer, issue.keyword, issue.field) == (
        "/beds/1/occupied",
        "required",
        "beds.occupied",
    )
    assert issue.message == "'occupied' is required here but is missing."
    assert issue.docs == f"{REFERENCE}capacity-snapshot#beds.occupied"


def test_unknown_field_is_named_with_a_suggestion(
    standard: Standard, snapshot: dict[str, Any]
) -> None:
    snapshot["beds"][0]["ocupied"] = 3
    issues = errors(standard, snapshot)
    unexpected = [issue for issue in issues if issue.keyword == "additionalProperties"]
    assert [issue.pointer for issue in unexpected] == ["/beds/0/ocupied"]
    assert "Did you mean 'occupied'?" in unexpected[0].message
    assert unexpected[0].docs == f"{REFERENCE}capacity-snapshot#beds"


def test_each_unknown_field_is_its_own_error(standard: Standard, snapshot: dict[str, Any]) -> None:
    snapshot["extraOne"] = 1
    snapshot["extraTwo"] = 2
    pointers = {issue.pointer for issue in errors(standard, snapshot)}
    assert pointers == {"/extraOne", "/extraTwo"}


def test_closed_codelist_message_lists_the_codes(
    standard: Standard, snapshot: dict[str, Any]
) -> None:
    snapshot["beds"][0]["careLevel"] = "nursng"
    issue = only_error(standard, snapshot)
    assert issue.keyword == "enum"
    assert "not a code in the care-levels codelist" in issue.message
    assert "Did you mean 'nursing'?" in issue.message
    assert "residential" in issue.message


@pytest.mark.parametrize(
    ("change", "pointer", "keyword", "words"),
    [
        (
            ("registeredPlaces", "sixty"),
            "/registeredPlaces",
            "type",
            '"sixty" is not a whole number; it is text.',
        ),
        (("registeredPlaces", 2.5), "/registeredPlaces", "type", "2.5 is not a whole number."),
        (("registeredPlaces", -4), "/registeredPlaces", "minimum", "must be at least 0; it is -4"),
        (("asAt", "yesterday"), "/asAt", "format", "not a date and time with a time zone"),
        (("schemaVersion", "2.0"), "/schemaVersion", "pattern", "MAJOR.MINOR"),
        (("beds", []), "/beds", "minItems", "list at least one entry; the list is empty."),
        (("notes", "x" * 2001), "/notes", "maxLength", "at most 2000 characters long; it has 2001"),
    ],
)
def test_plain_english_messages(
    standard: Standard,
    snapshot: dict[str, Any],
    change: tuple[str, Any],
    pointer: str,
    keyword: str,
    words: str,
) -> None:
    snapshot[change[0]] = change[1]
    issue = only_error(standard, snapshot)
    assert (issue.pointer, issue.keyword) == (pointer, keyword)
    assert words in issue.message


def test_value_outside_an_open_codelist_is_a_warning(
    standard: Standard, snapshot: dict[str, Any]
) -> None:
    snapshot["beds"][0]["notAvailableReasons"][0]["reason"] = "flooding"
    _, issues = standard.validate(snapshot)
    assert [(i.severity, i.pointer, i.keyword) for i in issues] == [
        (Severity.WARNING, "/beds/0/notAvailableReasons/0/reason", "codelist")
    ]
    assert "open unavailable-reasons codelist" in issues[0].message


def test_non_object_record_is_an_error(standard: Standard) -> None:
    assert standard.validate([1, 2]) == (
        None,
        [Issue("", "type", "a record must be a JSON object.")],
    )


def test_missing_record_type_is_an_error(standard: Standard, snapshot: dict[str, Any]) -> None:
    del snapshot["recordType"]
    type_name, issues = standard.validate(snapshot)
    assert type_name is None
    assert [(i.pointer, i.keyword) for i in issues] == [("/recordType", "required")]


def test_unknown_record_type_suggests_the_nearest(
    standard: Standard, snapshot: dict[str, Any]
) -> None:
    snapshot["recordType"] = "capacity-snapshots"
    type_name, issues = standard.validate(snapshot)
    assert type_name is None
    assert (issues[0].pointer, issues[0].keyword) == ("/recordType", "enum")
    assert "Did you mean 'capacity-snapshot'?" in issues[0].message


def test_pointer_escapes_special_characters(standard: Standard, snapshot: dict[str, Any]) -> None:
    snapshot["a/b~c"] = 1
    assert only_error(standard, snapshot).pointer == "/a~1b~0c"


def test_docs_base_can_point_at_a_published_copy(
    standard: Standard, snapshot: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARE_EXCHANGE_DOCS_BASE", "https://docs.example/ref/")
    snapshot["registeredPlaces"] = -1
    assert only_error(standard, snapshot).docs == (
        "https://docs.example/ref/capacity-snapshot#registeredPlaces"
    )


@pytest.fixture(scope="module")
def deprecating_standard(tmp_path_factory: pytest.TempPathFactory) -> Standard:
    """A copy of the standard in which `notes` and the code `staffing` are deprecated."""
    root = tmp_path_factory.mktemp("standard") / "schemas"
    shutil.copytree(SCHEMA_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    schema_path = root / "records" / "capacity-snapshot.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["notes"]["deprecated"] = True
    schema["properties"]["notes"]["x-deprecated"] = {
        "version": "1.1",
        "description": "Use the narrative record instead.",
    }
    schema_path.write_text(json.dumps(schema))
    csv_path = root / "codelists" / "unavailable-reasons.csv"
    lines = csv_path.read_text().splitlines()
    lines = [lines[0] + ",Deprecated"] + [
        line + (",1.1" if line.startswith("staffing,") else ",") for line in lines[1:]
    ]
    csv_path.write_text("\n".join(lines) + "\n")
    return Standard(root)


def test_deprecated_field_and_code_are_warnings(
    deprecating_standard: Standard, snapshot: dict[str, Any]
) -> None:
    record = copy.deepcopy(snapshot)
    record["beds"][0]["notAvailableReasons"][0]["reason"] = "staffing"
    _, issues = deprecating_standard.validate(record)
    assert {(i.severity, i.pointer, i.keyword) for i in issues} == {
        (Severity.WARNING, "/notes", "deprecated"),
        (Severity.WARNING, "/beds/0/notAvailableReasons/0/reason", "deprecated"),
    }
    notes = next(issue for issue in issues if issue.pointer == "/notes")
    assert (
        notes.message
        == "'notes' is deprecated since version 1.1. Use the narrative record instead."
    )


def test_warnings_come_after_errors(
    deprecating_standard: Standard, snapshot: dict[str, Any]
) -> None:
    snapshot["registeredPlaces"] = -1
    _, issues = deprecating_standard.validate(snapshot)
    assert [issue.severity for issue in issues] == [Severity.ERROR, Severity.WARNING]


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    copy_path = root / "common" / "period-copy.json"
    shutil.copy(root / "common" / "period.json", copy_path)
    with pytest.raises(ValueError, match="already used"):
        Standard(root)


def test_a_type_is_compiled_when_first_asked_for(snapshot: dict[str, Any]) -> None:
    """Validating one type compiles its validator alone; the bulk verdict's steps of another
    type are made at their first look-up, and are the same as its validator's."""
    fresh = Standard()
    assert fresh.validate(snapshot) == ("capacity-snapshot", [])
    assert set(fresh._validators) == {"capacity-snapshot"}
    steps = fresh.clean_checks()["recordType"]
    assert steps.get("workforce-snapshot") is None
    assert len(steps["workforce-snapshot"]) == 2  # the schemas at once, then the rules
    assert set(fresh._validators) == {"capacity-snapshot", "workforce-snapshot"}
    with pytest.raises(KeyError):
        steps["no-such-type"]
    assert fresh.types["capacity-snapshot"].fields is fresh.types["capacity-snapshot"].fields
