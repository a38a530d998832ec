"""The validator's run: every line and item judged once, at its position, in or out of process."""

from __future__ import annotations

import gc
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from care_exchange_standard import Standard
from care_exchange_standard import sources as sources_module
from care_exchange_standard import validator as validator_module
from care_exchange_standard.sources import Records
from care_exchange_standard.validator import _unclean, validate_paths
from tests.conftest import EXAMPLES, INVALID_EXAMPLES, VALID_EXAMPLES
from tests.schemas.validator.test_sources import json_values

GOOD = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())
BAD = dict(GOOD, registeredPlaces=-1)

lines = st.lists(st.sampled_from(["good", "bad", "broken", "blank"]), min_size=1, max_size=40)


def ndjson(kinds: list[str]) -> str:
    text = {
        "good": json.dumps(GOOD),
        "bad": json.dumps(BAD),
        "broken": '{"recordType": ',
        "blank": "  ",
    }
    return "".join(text[kind] + "\n" for kind in kinds)


BROKEN_RULE = json.loads(json.dumps(GOOD))
BROKEN_RULE["beds"][0]["occupied"] += 1
ODD = [  # drawn apart too: among the examples, few batches would hold one
    GOOD,
    BAD,
    BROKEN_RULE,
    dict(GOOD, recordType="no-such-type"),
    dict(GOOD, recordType=7),
    dict(GOOD, recordType=["capacity-snapshot"]),  # not a text, nor one a set can hold
    {"notes": "no type"},
    7,
    None,
    [GOOD],
]
DRAWN = [
    *(example.record for example in VALID_EXAMPLES),
    *(example.record for example in INVALID_EXAMPLES),
    *ODD,
]


ONE_TYPE = [GOOD, BAD, BROKEN_RULE]  # a batch of these declares one type only


@settings(max_examples=60, deadline=None)
@given(
    batch=st.one_of(
        st.lists(st.sampled_from(DRAWN), max_size=40),
        st.lists(st.sampled_from(ODD), max_size=40),
        st.lists(st.sampled_from(ONE_TYPE), max_size=40),
    )
)
def test_a_batch_is_judged_a_step_at_a_time_as_each_record_alone(
    standard: Standard, batch: list[Any]
) -> None:
    """Each step of the verdict asked over the batch before the next: the same verdicts as
    asking a record all of its steps at once, and as explaining it; a batch of one type, read
    in one pass, too."""
    alone: list[str | None] = []
    for record in batch:
        declared = standard.type_of(record)
        if isinstance(declared, str) and standard.validator(declared).clean(record):
            alone.append(declared)
            assert standard.validate(record)[1] == []
        else:
            alone.append(None)
    clean: Counter[str] = Counter()
    assert _unclean(standard.clean_checks(), batch, clean) == [
        index for index, name in enumerate(alone) if name is None
    ]
    assert clean == Counter(name for name in alone if name is not None)


@settings(max_examples=40, deadline=None)
@given(kinds=lines)
def test_every_ndjson_line_is_judged_at_its_number(standard: Standard, kinds: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "batch.ndjson"
        path.write_text(ndjson(kinds))
        report = validate_paths(standard, [path], jobs=1)
    expected = {
        f":{number}": kind
        for number, kind in enumerate(kinds, start=1)
        if kind in ("bad", "broken")
    }
    found = {result.location: result for result in report.results}
    assert list(found) == list(expected)  # in the lines' order, across batches
    for location, kind in expected.items():
        keyword = found[location].errors[0].keyword
        assert keyword == ("json" if kind == "broken" else "minimum")
    assert report.records == sum(kind != "blank" for kind in kinds)
    assert report.invalid == len(expected)


@pytest.mark.parametrize("jobs", [1, 2])
def test_workers_and_this_process_agree(standard: Standard, tmp_path: Path, jobs: int) -> None:
    """Text with brackets makes the quick cut go wrong; the exact reader takes over."""
    closing = dict(GOOD, notes="a note with } and ] in it")
    opening = dict(GOOD, notes="a note with { and [ in it")
    records: list[Any] = [GOOD, BAD, closing, BAD, 7] * 20 + [GOOD, BAD, opening, BAD, 7] * 20
    path = tmp_path / "many.json"
    path.write_text(json.dumps(records, indent=1))
    lines_path = tmp_path / "many.ndjson"
    lines_path.write_text(ndjson(["good", "bad", "broken"] * 50))
    original = sources_module.BLOCK
    sources_module.BLOCK = 300
    try:
        report = validate_paths(standard, [path, lines_path], jobs=jobs)
    finally:
        sources_module.BLOCK = original
    assert report.records == 200 + 150
    invalid = [r.where for r in report.results if not r.valid]
    assert invalid[:3] == [f"{path}[2]", f"{path}[4]", f"{path}[5]"]
    assert len(invalid) == 120 + 100
    assert invalid[120:] == [f"{lines_path}:{n}" for k in range(50) for n in (3 * k + 2, 3 * k + 3)]
    broken = [r for r in report.results if r.where == f"{lines_path}:150"]
    assert broken[0].errors[0].message.startswith("line 150 is not JSON")
    assert [item.status for item in report.inputs] == ["read", "read"]


def test_a_worker_judges_a_unit_with_the_cycle_collector_paused(
    standard: Standard, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = validator_module.judge

    def spied(*arguments: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*arguments)

    monkeypatch.setattr(validator_module, "_worker_standard", standard)
    monkeypatch.setattr(validator_module, "judge", spied)
    outcome = validator_module._judge_in_worker(Records([("[1]", GOOD), ("[2]", BAD)]))
    assert seen == [False]
    assert gc.isenabled()
    assert outcome.tally == {"capacity-snapshot": [1, 1]}


def test_only_records_with_issues_are_kept_and_the_cap_counts_the_rest(
    standard: Standard, tmp_path: Path
) -> None:
    path = tmp_path / "batch.ndjson"
    path.write_text(ndjson(["good"] * 30 + ["bad"] * 5))
    heard: list[str] = []
    report = validate_paths(standard, [path], keep=2, listener=lambda r: heard.append(r.location))
    assert [result.location for result in report.results] == [":31", ":32"]
    assert report.omitted == 3 and heard == [":31", ":32", ":33", ":34", ":35"]
    assert report.summary()["valid"] == 30 and report.summary()["errors"] == 5


def test_a_broken_array_keeps_the_items_before_the_break(
    standard: Standard, tmp_path: Path
) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[" + json.dumps(GOOD) + "," + json.dumps(BAD) + ", {]")
    report = validate_paths(standard, [path], jobs=1)
    [item] = report.inputs
    assert item.status == "unreadable" and item.records == 2 and item.invalid == 1
    assert item.message is not None and item.message.startswith("after item 2: not JSON")


# Records that declare a type (a known one, an unknown one, or a value of any JSON kind) with
# members of any JSON kind beside it: many in one batch declare the same.
declaring = st.fixed_dictionaries(
    {"recordType": st.sampled_from(["capacity-snapshot", "no-such-type"]) | json_values},
    optional={"beds": json_values, "asAt": json_values, "id": json_values},
)
odd_records = st.tuples(declaring, st.lists(declaring | json_values, max_size=70)).map(
    lambda drawn: [drawn[0], *drawn[1]]  # an object first: the file reads as NDJSON
)


@settings(max_examples=100, deadline=None)
@given(records=odd_records)
def test_any_json_record_is_judged_never_an_internal_error(
    standard: Standard, records: list[Any]
) -> None:
    """Whatever a line holds, it is a record judged at its number: the run never fails."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "odd.ndjson"
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
        report = validate_paths(standard, [path], jobs=1)
    assert [(item.status, item.message) for item in report.inputs] == [("read", None)]
    assert report.records == len(records)
    assert report.invalid == len(records)  # none of them is a whole capacity snapshot
    assert [result.location for result in report.results] == [
        f":{number}" for number in range(1, len(records) + 1)
    ]
