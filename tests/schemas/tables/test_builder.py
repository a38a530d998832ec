"""The compiled line builder reads every line as the general reader does (hypothesis).

Lines are drawn cell by cell from good values, values that cannot be read, blanks and spaces,
with or without a record identifier, sometimes longer than the headings: every record, every
problem and every place must come out as the general code makes them.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from care_exchange_standard.tables.layout import RECORD_ID, Column, layout_for
from care_exchange_standard.tables.reading import Built, Group, SheetReader
from tests.schemas.tables.conftest import RECORD_TYPES

ODD = ["x", "  ", "1,234", "£850.50", "-3", "Yes", "no", "31/03/2024", "2024-02-30", "00012"]


def cells(column: Column) -> st.SearchStrategy[str]:
    """Mostly blank or good cells, so that most lines are ones the compiled builder reads."""
    good: list[str] = {
        "integer": ["0", "7", "40", "1" * 40],
        "number": ["0", "12.5", "1e3"],
        "boolean": ["Yes", "FALSE"],
        "date": ["2024-03-31", "31/03/2024"],
        "date-time": ["2026-11-02T09:00:00+00:00", "2026-11-02 09:00"],
    }.get(column.kind, ["text", "other text"])
    good += sorted(column.codes)[:3] + list(column.codes.values())[:1]
    return st.sampled_from(["", " "] * 30 + good * (60 // len(good)) + ODD)


def lines(mapping: dict[int, Column]) -> st.SearchStrategy[list[list[str]]]:
    """Lines for columns in this order; a column under no heading holds now and then a stray."""

    def cell(index: int) -> st.SearchStrategy[str]:
        column = mapping.get(index)
        if column is None:
            return st.sampled_from(["", "", "", "stray"])
        if column.path == RECORD_ID:
            return st.sampled_from(["", "r-1", "r-2", " r-2 "])
        return cells(column)

    drawn = [cell(index) for index in range(max(mapping) + 1)]
    extra = st.lists(st.sampled_from(["", "stray"]), max_size=2)
    line = st.tuples(*drawn, extra).map(lambda found: [*found[:-1], *found[-1]])
    return st.lists(line, min_size=1, max_size=5)


def mappings(record_type: str) -> st.SearchStrategy[dict[int, Column]]:
    """The layout's columns in any order, with a gap (a column under no heading) or two."""
    columns = layout_for(record_type).columns
    gaps = st.sets(st.integers(0, len(columns)), max_size=2)
    return st.tuples(st.permutations(columns), gaps).map(
        lambda drawn: dict(
            zip(
                [i for i in range(len(columns) + len(drawn[1])) if i not in drawn[1]],
                drawn[0],
                strict=False,
            )
        )
    )


def seen(reader: SheetReader, group: Group | Built) -> dict[str, Any]:
    placed = reader.placed(group)
    assert placed.record == group.record
    return {
        "key": group.key,
        "row": group.first_row,
        "record": group.record,
        "problems": list(group.problems),
        "cells": placed.cells,
        "lines": placed.lines,
    }


@pytest.mark.parametrize("record_type", RECORD_TYPES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_lines_read_as_the_general_reader(record_type: str, data: st.DataObject) -> None:
    layout = layout_for(record_type)
    mapping = data.draw(mappings(record_type))
    drawn = data.draw(lines(mapping))
    rows = list(enumerate(drawn, start=4))
    general = SheetReader(layout, mapping, "", list_sheet=False)
    compiled = SheetReader(layout, mapping, "", list_sheet=False, compiled=True)
    expected = [seen(general, group) for group in general.groups(rows)]
    assert [seen(compiled, group) for group in compiled.groups(rows)] == expected


def test_a_record_the_builder_reads_is_placed_only_when_asked() -> None:
    """And one with a line it cannot read is placed at once, with its problem."""
    layout = layout_for("capacity-snapshot")
    mapping = dict(enumerate(layout.columns))
    width = len(layout.columns)
    index = {column.path: at for at, column in mapping.items()}

    def line(record_id: str, places: str) -> list[str]:
        found = [""] * width
        found[index[RECORD_ID]] = record_id
        found[index[("beds", "*", "places")]] = places
        return found

    rows = list(enumerate([line("a", "4"), line("a", "5"), line("b", "x")], start=4))
    reader = SheetReader(layout, mapping, "", list_sheet=False, compiled=True)
    read, unread = reader.groups(rows)
    assert isinstance(read, Built)
    assert read.problems == ()
    assert read.record["beds"] == [{"places": 4}, {"places": 5}]
    placed = reader.placed(read)
    assert isinstance(placed, Group)
    assert placed.record == read.record
    assert placed.cells["/beds/1"].endswith("5")
    assert isinstance(unread, Group)
    assert [problem.pointer for problem in unread.problems] == ["/beds/0/places"]
