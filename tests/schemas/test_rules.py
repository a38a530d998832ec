"""The standard's rules: each is shown breaking by an example, and both ways of judging agree."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from care_exchange_standard import Standard, load_standard
from care_exchange_standard.fields import ITEMS
from care_exchange_standard.rules import (
    Clock,
    Context,
    RuleSetError,
    check_rules,
    parse_rule_set,
    verdict,
)
from tests.conftest import EXAMPLES, INVALID_EXAMPLES, VALID_EXAMPLES
from tests.schemas.drawn_records import drawn_bindings, examples_of, mutated

_STANDARD = load_standard()
RULES = [rule for name in _STANDARD.types for rule in _STANDARD.validator(name).rules]


# Each warning rule, broken by a valid example with one figure changed (path, value), and the
# pointers it blames: the record is still accepted, so the case lives here, not among the invalid
# examples.
RULE_EXAMPLES = EXAMPLES / "rules"


def _rule_examples() -> dict[str, Any]:
    """The files that show a warning rule or a rule that reads the service, by rule code."""
    found = {}
    for path in sorted(RULE_EXAMPLES.glob("*.json")):
        document = json.loads(path.read_text())
        assert path.stem == document["rule"].replace("/", "--"), path
        found[document["rule"]] = document
    return found


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
    broken_by = [name for name, codes in _labels().items() if rule.code in codes]
    if rule.code in _rule_examples():
        broken_by.append(f"rules/{rule.code}")
    assert broken_by, f"no invalid example or rule example breaks {rule.code}"


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


@pytest.mark.parametrize("code", sorted(_rule_examples()))
def test_each_rule_example_breaks_its_rule_and_its_pair_passes(
    standard: Standard, code: str
) -> None:
    example = _rule_examples()[code]
    type_name = code.split("/")[0]
    validator = standard.validator(type_name)
    rule = next(rule for rule in validator.rules if rule.code == code)
    day = date(2026, 11, 29)
    broken = example["breaks"]
    issues = validator.validate(broken["record"], Context.on(day, broken.get("service")))
    assert [(i.rule, i.pointer, i.severity) for i in issues] == [
        (code, pointer, rule.severity) for pointer in example["blamed"]
    ]
    sound = example["passes"]
    assert validator.validate(sound["record"], Context.on(day, sound.get("service"))) == []
    if "service" in broken:  # offline, where the service is unknown, it cannot judge
        assert validator.validate(broken["record"], Context.on(day)) == []


def test_warning_rules_and_rules_reading_the_service_have_examples_and_only_the_latter_warn() -> (
    None
):
    """A service's directory entry may lag its registration: nobody is refused over it."""
    shown = set(_rule_examples())
    reading_service = {rule.code for rule in RULES if "$service" in rule.expression}
    warning = {rule.code for rule in RULES if rule.severity == "warning"}
    assert shown == reading_service | warning
    assert {rule.severity for rule in RULES if rule.code in reading_service} == {"warning"}


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
        parse_rule_set(wrong, "t.json", standard.compiled_registry)
    broken = copy.deepcopy(document)
    broken["rules"][0]["expression"] = "$sum(beds.places"
    with pytest.raises(RuleSetError, match=r"t\.json capacity-snapshot/places-within-registered"):
        parse_rule_set(broken, "t.json", standard.compiled_registry)
    missing = copy.deepcopy(document)
    del missing["rules"][0]["message"]
    with pytest.raises(RuleSetError, match='"message" is a required property'):
        parse_rule_set(missing, "t.json", standard.compiled_registry)


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
    if not validator.is_valid(record):
        return
    clean = validator.clean
    explained = [i for i in validator.validate(record) if i.rule is not None]
    warned = not clean(record)
    assert (not explained) or warned
    if not explained:
        assert clean(record) == (validator.validate(record) == [])


RULED_TYPES = sorted({rule.record_type for rule in RULES})


@pytest.mark.slow
@pytest.mark.parametrize("record_type", RULED_TYPES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_rules_asked_together_pass_exactly_when_none_breaks(
    standard: Standard, record_type: str, data: st.DataObject
) -> None:
    """The bulk verdict asks a type's rules in one native function, and each alone when that
    raises: on records changed anywhere (fields dropped, values of other types, numbers and
    dates redrawn), with or without a service, it passes exactly when no rule breaks."""
    rules = standard.validator(record_type).rules
    words = sorted({word for rule in rules for word in re.findall(r'"([^"]*)"', rule.expression)})
    record = mutated(data, data.draw(st.sampled_from(examples_of(record_type))), words)
    bindings = data.draw(drawn_bindings())
    context = Context(bindings["latestDate"], bindings["latestMillis"], bindings.get("service"))
    broken = check_rules(rules, record, context) if isinstance(record, dict) else []
    judged = verdict(rules, Clock())
    assert judged is not None
    assert judged.one(record, context.bindings()) == (not broken)
    alone = judged.one(record)  # the clock's bindings, no service: as in bulk
    assert judged.many([record, record]) == [alone, alone]


def test_a_number_beyond_64_bits_is_judged_exactly(standard: Standard) -> None:
    """JSON allows integers beyond 64 bits and the schema sets no maximum: rules judge them."""
    record = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())
    validator = standard.validator("capacity-snapshot")
    roomy = record | {"registeredPlaces": 10**30}
    assert validator.is_valid(roomy)
    assert [issue.rule for issue in validator.validate(roomy) if issue.rule] == []
    assert validator.clean(roomy)
    crowded = copy.deepcopy(record)
    crowded["beds"][0]["places"] += 10**30
    crowded["beds"][0]["occupied"] += 10**30
    broken = {issue.rule for issue in validator.validate(crowded) if issue.rule}
    assert broken == {"capacity-snapshot/places-within-registered"}
    assert not validator.clean(crowded)


def test_a_rule_that_cannot_judge_does_not_spare_a_record_the_other_rules(
    standard: Standard,
) -> None:
    """`registeredPlaces` as text cannot be compared, but the row that does not add up fails."""
    record = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())
    record["registeredPlaces"] = "many"
    record["beds"][0]["occupied"] += 1
    rules = standard.validator("capacity-snapshot").rules
    judged = verdict(rules, Clock())
    assert judged is not None
    assert not judged.one(record)
    assert judged.many([record]) == [False]
    broken = {failure.rule.code for failure in check_rules(rules, record, Context.now())}
    assert broken == {"capacity-snapshot/row-adds-up"}
