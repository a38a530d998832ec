"""Any record the layout can hold survives writing and reading, in both formats (hypothesis).

Records are drawn from the layout itself: any subset of columns, lists with one to three rows,
inner lists inside them, every kind of value. Each list row has a value of its own, which is
what tells a reader a new row starts (the outline rule in layout.py).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from care_exchange_standard.fields import ITEMS, FieldPath
from care_exchange_standard.tables import read_table
from care_exchange_standard.tables.layout import DEFAULT_SCHEMA_VERSION, Column, Layout, layout_for
from care_exchange_standard.tables.writing import write_csv, write_xlsx
from tests.schemas.tables.conftest import RECORD_TYPES

TEXT = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=20
).filter(lambda text: text.strip() == text and not text.startswith(("Required.", "Optional.")))


def values(column: Column) -> st.SearchStrategy[Any]:
    codes = sorted(column.codes)
    match column.kind:
        case "integer":
            return st.integers(min_value=0, max_value=10**9)
        case "number":
            return st.integers(min_value=0, max_value=10**7).map(lambda cents: cents / 100)
        case "boolean":
            return st.booleans()
        case "date":
            return st.dates(date(1901, 1, 1), date(2999, 12, 31)).map(date.isoformat)
        case "date-time":
            return st.datetimes(
                datetime(1901, 1, 1),
                datetime(2999, 1, 1),
                timezones=st.sampled_from([UTC, timezone(timedelta(hours=1))]),
            ).map(lambda moment: moment.replace(microsecond=0).isoformat())
        case "code":
            return st.sampled_from(codes)
        case "codes":
            return st.lists(st.sampled_from(codes), min_size=1, max_size=3)
        case "texts":
            return st.lists(TEXT, min_size=1, max_size=3)
    return TEXT


def put(target: dict[str, Any], path: FieldPath, value: Any) -> None:
    for name in path[:-1]:
        target = target.setdefault(name, {})
    target[path[-1]] = value


@st.composite
def fragment(draw: st.DrawFn, layout: Layout, level: FieldPath) -> dict[str, Any]:
    """A record (level ()) or a list row: some of its values, and some of its inner lists."""
    own = [c for c in layout.template_columns if c.list_path == level and c.path != ("id",)]
    result: dict[str, Any] = {}
    chosen = draw(
        st.lists(st.sampled_from(own), unique_by=lambda c: c.path, min_size=1 if level else 0)
    )
    for column in chosen:
        put(result, column.rel, draw(values(column)))
    for info in layout.lists:
        if (info.parent or ()) != level or not draw(st.booleans()):
            continue
        rows = draw(st.lists(fragment(layout, info.path), min_size=1, max_size=3))
        rel = info.path[len(level) + 1 :] if level else info.path
        put(result, rel, rows)
    base = (*level, ITEMS) if level else ()
    for path, fixed in layout.constants.items():
        if path and path[-1] != ITEMS and path[: len(base)] == base:
            _fill(result, path[len(base) :], fixed)
    return result


def _fill(target: Any, path: FieldPath, fixed: Any) -> None:
    for index, name in enumerate(path):
        if not isinstance(target, dict) or name not in target:
            return
        target = target[name]
        if isinstance(target, list):
            for item in target:
                _fill(item, path[index + 2 :], fixed)
            return
    if isinstance(target, dict):
        target.update(fixed)


@st.composite
def records(draw: st.DrawFn, record_type: str) -> list[dict[str, Any]]:
    layout = layout_for(record_type)
    drawn = draw(st.lists(fragment(layout, ()), min_size=1, max_size=3))
    return [
        {"recordType": record_type, "schemaVersion": DEFAULT_SCHEMA_VERSION, "id": f"r-{i}", **r}
        for i, r in enumerate(drawn)
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("record_type", RECORD_TYPES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_record_survives_a_round_trip(record_type: str, fmt: str, data: st.DataObject) -> None:
    written = data.draw(records(record_type))
    buffer = io.BytesIO()
    (write_csv if fmt == "csv" else write_xlsx)(layout_for(record_type), buffer, written)
    buffer.seek(0)
    rows = list(read_table(buffer, name=f"drawn.{fmt}"))
    assert [row.problems for row in rows] == [()] * len(written)
    assert [row.record for row in rows] == written
