"""The records the suite publishes are valid, new each time, and labelled as test data."""

from __future__ import annotations

import random

import pytest

from care_exchange_conformance.testdata import example_record, has_examples
from care_exchange_standard import Standard, load_standard


@pytest.mark.parametrize("record_type", load_standard().record_types)
def test_every_record_is_valid_test_data_with_a_new_id(
    standard: Standard, record_type: str
) -> None:
    assert has_examples(record_type)
    first, second = (example_record(record_type, "svc-x", random.Random(1)) for _ in range(2))
    assert first["testData"] is True and first["serviceId"] == "svc-x"
    assert first["id"] != second["id"]
    type_name, issues = standard.validate(first)
    assert type_name == record_type
    assert [issue for issue in issues if issue.severity.value == "error"] == []
