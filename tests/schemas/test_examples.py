"""Every example passes or fails exactly as labelled, and both validators agree on every verdict."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from care_exchange_standard import Severity, Standard
from tests.conftest import INVALID_EXAMPLES, VALID_EXAMPLES, Example


@pytest.mark.parametrize("example", VALID_EXAMPLES, ids=str)
def test_valid_example_has_no_errors(standard: Standard, example: Example) -> None:
    type_name, issues = standard.validate(example.record)
    assert type_name == example.type_name
    assert [issue for issue in issues if issue.severity is Severity.ERROR] == []


@pytest.mark.parametrize("example", INVALID_EXAMPLES, ids=str)
def test_invalid_example_fails_exactly_as_labelled(standard: Standard, example: Example) -> None:
    type_name, issues = standard.validate(example.record)
    assert type_name == example.type_name
    found = {(issue.pointer, issue.keyword) for issue in issues if issue.severity is Severity.ERROR}
    assert found == example.expected


@pytest.mark.parametrize("example", VALID_EXAMPLES + INVALID_EXAMPLES, ids=str)
def test_fast_and_reference_validators_agree_on_every_example(
    standard: Standard, example: Example
) -> None:
    """Schema verdicts only: an example invalid by the standard's rules alone passes its schema."""
    fast = standard.validator(example.type_name).is_valid(example.record)
    reference = standard.reference_validator(example.type_name).is_valid(example.record)
    by_rules_only = bool(example.expected) and all(kw == "rule" for _, kw in example.expected)
    assert fast == reference == (example in VALID_EXAMPLES or by_rules_only)


def _leaf_paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [at]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _leaf_paths(child, (*at, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _leaf_paths(child, (*at, index))
    return paths


def _set(record: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = record
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return record


REPLACEMENTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        [
            "",
            "2026-02-30",
            "2026-11-02",
            "2026-11-02T09:00:00Z",
            "2026-11-02T09:00:00",
            "2026-11-02 09:00:00+00:00",
            "CS2003001025",
            "CS20030010",
            "SC012345",
            "S12000036",
            "https://example.org/x",
            "not a uri",
            "nursing",
            "other",
            "1.0",
            "2.0",
        ]
    ),
    st.text(max_size=12),
    st.lists(st.integers(min_value=-1, max_value=3), max_size=2),
    st.fixed_dictionaries({"unexpected": st.integers()}),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_and_reference_validators_agree_on_mutated_records(
    standard: Standard, data: st.DataObject
) -> None:
    """A single random change anywhere in a valid record: both validators reach the same verdict."""
    example = data.draw(st.sampled_from(VALID_EXAMPLES), label="example")
    record = copy.deepcopy(example.record)
    path = data.draw(st.sampled_from(_leaf_paths(record)[1:]), label="path")
    mutated = _set(record, path, data.draw(REPLACEMENTS, label="value"))
    fast = standard.validator(example.type_name).is_valid(mutated)
    reference = standard.reference_validator(example.type_name).is_valid(mutated)
    assert fast == reference


@pytest.mark.parametrize("address", ["@", "a@", "x y@z", "data@provider.org.uk"])
def test_both_validators_read_an_email_address_alike(standard: Standard, address: str) -> None:
    """jsonschema alone would take anything with an @ for an address (Hypothesis found "@")."""
    (example,) = [found for found in VALID_EXAMPLES if found.type_name == "provider"][:1]
    record = {**example.record, "dataContactEmail": address}
    fast = standard.validator("provider").is_valid(record)
    assert fast == standard.reference_validator("provider").is_valid(record)
    assert fast is (address == "data@provider.org.uk")
