from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_exchange_standard.tables.cells import (
    EXCEL_EPOCH,
    CellValueError,
    read_cell,
    to_boolean,
    to_date,
    to_date_time,
    to_integer,
    to_number,
    write_cell,
)
from care_exchange_standard.tables.layout import Column, layout_for


def column(record_type: str, name: str) -> Column:
    return next(c for c in layout_for(record_type).columns if c.name == name)


CARE_LEVEL = column("capacity-snapshot", "beds.careLevel")
REASONS = column("capacity-snapshot", "admissions.reasons")
UNAVAILABLE = column("capacity-snapshot", "beds.notAvailableReasons.reason")
HIGHLIGHTS = column("complaints-and-compliments", "compliments.highlights")


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_whole_numbers_in_any_form(value: int) -> None:
    assert to_integer(value) == value
    assert to_integer(float(value)) == value
    assert to_integer(str(value)) == value
    assert to_integer(f" {value:,} ") == value
    assert to_integer(f"{value}.0") == value


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not v.is_integer()))
def test_fractions_are_not_whole_numbers(value: float) -> None:
    with pytest.raises(CellValueError, match="not a whole number"):
        to_integer(value)
    with pytest.raises(CellValueError, match="not a whole number"):
        to_integer(repr(value))


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_numbers_survive_text(value: float) -> None:
    assert to_number(repr(value)) == value
    assert to_number(value) == value


@pytest.mark.parametrize("text", ["twelve", "", "1.2.3", "nan", "inf", "--1"])
def test_not_numbers(text: str) -> None:
    with pytest.raises(CellValueError, match="not a number"):
        to_number(text)


def test_pounds_and_thousands() -> None:
    assert to_number("£1,234.50") == 1234.5
    assert to_number("850") == 850
    assert isinstance(to_number("850"), int)


@given(
    st.sampled_from(["yes", "Yes", "YES", "y", "true", "TRUE", "1", " True "]),
    st.sampled_from(["no", "No", "n", "false", "FALSE", "0", " no "]),
)
def test_yes_and_no(yes: str, no: str) -> None:
    assert to_boolean(yes) is True
    assert to_boolean(no) is False


@pytest.mark.parametrize("raw", ["maybe", 2, 0.5])
def test_not_yes_or_no(raw: str | int | float) -> None:
    with pytest.raises(CellValueError, match="not Yes or No"):
        to_boolean(raw)


@given(st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 30)))
def test_dates_in_every_form(day: date) -> None:
    iso = day.isoformat()
    serial = (datetime.combine(day, datetime.min.time()) - EXCEL_EPOCH).days
    assert to_date(iso) == iso
    assert to_date(day) == iso
    assert to_date(datetime.combine(day, datetime.min.time())) == iso
    assert to_date(f"{day.day}/{day.month}/{day.year:04d}") == iso
    assert to_date(serial) == iso
    assert to_date(float(serial)) == iso


@pytest.mark.parametrize("raw", ["31/02/2024", "2024-13-01", "next week", 0, 45000.5])
def test_not_dates(raw: str | int | float) -> None:
    with pytest.raises(CellValueError):
        to_date(raw)


@given(
    st.datetimes(
        min_value=datetime(1901, 1, 1),
        max_value=datetime(2999, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=1))]),
    ).map(lambda moment: moment.replace(microsecond=0))
)
def test_date_times_with_an_offset_keep_their_moment(moment: datetime) -> None:
    assert datetime.fromisoformat(to_date_time(moment)) == moment
    assert datetime.fromisoformat(to_date_time(moment.isoformat())) == moment


def test_date_times_without_an_offset_are_uk_time() -> None:
    assert to_date_time("2024-07-01 09:30") == "2024-07-01T09:30:00+01:00"
    assert to_date_time("01/12/2024 09:30") == "2024-12-01T09:30:00+00:00"
    assert to_date_time(datetime(2024, 7, 1, 9, 30)) == "2024-07-01T09:30:00+01:00"
    assert to_date_time("2024-07-01T09:30:00Z") == "2024-07-01T09:30:00Z"
    with pytest.raises(CellValueError, match="not a date and time"):
        to_date_time("tuesday")


@given(st.sampled_from(sorted(CARE_LEVEL.codes.items())), st.booleans(), st.booleans())
def test_codes_or_titles_in_any_case(item: tuple[str, str], title: bool, upper: bool) -> None:
    code, label = item
    text = label if title else code
    assert read_cell(CARE_LEVEL, text.upper() if upper else text) == code
    assert read_cell(CARE_LEVEL, write_cell(CARE_LEVEL, code, titles=title)) == code


def test_codes_outside_a_closed_list_are_refused_with_a_suggestion() -> None:
    with pytest.raises(CellValueError, match=r"not one of the list: 'nursin' \(did you mean"):
        read_cell(CARE_LEVEL, "nursin")
    assert read_cell(UNAVAILABLE, "a leaking roof") == "a leaking roof"  # an open list


@given(st.lists(st.sampled_from(sorted(REASONS.codes)), min_size=1, max_size=5), st.booleans())
def test_several_codes_in_one_cell(codes: list[str], titles: bool) -> None:
    assert read_cell(REASONS, write_cell(REASONS, codes, titles=titles)) == codes


@given(
    st.lists(
        st.text(st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"]), min_size=1).filter(
            lambda text: text.strip() == text and text
        ),
        min_size=1,
        max_size=4,
    )
)
def test_free_text_lists_are_one_entry_a_line(entries: list[str]) -> None:
    assert read_cell(HIGHLIGHTS, write_cell(HIGHLIGHTS, entries, titles=False)) == entries


def test_cell_readers_read_as_the_converters_and_blank_cells_as_blank() -> None:
    from care_exchange_standard.tables.cells import BLANK, cell_reader

    since = column("capacity-snapshot", "admissions.since")
    places = column("capacity-snapshot", "registeredPlaces")
    read_since = cell_reader(since)
    for reader, raw, expected in [
        (read_since, "31/03/2024", "2024-03-31"),
        (read_since, "31/03/2024", "2024-03-31"),  # remembered, the same
        (cell_reader(places), "40", 40),
        (cell_reader(places), " 1,234 ", 1234),
        (cell_reader(CARE_LEVEL), "Nursing", "nursing"),
    ]:
        assert reader(raw) == expected
    for kind_column in (since, places, CARE_LEVEL, REASONS, HIGHLIGHTS):
        assert cell_reader(kind_column)("  ") is BLANK
    for _ in range(2):  # a wrong cell is refused every time, never remembered
        with pytest.raises(CellValueError):
            read_since("31/02/2024")


@pytest.mark.parametrize("convert", [to_integer, to_number])
@pytest.mark.parametrize("raw", ["5" * 5000, "1" * 31, "£" + "9" * 4400])
def test_a_number_longer_than_any_count_is_a_cell_problem_not_a_crash(
    convert: Callable[[str], object], raw: str
) -> None:
    with pytest.raises(CellValueError, match="too many digits"):
        convert(raw)
