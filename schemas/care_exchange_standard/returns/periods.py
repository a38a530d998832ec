"""What one return covers: a period named the way people name them (`2026-10`, `2026-Q1`).

Bodies count years from different days (the census and the financial year from 1 April), so
quarters and years follow the template's `yearStarts`; weeks are ISO weeks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

PERIOD_KINDS = ("as-at", "day", "week", "month", "quarter", "year", "event")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
EXAMPLES = {
    "day": "2026-10-31",
    "week": "2026-W44",
    "month": "2026-10",
    "quarter": "2026-Q1",
    "year": "2026",
    "as-at": "2026-10-31T12:00:00Z",
    "event": "the id of the event record",
}


class PeriodError(ValueError):
    """A period that does not name a span of the template's kind; the message says the form."""


@dataclass(frozen=True)
class Period:
    """A span of whole days (`start`..`end`, both included) or one moment (`as_at`)."""

    kind: str
    designator: str
    start: date | None = None
    end: date | None = None
    as_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `period` member of an expression's input and of a filled return (a new copy)."""
        return dict(self._written)

    @cached_property
    def _written(self) -> dict[str, Any]:
        """Made once: every return of a template for one period has it in its input."""
        found: dict[str, Any] = {"kind": self.kind, "designator": self.designator}
        if self.start is not None and self.end is not None:
            found |= {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.as_at is not None:
            found["asAt"] = self.as_at.isoformat().replace("+00:00", "Z")
        return found


def _months_later(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _year_start(year: int, year_starts: str | None) -> date:
    month, day = (int(part) for part in (year_starts or "01-01").split("-"))
    return date(year, month, day)


def moment(text: str) -> datetime:
    """A date-time with its offset, or a date meaning the end of that day (UTC)."""
    try:
        if "T" not in text:
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PeriodError(f"{text!r} is not a date or a date-time") from None
    if found.tzinfo is None:
        raise PeriodError(f"{text!r} has no offset: add Z or +01:00")
    return found


def _span(kind: str, text: str, year_starts: str | None) -> tuple[date, date]:
    if kind == "day":
        day = date.fromisoformat(text)
        return day, day
    if kind == "week" and (found := _WEEK.match(text)):
        monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
        return monday, monday + timedelta(days=6)
    if kind == "month" and (found := _MONTH.match(text)):
        first = date(int(found[1]), int(found[2]), 1)
        return first, _months_later(first, 1) - timedelta(days=1)
    if kind == "quarter" and (found := _QUARTER.match(text)):
        first = _months_later(_year_start(int(found[1]), year_starts), 3 * (int(found[2]) - 1))
        start = first.replace(day=_year_start(first.year, year_starts).day)
        return start, _months_later(start, 3) - timedelta(days=1)
    if kind == "year" and (found := _YEAR.match(text)):
        start = _year_start(int(found[1]), year_starts)
        return start, _months_later(start, 12).replace(day=start.day) - timedelta(days=1)
    raise ValueError(text)


def parse_period(kind: str, text: str, year_starts: str | None = None) -> Period:
    """The period a designator names for a template of `kind`; PeriodError says the right form."""
    if kind not in PERIOD_KINDS:
        raise PeriodError(f"unknown period kind {kind!r}")
    text = text.strip()
    if kind == "event":
        if not text:
            raise PeriodError("an event return needs the event record's id as its period")
        return Period(kind, text)
    if kind == "as-at":
        return Period(kind, text, as_at=moment(text))
    try:
        start, end = _span(kind, text, year_starts)
    except ValueError:
        raise PeriodError(f"{text!r} is not a {kind}: write it like {EXAMPLES[kind]}") from None
    return Period(kind, text, start=start, end=end)
