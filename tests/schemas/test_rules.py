"""The standard's rules: each is shown breaking by an example, and both ways of judging agree."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from care_exchange_standard import Standard, load_standard
from care_exchange_standard.fields import ITEMS
from care_exchange_standard.rules import Context, RuleSetError, check_rules, parse_rule_set
from tests.conftest import EXAMPLES, INVALID_EXAMPLES, VALID_EXAMPLES

_STANDARD = load_standard()
RULES = [rule for name in _STANDARD.types for rule in _STANDARD.validator(name).rules]


def _example(name: str) -> Any:
    return json.loads((EXAMPLES / "valid" / f"{name}.json").read_text())


def _set(record: Any, path: str, value: Any) -> Any:
    """A copy of the record with the value at a slash-separated path (list indices as numbers)."""
    changed = copy.deepcopy(record)
    *parents, last = [int(part) if part.isdigit() else part for part in path.split("/")]
    node = changed
    for part in parents:
        node = node[part]
    node[last] = value
    return changed


# Each warning rule, broken by a valid example with one figure changed (path, value), and the
# pointers it blames: the record is still accepted, so the case lives here, not among the invalid
# examples.
WARNINGS: dict[str, tuple[str, str, Any, list[str]]] = {
    "complaints-and-compliments/complaints-received-accounted-for": (
        "complaints-and-compliments/scottish-care-at-home-quarter",
        "complaints/stillOpen",
        0,
        ["/complaints/received"],
    ),
    "home-care-activity/late-reasons-add-up": (
        "home-care-activity/scottish-hscp-monthly",
        "visits/late/visits",
        600,
        ["/visits/late/reasons"],
    ),
    "home-care-activity/hours-delivered-within-planned": (
        "home-care-activity/small-english-weekly",
        "hours/delivered",
        310.25,
        ["/hours/delivered"],
    ),
    "notifiable-event/controlled-drug-event-type": (
        "notifiable-event/unwitnessed-fall-fracture",
        "medication",
        {"incidentType": "omitted-dose", "controlledDrug": True},
        ["/eventType"],
    ),
    "workforce-snapshot/wte-within-headcount": (
        "workforce-snapshot/care-at-home-quarter",
        "staff/1/wte",
        37.5,
        ["/staff/1/wte"],
    ),
}


def _labels() -> dict[str, set[str]]:
    """Rule codes the invalid examples are labelled with, by example."""
    found: dict[str, set[str]] = {}
    for path in sorted((EXAMPLES / "expected-errors").glob("*.json")):
        for name, errors in json.loads(path.read_text()).items():
            codes = {error["rule"] for error in errors if "rule" in error}
            found[f"{path.stem}/{name}"] = codes
    return found


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_each_rule_blames_real_fields_and_an_example_breaks_it(
    standard: Standard, rule: Any
) -> None:
    fields = standard.types[rule.record_type].fields
    for pointer in rule.pointers:
        parts = [part for part in pointer.split("/")[1:]]
        path = ((rule.each, ITEMS) if rule.each else ()) + tuple(parts)
        assert path in fields, f"{rule.code} blames {pointer}, not a field"
    if rule.code.endswith("-only") and "$service" in rule.expression:
        return  # needs the service: test_each_service_rule_passes_a_fitting_service_... shows it
    if rule.severity == "warning":
        assert rule.code in WARNINGS, f"no case in WARNINGS breaks {rule.code}"
        return  # invalid examples are refused; a warning is shown on a record that is accepted
    broken_by = [name for name, codes in _labels().items() if rule.code in codes]
    assert broken_by, f"no invalid example is labelled as breaking {rule.code}"


@pytest.mark.parametrize("example", VALID_EXAMPLES, ids=str)
def test_no_valid_example_breaks_a_rule(standard: Standard, example: Any) -> None:
    rules = standard.validator(example.type_name).rules
    assert check_rules(rules, example.record, Context.on(date(2026, 11, 29))) == []


@pytest.mark.parametrize("example", INVALID_EXAMPLES, ids=str)
def test_an_invalid_example_breaks_exactly_its_labelled_rules(
    standard: Standard, example: Any
) -> None:
    found = {issue.rule for issue in standard.validator(example.type_name).validate(example.record)}
    assert found - {None} == _labels().get(str(example), set())


def test_a_rule_can_read_the_service(standard: Standard) -> None:
    record = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())
    validator = standard.validator("capacity-snapshot")
    home = Context.now({"serviceType": "care-home-with-nursing"})
    at_home = Context.now({"serviceType": "care-at-home"})
    assert validator.validate(record, home) == []
    [issue] = validator.validate(record, at_home)
    assert (issue.rule, issue.pointer, issue.severity) == (
        "capacity-snapshot/care-home-only",
        "/serviceId",
        "warning",
    )
    assert issue.as_dict()["rule"] == "capacity-snapshot/care-home-only"


@pytest.mark.parametrize("code", sorted(WARNINGS))
def test_each_warning_rule_is_broken_and_the_record_accepted(standard: Standard, code: str) -> None:
    name, path, value, pointers = WARNINGS[code]
    type_name = name.split("/")[0]
    record = _set(_example(name), path, value)
    issues = standard.validator(type_name).validate(record, Context.on(date(2026, 11, 29)))
    assert [(i.rule, i.pointer, i.severity) for i in issues] == [
        (code, pointer, "warning") for pointer in pointers
    ]


# Each rule that reads the service, with an example, a service it fits and one it does not.
NURSING_HOME = {"serviceType": "care-home-with-nursing"}
RESIDENTIAL_HOME = {"serviceType": "care-home-without-nursing"}
SERVICE_RULES = [
    (
        "capacity-snapshot/care-home-only",
        "capacity-snapshot/nursing-home-open",
        NURSING_HOME,
        {"serviceType": "care-at-home"},
    ),
    (
        "capacity-snapshot/nursing-places-nursing-home-only",
        "capacity-snapshot/nursing-home-open",
        NURSING_HOME,
        RESIDENTIAL_HOME,
    ),
    (
        "fees-and-charges/care-home-only",
        "fees-and-charges/english-home-mixed-funding",
        NURSING_HOME,
        {"serviceType": "supported-living"},
    ),
    (
        "fees-and-charges/nursing-charges-nursing-home-only",
        "fees-and-charges/scottish-nursing-home-nchc",
        NURSING_HOME | {"geography": {"country": "scotland"}},
        RESIDENTIAL_HOME | {"geography": {"country": "scotland"}},
    ),
    (
        "fees-and-charges/national-care-home-contract-scotland-only",
        "fees-and-charges/scottish-nursing-home-nchc",
        NURSING_HOME | {"geography": {"country": "scotland"}},
        NURSING_HOME | {"geography": {"country": "england"}},
    ),
    (
        "home-care-activity/care-at-home-only",
        "home-care-activity/scottish-hscp-monthly",
        {"serviceType": "care-at-home-and-housing-support"},
        RESIDENTIAL_HOME,
    ),
    (
        "resident-movements/care-home-only",
        "resident-movements/english-residential-home-month",
        RESIDENTIAL_HOME,
        {"serviceType": "care-at-home"},
    ),
]


@pytest.mark.parametrize(
    ("code", "name", "fitting", "unfitting"), SERVICE_RULES, ids=[case[0] for case in SERVICE_RULES]
)
def test_each_service_rule_passes_a_fitting_service_and_warns_of_another(
    standard: Standard, code: str, name: str, fitting: Any, unfitting: Any
) -> None:
    type_name = name.split("/")[0]
    validator = standard.validator(type_name)
    record = _example(name)
    assert validator.validate(record, Context.now(fitting)) == []
    assert validator.validate(record, Context.now()) == []  # offline: the service is not known
    [issue] = validator.validate(record, Context.now(unfitting))
    rule = next(rule for rule in validator.rules if rule.code == code)
    assert (issue.rule, issue.pointer, issue.severity) == (code, rule.pointers[0], "warning")


def test_every_service_rule_has_a_case_and_only_warns() -> None:
    """The directory entry may lag the registration: a provider is never refused over it."""
    reading_service = {rule.code for rule in RULES if "$service" in rule.expression}
    assert reading_service == {case[0] for case in SERVICE_RULES}
    assert {rule.severity for rule in RULES if "$service" in rule.expression} == {"warning"}


def test_a_moment_may_be_five_minutes_ahead_of_the_clock_and_no_more(standard: Standard) -> None:
    record = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())
    validator = standard.validator("capacity-snapshot")
    end_of_first = Context.on(date(2026, 11, 1))
    for as_at, broken in (
        ("2026-11-01T19:00:00-05:00", False),  # midnight UTC: now, at the end of the 1st
        ("2026-11-02T00:04:00Z", False),  # within five minutes of the server's clock
        ("2026-11-02T00:06:00Z", True),
    ):
        rules = check_rules(validator.rules, record | {"asAt": as_at}, end_of_first)
        assert bool(rules) == broken, as_at


def test_a_rule_file_with_a_bad_code_or_expression_is_refused(standard: Standard) -> None:
    document = json.loads((EXAMPLES.parent / "rules/capacity-snapshot.json").read_text())
    wrong = copy.deepcopy(document)
    wrong["rules"][0]["code"] = "workforce-snapshot/places"
    with pytest.raises(RuleSetError, match="must start capacity-snapshot/"):
        parse_rule_set(wrong, "t.json", standard.registry)
    broken = copy.deepcopy(document)
    broken["rules"][0]["expression"] = "$sum(beds.places"
    with pytest.raises(RuleSetError, match=r"t\.json capacity-snapshot/places-within-registered"):
        parse_rule_set(broken, "t.json", standard.registry)
    missing = copy.deepcopy(document)
    del missing["rules"][0]["message"]
    with pytest.raises(RuleSetError, match="'message' is a required property"):
        parse_rule_set(missing, "t.json", standard.registry)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_bulk_verdict_agrees_with_the_explanation(standard: Standard, data: Any) -> None:
    """Counts in a record are nudged; the one-call verdict passes exactly when no rule breaks."""
    example = data.draw(
        st.sampled_from([e for e in VALID_EXAMPLES if standard.validator(e.type_name).rules])
    )
    record = copy.deepcopy(example.record)

    def nudge(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: nudge(v) for k, v in value.items()}
        if isinstance(value, list):
            return [nudge(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool):
            return max(0, value + data.draw(st.integers(-3, 3)))
        return value

    record = nudge(record)
    validator = standard.validator(example.type_name)
    schema_ok, clean = validator.checks
    if not schema_ok(record):
        return
    explained = [i for i in validator.validate(record) if i.rule is not None]
    warned = not clean(record)
    assert (not explained) or warned
    if not explained:
        assert clean(record) == (validator.validate(record) == [])


def test_a_number_too_big_for_the_rules_engine_is_not_judged_and_nothing_fails(
    standard: Standard,
) -> None:
    """JSON allows integers beyond 64 bits and the schema sets no maximum: the rules pass."""
    record = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())
    huge = record | {"registeredPlaces": 10**30}
    validator = standard.validator("capacity-snapshot")
    assert validator.is_valid(huge)
    assert [issue.rule for issue in validator.validate(huge) if issue.rule] == []
    assert validator.checks[1](huge)
