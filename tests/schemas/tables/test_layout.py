from __future__ import annotations

import pytest

from care_exchange_standard import load_standard
from care_exchange_standard.fields import ITEMS
from care_exchange_standard.tables.layout import (
    MAX_SHEET_NAME,
    SHEET_NAME_BAD,
    layout_for,
    normalise,
    sheet_name,
)
from care_exchange_standard.tables.reading import _guess_type
from tests.schemas.tables.conftest import RECORD_TYPES


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_headings_and_sheet_names_are_unique_and_valid(record_type: str) -> None:
    layout = layout_for(record_type)
    headings = [normalise(column.heading) for column in layout.columns]
    assert len(headings) == len(set(headings))
    names = [sheet.name for sheet in layout.sheets]
    assert len({normalise(name) for name in names}) == len(names)
    for name in names:
        assert 0 < len(name) <= MAX_SHEET_NAME
        assert not SHEET_NAME_BAD.search(name)


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_every_field_has_a_column_a_list_or_a_fixed_value(record_type: str) -> None:
    layout = layout_for(record_type)
    covered = {column.path for column in layout.columns}
    covered |= {info.path for info in layout.lists}
    covered |= {(*parent, name) for parent, fixed in layout.constants.items() for name in fixed}
    for path, field in load_standard().types[record_type].fields.items():
        if not path or path[-1] == ITEMS or field.schema.get("type") == "object":
            continue
        if (
            path[:-1]
            and path[-2] == ITEMS
            and path[:-2] in covered
            and path[:-2] not in {info.path for info in layout.lists}
        ):
            continue
        assert path in covered or path[:-1] in covered, path


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_the_type_is_told_by_the_headings_alone(record_type: str) -> None:
    layout = layout_for(record_type)
    by_heading = dict(enumerate(column.heading for column in layout.template_columns))
    by_path = dict(enumerate(column.name for column in layout.template_columns))
    assert _guess_type(by_heading) == record_type  # type: ignore[arg-type]
    assert _guess_type(by_path) == record_type  # type: ignore[arg-type]


def test_headings_read_as_people_write_them() -> None:
    layout = layout_for("capacity-snapshot")
    headings = {column.name: column.heading for column in layout.columns}
    assert headings["admissions.status"] == "Admissions: Status"
    assert headings["beds.careLevel"] == "Beds by type: Care level"
    fees = {column.name: column.heading for column in layout_for("fees-and-charges").columns}
    assert fees["charges.weeklyCharge.amount"] == "Charges: Weekly charge"


def test_constant_fields_are_not_asked_for() -> None:
    layout = layout_for("fees-and-charges")
    names = {column.name for column in layout.template_columns}
    assert not names & {"recordType", "schemaVersion", "charges.weeklyCharge.currency"}
    assert layout.constants[("charges", ITEMS, "weeklyCharge")] == {"currency": "GBP"}


def test_long_titles_make_short_sheet_names() -> None:
    assert sheet_name("Staff by job role and employment type", []) == "Staff by job role"
    assert sheet_name("Beds", ["beds"]) == "Beds 2"
    assert sheet_name("What? [x]", []) == "What   x"
