"""Filled returns, with every value worked out by hand from the records in conftest."""

from __future__ import annotations

from typing import Any

import pytest

from care_exchange_standard.returns import (
    Limits,
    PeriodError,
    ReturnRequest,
    fill,
    fill_many,
    load_template,
)
from tests.schemas.returns.conftest import SERVICE, capacity, template


def _values(filled: Any) -> dict[str, tuple[str, Any]]:
    return {field.definition["code"]: (field.status, field.value) for field in filled.fields}


def test_a_month_is_filled_from_that_months_records_of_that_service(
    records: list[dict[str, Any]],
) -> None:
    filled = fill(load_template(template()), records, service_id=SERVICE, period="2026-10")
    # October: cap-oct-03 (occupied 36 + 15 + 1 = 52) and cap-oct-28 (30 + 10 + 1 = 41), in
    # that order; November's, the other service's and the test record are left out.
    assert _values(filled) == {
        "REG": ("value", 60),
        "OCC_NURSING": ("value", 30),
        "AVG_OCC": ("value", 46.5),  # (52 + 41) / 2
        "SNAPSHOTS": ("value", 2),
        "ISOLATION": ("unmapped", None),
    }
    assert filled.sources == {"capacity-snapshot": ["cap-oct-03", "cap-oct-28"]}
    body = filled.as_dict()
    assert body["period"] == {
        "kind": "month",
        "designator": "2026-10",
        "start": "2026-10-01",
        "end": "2026-10-31",
    }
    assert body["coverage"] == {"value": 4, "empty": 0, "no-source": 0, "unmapped": 1, "error": 0}
    assert body["fields"][0] == {
        "code": "REG",
        "label": "Registered places at the month's last snapshot",
        "unit": "places",
        "valueType": "integer",
        "value": 60,
        "status": "value",
    }


def test_a_month_with_nothing_published_is_told_apart_from_a_true_zero(
    records: list[dict[str, Any]],
) -> None:
    filled = fill(load_template(template()), records, service_id=SERVICE, period="2026-09")
    values = _values(filled)
    assert values["SNAPSHOTS"] == ("value", 0)  # $count([]) is a true zero
    assert values["REG"] == ("no-source", None)
    assert values["OCC_NURSING"] == ("no-source", None)  # $sum of no snapshot is undefined
    message = {f.definition["code"]: f.message for f in filled.fields}["REG"]
    assert message == "nothing published in the period for capacity-snapshot"


def test_an_as_at_return_reads_the_latest_snapshot_at_or_before_the_moment(
    records: list[dict[str, Any]],
) -> None:
    as_at = load_template(template(period={"kind": "as-at"}))
    filled = fill(as_at, records, service_id=SERVICE, period="2026-10-31")
    assert filled.sources == {"capacity-snapshot": ["cap-oct-28"]}
    assert _values(filled)["SNAPSHOTS"] == ("value", 1)
    early = fill(as_at, records, service_id=SERVICE, period="2026-10-03T07:59:59Z")
    assert early.sources == {"capacity-snapshot": []}  # cap-oct-03 is 08:00 UTC


def test_snapshots_are_in_time_order_across_the_change_of_the_clocks() -> None:
    """On 25 October 2026 the clocks go back: 00:30 BST is 23:30 UTC the day before, so the
    snapshot written 23:45 UTC is the later one, though its text sorts first."""
    before = capacity("cap-bst", "2026-10-25T00:30:00+01:00", (30, 10, 1))
    after = capacity("cap-gmt", "2026-10-24T23:45:00+00:00", (20, 10, 1))
    month = fill(load_template(template()), [after, before], service_id=SERVICE, period="2026-10")
    assert month.sources == {"capacity-snapshot": ["cap-bst", "cap-gmt"]}
    assert _values(month)["OCC_NURSING"] == ("value", 20)
    as_at = load_template(template(period={"kind": "as-at"}))
    latest = fill(as_at, [before, after], service_id=SERVICE, period="2026-10-25")
    assert latest.sources == {"capacity-snapshot": ["cap-gmt"]}


def test_the_last_copy_of_a_record_wins(records: list[dict[str, Any]]) -> None:
    corrected = capacity("cap-oct-28", "2026-10-28T09:00:00Z", (20, 10, 1))
    filled = fill(
        load_template(template()), [*records, corrected], service_id=SERVICE, period="2026-10"
    )
    assert _values(filled)["OCC_NURSING"] == ("value", 20)


@pytest.mark.parametrize(
    ("expression", "value_type", "said"),
    [
        ("capacitySnapshot.registeredPlaces", "integer", "gave 2 values where one was expected"),
        ("$average(capacitySnapshot.$sum(beds.occupied))", "integer", "gave 46.5 where a whole"),
        ('"sixty"', "integer", "where a number was expected"),
        ("capacitySnapshot[-1].registeredPlaces", "string", "where text was expected"),
        ('"maybe"', "code", "not one of the return's codes"),
        ("capacitySnapshot[-1].asAt", "date", None),
    ],
)
def test_values_must_have_the_fields_type(
    records: list[dict[str, Any]], expression: str, value_type: str, said: str | None
) -> None:
    document = template()
    document["fields"][0] |= {
        "expression": expression,
        "valueType": value_type,
        "dependsOn": [
            "capacity-snapshot/registeredPlaces",
            "capacity-snapshot/beds/occupied",
            "capacity-snapshot/asAt",
        ],
    }
    if value_type == "code":
        document["fields"][0]["codes"] = ["yes", "no"]
    filled = fill(load_template(document), records, service_id=SERVICE, period="2026-10")
    first = filled.fields[0]
    if said is None:
        assert (first.status, first.value) == ("value", "2026-10-28")
    else:
        assert first.status == "error"
        assert first.message is not None and said in first.message
    assert _values(filled)["SNAPSHOTS"] == ("value", 2)


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("($f := function($n){ $f($n + 1) }; $f(0))", ""),
        ("($loop := function($n){ $n > 0 ? $loop($n) : 0 }; $loop(1))", ""),
        ('$count([1..9999999].($string($) & "padding"))', "sequence length"),
        ('$pad("", 400000000, "x")', ""),  # 400 MB, over the 256 MB allowed
    ],
)
def test_a_hostile_expression_fails_only_its_own_field(
    records: list[dict[str, Any]], expression: str, said: str
) -> None:
    document = template()
    document["fields"][1] |= {"expression": expression, "dependsOn": ["capacity-snapshot/id"]}
    # A field's time counts a new worker's start: a second leaves room for a loaded machine's.
    limits = Limits(seconds_per_field=1.0, memory_bytes=256 * 1024 * 1024)
    filled = fill(
        load_template(document), records, service_id=SERVICE, period="2026-10", limits=limits
    )
    failed = filled.fields[1]
    assert failed.status == "error"
    assert failed.message is not None and said in failed.message
    assert _values(filled)["REG"] == ("value", 60)
    assert _values(filled)["SNAPSHOTS"] == ("value", 2)  # evaluated after, by a new worker


def test_a_field_may_use_memory_up_to_its_allowance(records: list[dict[str, Any]]) -> None:
    """The allowance is beyond what the worker holds once started: jsonatapy alone maps about
    1 GB, and a cap of 1 GB in all crashed the worker on a 300 kB answer."""
    document = template()
    document["fields"][1] |= {
        "expression": '$pad("", 5000000, "x")',
        "valueType": "string",
        "dependsOn": ["capacity-snapshot/id"],
    }
    limits = Limits(memory_bytes=256 * 1024 * 1024)
    filled = fill(
        load_template(document), records, service_id=SERVICE, period="2026-10", limits=limits
    )
    assert (filled.fields[1].status, len(filled.fields[1].value or "")) == ("value", 5_000_000)


def test_a_catastrophic_regular_expression_takes_linear_time(
    records: list[dict[str, Any]],
) -> None:
    document = template()
    document["fields"][1] |= {
        "expression": (
            "$contains($join(capacitySnapshot.notes) & $pad('', 20000, 'a') & 'b', /^(a+)+$/)"
        ),
        "valueType": "boolean",
        "dependsOn": ["capacity-snapshot/notes"],
    }
    limits = Limits(seconds_per_field=1.0)
    filled = fill(
        load_template(document), records, service_id=SERVICE, period="2026-10", limits=limits
    )
    assert (filled.fields[1].status, filled.fields[1].value) == ("value", False)


def test_an_event_return_needs_an_event_of_the_service(records: list[dict[str, Any]]) -> None:
    document = template(recordTypes=["capacity-snapshot", "notifiable-event"])
    document["period"] = {"kind": "event"}
    with pytest.raises(PeriodError, match="no event record 'ev-1'"):
        fill(load_template(document), records, service_id=SERVICE, period="ev-1")


def test_a_field_that_errs_fails_alone_by_either_evaluator(
    records: list[dict[str, Any]],
) -> None:
    """A worker answers a template's first return with jsonatapy and the next natively, all
    native fields in one call; when one errs, each is asked on its own."""
    document = template()
    document["fields"][1] |= {
        "expression": 'capacitySnapshot[-1].registeredPlaces < "many"',
        "valueType": "boolean",
        "dependsOn": ["capacity-snapshot/registeredPlaces"],
    }
    requests = [ReturnRequest(SERVICE, records)] * 2
    for filled in fill_many(load_template(document), requests, period="2026-10"):
        failed = filled.fields[1]
        assert failed.status == "error"
        assert failed.message is not None and "T2009" in failed.message
        assert _values(filled)["REG"] == ("value", 60)
        assert _values(filled)["SNAPSHOTS"] == ("value", 2)
