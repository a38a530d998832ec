from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_exchange_standard.returns.periods import PeriodError, parse_period


@pytest.mark.parametrize(
    ("kind", "text", "year_starts", "start", "end"),
    [
        ("day", "2026-10-31", None, "2026-10-31", "2026-10-31"),
        ("week", "2026-W01", None, "2025-12-29", "2026-01-04"),
        ("month", "2026-02", None, "2026-02-01", "2026-02-28"),
        ("month", "2028-02", None, "2028-02-01", "2028-02-29"),
        ("quarter", "2026-Q1", None, "2026-01-01", "2026-03-31"),
        ("quarter", "2026-Q1", "04-01", "2026-04-01", "2026-06-30"),
        ("quarter", "2026-Q4", "04-01", "2027-01-01", "2027-03-31"),
        ("year", "2026", None, "2026-01-01", "2026-12-31"),
        ("year", "2026", "04-01", "2026-04-01", "2027-03-31"),
    ],
)
def test_designators_name_the_days_people_mean(
    kind: str, text: str, year_starts: str | None, start: str, end: str
) -> None:
    period = parse_period(kind, text, year_starts)
    assert (period.start, period.end) == (date.fromisoformat(start), date.fromisoformat(end))
    assert period.as_dict() == {"kind": kind, "designator": text, "start": start, "end": end}


def test_an_as_at_date_means_the_end_of_that_day() -> None:
    assert parse_period("as-at", "2026-10-31").as_at == datetime(
        2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC
    )
    exact = parse_period("as-at", "2026-10-31T12:00:00+01:00")
    assert exact.as_at == datetime(2026, 10, 31, 11, tzinfo=UTC)
    assert exact.as_dict()["asAt"] == "2026-10-31T12:00:00+01:00"


@pytest.mark.parametrize(
    ("kind", "text", "said"),
    [
        ("month", "2026-13", "write it like 2026-10"),
        ("month", "October", "write it like 2026-10"),
        ("quarter", "2026-Q5", "write it like 2026-Q1"),
        ("week", "2026-W54", "write it like 2026-W44"),
        ("as-at", "2026-10-31T12:00:00", "no offset"),
        ("as-at", "soon", "not a date"),
        ("event", " ", "the event record's id"),
        ("fortnight", "2026-10", "unknown period kind"),
    ],
)
def test_a_wrong_designator_says_the_right_form(kind: str, text: str, said: str) -> None:
    with pytest.raises(PeriodError, match=said):
        parse_period(kind, text)


@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
    kind=st.sampled_from(["week", "month", "quarter", "year"]),
    year_starts=st.sampled_from([None, "04-01", "07-01"]),
)
def test_each_day_falls_in_the_period_named_for_it_and_periods_abut(
    day: date, kind: str, year_starts: str | None
) -> None:
    def designator(of: date) -> str:
        if kind == "week":
            year, week, _ = of.isocalendar()
            return f"{year}-W{week:02d}"
        if kind == "month":
            return f"{of.year}-{of.month:02d}"
        first = int((year_starts or "01-01")[:2])
        months = (of.year * 12 + of.month - 1) - (of.year * 12 + first - 1)
        year = of.year if months >= 0 else of.year - 1
        if kind == "year":
            return str(year)
        return f"{year}-Q{(months % 12) // 3 + 1}"

    period = parse_period(kind, designator(day), year_starts)
    assert period.start is not None and period.end is not None
    assert period.start <= day <= period.end
    following = parse_period(kind, designator(period.end + timedelta(days=1)), year_starts)
    assert following.start == period.end + timedelta(days=1)
