"""A template from another organisation is checked before anyone's records go through it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from care_exchange_standard.returns import (
    TemplateError,
    check_template,
    load_template,
    template_coverage,
)
from tests.schemas.returns.conftest import template


def _with_field(**changes: Any) -> dict[str, Any]:
    document = template()
    document["fields"][1] = document["fields"][1] | changes
    return document


def test_a_sound_template_has_no_problems_and_reports_its_coverage() -> None:
    assert check_template(template()) == []
    coverage = template_coverage(load_template(template()))
    assert (coverage["fields"], coverage["exact"], coverage["derived"], coverage["unmapped"]) == (
        5,
        1,
        3,
        1,
    )
    assert coverage["mappedShare"] == 0.8
    assert [gap["code"] for gap in coverage["unmappedFields"]] == ["ISOLATION"]


@pytest.mark.parametrize(
    ("changes", "pointer", "said"),
    [
        ({"expression": '$eval("1")'}, "/fields/1/expression", "$eval is not allowed"),
        ({"expression": "$now()"}, "/fields/1/expression", "reproducible"),
        ({"expression": "$sum(capacitySnapshot.beds.occupied"}, "/fields/1/expression", "parse"),
        ({"expression": "1" + " + 1" * 1200}, "/fields/1/expression", "is too long"),
        (
            {"expression": "$sum(capacitySnapshot.beds.ocupied)"},
            "/fields/1/expression",
            "`ocupied` is not a field of beds",
        ),
        (
            {"expression": "capacitySnapshot[-1].registeredPlaces"},
            "/fields/1/dependsOn",
            "reads capacity-snapshot/registeredPlaces: list it in dependsOn",
        ),
        (
            {"expression": '$count(capacitySnapshot[admissions.status="closed"])'},
            "/fields/1/dependsOn",
            "reads capacity-snapshot/admissions/status",
        ),
        (
            {"dependsOn": ["capacity-snapshot/beds/occupied", "capacity-snapshot/bedz"]},
            "/fields/1/dependsOn/1",
            "capacity-snapshot/bedz is not a field",
        ),
        (
            {"dependsOn": ["workforce-snapshot/staff"]},
            "/fields/1/dependsOn/0",
            "not a record type of the template",
        ),
        ({"valueType": "code"}, "/fields/1", "'codes' is a required property"),
        ({"match": "unmapped"}, "/fields/1", "'reason' is a required property"),
        ({"code": "REG"}, "/fields/1/code", "used by field 0 too"),
    ],
)
def test_each_problem_is_told_at_its_place(
    changes: dict[str, Any], pointer: str, said: str
) -> None:
    problems = check_template(_with_field(**changes))
    assert any(p.pointer == pointer and said in p.message for p in problems), problems
    with pytest.raises(TemplateError) as refused:
        load_template(_with_field(**changes))
    assert refused.value.problems == problems


def test_names_inside_predicates_and_functions_are_checked_too() -> None:
    inside = '$sum(capacitySnapshot.beds[careLevl="nursing"].occupied)'
    assert any("`careLevl`" in p.message for p in check_template(_with_field(expression=inside)))
    lambda_body = "$sum($map(capacitySnapshot.beds, function($b){ $b.ocupied }))"
    problems = check_template(_with_field(expression=lambda_body))
    assert any("`ocupied` is not a field of the standard" in p.message for p in problems)


def test_the_service_and_the_period_are_readable() -> None:
    reads = _with_field(
        expression='service.serviceType = "care-home-with-nursing" ? period.start : "x"',
        dependsOn=["service/serviceType"],
        valueType="string",
    )
    assert check_template(reads) == []
    wrong = _with_field(expression="period.begin", dependsOn=["service/serviceType"])
    assert any("`begin` is not a member of period" in p.message for p in check_template(wrong))


def test_unknown_record_types_and_event_returns_are_refused() -> None:
    unknown = template(recordTypes=["capacity-snapshot", "bed-census"])
    assert [p.pointer for p in check_template(unknown)] == ["/recordTypes/1"]
    event = template(period={"kind": "event"})
    assert [p.pointer for p in check_template(event)] == ["/recordTypes"]


def test_a_file_that_is_not_json_is_one_problem(tmp_path: Any) -> None:
    path = tmp_path / "t.json"
    path.write_text("{not json")
    with pytest.raises(TemplateError, match=r"t\.json"):
        load_template(path)


def test_checking_leaves_the_recursion_limit_alone_and_refuses_deep_nesting() -> None:
    """The parser's import would raise the whole process's limit; a fresh process shows it."""
    probe = (
        "import sys\n"
        "from care_exchange_standard.returns.expressions import read\n"
        "before = sys.getrecursionlimit()\n"
        "assert read('1 + 1', {}).problems == []\n"
        "assert sys.getrecursionlimit() == before, sys.getrecursionlimit()\n"
        "deep = read('(' * 1500 + '1' + ')' * 1500, {}).problems\n"
        "assert deep and deep[0].startswith('does not parse'), deep\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
