from __future__ import annotations

import pytest

from care_exchange_standard import load_standard
from tests.schemas.tables.conftest import FORMATS, RECORD_TYPES, examples, read, spreadsheet


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_every_valid_example_comes_back_the_same(record_type: str, fmt: str) -> None:
    records = examples(record_type)
    assert records, f"no valid examples of {record_type}"
    rows = read(spreadsheet(record_type, fmt, records), fmt)
    assert [row.problems for row in rows] == [()] * len(records)
    assert [row.record for row in rows] == records


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_the_record_type_is_recovered_from_the_file_and_records_validate(
    record_type: str, fmt: str
) -> None:
    rows = read(spreadsheet(record_type, fmt, examples(record_type)), fmt)
    standard = load_standard()
    for row in rows:
        found, issues = standard.validate(row.record)
        assert found == record_type
        assert [issue for issue in issues if issue.severity == "error"] == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_a_blank_spreadsheet_holds_no_records(record_type: str, fmt: str) -> None:
    assert read(spreadsheet(record_type, fmt), fmt) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_type_can_be_given_and_wins(fmt: str) -> None:
    data = spreadsheet("capacity-snapshot", fmt, examples("capacity-snapshot"))
    rows = read(data, fmt, record_type="capacity-snapshot")
    assert [row.record for row in rows] == examples("capacity-snapshot")
