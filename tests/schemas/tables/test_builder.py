"""The compiled line builder reads every line as the general reader does (hypothesis).

Lines are drawn cell by cell from good values, values that cannot be read, blanks and spaces,
with or without a record identifier, sometimes longer than the headings: every record, every
problem and every place must come out as the general code makes them, from the C builder and
from the Python one alike. The C one must be installed here: the import below fails where the
standard part was installed without it (no C compiler, or CARE_EXCHANGE_PURE_PYTHON set).
"""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from care_exchange_standard.tables._line_builder import Builder, Groups
from care_exchange_standard.tables.builder import IrregularLineError
from care_exchange_standard.tables.cells import CellValueError
from care_exchange_standard.tables.layout import RECORD_ID, Column, layout_for
from care_exchange_standard.tables.reading import Built, Group, SheetReader, TableError
from tests.schemas.tables.conftest import RECORD_TYPES

ODD = ["x", "  ", "1,234", "£850.50", "-3", "Yes", "no", "31/03/2024", "2024-02-30", "00012"]
# Where the C builder takes a short cut: text with spaces to strip (a no-break one too),
# digits that are not ASCII, and whole numbers either side of the longest it reads in line.
ODD += [" padded", "tail ", "\u00a0x", "12 ", "\u0663", "9" * 18, "9" * 19]


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


@pytest.mark.parametrize("native", [True, False], ids=["c-builder", "python-builder"])
@pytest.mark.parametrize("record_type", RECORD_TYPES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_lines_read_as_the_general_reader(
    record_type: str, native: bool, data: st.DataObject
) -> None:
    layout = layout_for(record_type)
    mapping = data.draw(mappings(record_type))
    drawn = data.draw(lines(mapping))
    rows = list(enumerate(drawn, start=4))
    general = SheetReader(layout, mapping, "", list_sheet=False)
    compiled = SheetReader(layout, mapping, "", list_sheet=False, compiled=True, native=native)
    assert isinstance(compiled.build, Builder) is native
    assert isinstance(compiled.groups([]), Groups) is native
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


def test_without_the_c_builder_the_python_one_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A part installed with no C compiler reads CSV all the same, with the Python builder."""
    monkeypatch.setitem(sys.modules, "care_exchange_standard.tables._line_builder", None)
    layout = layout_for("capacity-snapshot")
    mapping = dict(enumerate(layout.columns))
    reader = SheetReader(layout, mapping, "", list_sheet=False, compiled=True)
    assert reader.build is not None and not isinstance(reader.build, Builder)
    line = [""] * len(mapping)
    line[[c.path for c in layout.columns].index(("beds", "*", "places"))] = "4"
    record: dict[str, Any] = {}
    reader.build(record, line, {})
    assert record == {"beds": [{"places": 4}]}


@pytest.mark.parametrize(
    "spec",
    [
        (),
        ((), 1, (), (), (), ValueError, object(), None, 30),
        ((), 1, ((0, 9, str, None, "a", ()),), (), (), ValueError, object(), {}, 30),
        ((), 1, (), ((0, ()),), (), ValueError, object(), {}, 30),  # a segment of no list
    ],
    ids=["empty", "small-not-a-dict", "unknown-kind", "segment-without-its-list"],
)
def test_a_malformed_plan_is_refused_when_the_c_builder_is_made(spec: tuple[Any, ...]) -> None:
    with pytest.raises((TypeError, ValueError)):
        Builder(spec)


def memory_kept(run: Callable[[int], None]) -> int:
    """The bytes still held after `run(2000)`, once `run(1000)` has made what is made once
    (a cache filled, a free list grown): a reference kept each time holds thousands."""
    tracemalloc.start()
    try:
        run(1000)
        before = tracemalloc.get_traced_memory()[0]
        run(2000)
        return int(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()


def test_the_c_builder_frees_what_it_made_on_every_path() -> None:
    """Records it built, lines it refused and cells it could not read leave no memory behind.

    A reference it forgot to drop would keep each record's objects: thousands of them here.
    """
    layout = layout_for("capacity-snapshot")
    mapping = dict(enumerate(layout.columns))
    reader = SheetReader(layout, mapping, "", list_sheet=False, compiled=True)
    build = reader.build
    assert isinstance(build, Builder)
    paths = [column.path for column in layout.columns]

    def line(**cells: str) -> list[str]:
        """Each cell a new string, and numbers above those read by look-up: a reference the
        builder forgot to drop would keep them."""
        found = [""] * len(mapping)
        filled = {
            ("registeredPlaces",): "6000",
            ("beds", "*", "careLevel"): "nursing",
            ("beds", "*", "notAvailableReasons", "*", "places"): "1000",
        }
        filled.update({("beds", "*", name): value for name, value in cells.items()})
        for path, value in filled.items():
            found[paths.index(path)] = "".join(list(value))
        return found

    def build_many(times: int) -> None:
        for _ in range(times):
            record: dict[str, Any] = {}
            current: dict[int, dict[str, Any]] = {}
            build(record, line(places="4000"), current)
            assert record["beds"][0]["places"] == 4000 and 1 in current
            refusals = 0
            for start, refused in [
                ({"registeredPlaces": 6001}, line(places="4000")),  # differs from its 6000
                ({}, line(places="four")),
                ({}, [*line(places="4000"), "stray"]),
            ]:
                try:  # pytest.raises keeps memory of its own here
                    build(start, refused, {})
                except (IrregularLineError, CellValueError):
                    refusals += 1
            assert refusals == 3

    assert memory_kept(build_many) < 16_000


def capacity_reader(*, native: bool = True) -> tuple[SheetReader, Callable[..., list[str]]]:
    """A compiled reader of capacity snapshots, and a maker of its lines from a few cells."""
    layout = layout_for("capacity-snapshot")
    mapping = dict(enumerate(layout.columns))
    paths = [column.path for column in layout.columns]

    def line(record_id: str = "", **cells: str) -> list[str]:
        found = [""] * len(mapping)
        found[paths.index(RECORD_ID)] = "".join(list(record_id))  # a new string each time
        for name, value in cells.items():
            found[paths.index(("beds", "*", name))] = "".join(list(value))
        return found

    return SheetReader(layout, mapping, "", list_sheet=False, compiled=True, native=native), line


def test_the_c_grouping_hands_on_each_record_before_an_error_after_it() -> None:
    """A reader that fails on a later line (TableError) still gives the records before it."""

    def rows(line: Callable[..., list[str]]) -> Iterator[tuple[int, list[str]]]:
        yield 4, line("a", places="1")
        yield 5, line("b", places="2")
        raise TableError("not a readable CSV file near row 6")

    seen_by = {}
    for native in (True, False):
        reader, line = capacity_reader(native=native)
        got: list[Any] = []
        with pytest.raises(TableError):
            for group in reader.groups(rows(line)):
                got.append((group.key, group.record))
        seen_by[native] = got
    only_a = {"recordType": "capacity-snapshot", "id": "a", "beds": [{"places": 1}]}
    assert seen_by[True] == seen_by[False] == [("a", only_a)]


def test_the_c_grouping_frees_what_it_made_on_every_path() -> None:
    """Records read whole, placed after an unreadable cell, started by a line without an
    identifier, blank and short lines: read thousands of times, they leave no memory behind."""
    reader, line = capacity_reader()

    def rows() -> Iterator[tuple[int, list[str]]]:
        yield 4, line("a", places="1000")
        yield 5, line("", places="2000")  # no identifier: the reader is asked whether it starts one
        yield 6, [""] * 3  # short and blank: passed over
        yield 7, line("b", places="many")  # unreadable: the record is placed
        yield 8, line("b", places="3000")
        yield 9, line("c", places="4000")[:5]  # short: padded

    def read_many(times: int) -> None:
        for _ in range(times):
            groups = [(group.key, len(group.problems)) for group in reader.groups(rows())]
            assert groups == [("a", 0), ("b", 1), ("c", 0)]

    assert memory_kept(read_many) < 16_000


@pytest.mark.parametrize("spec", [(), tuple(range(11))], ids=["empty", "not-a-reader's"])
def test_c_grouping_refuses_a_malformed_spec(spec: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError):
        list(Groups(spec, [(4, ["a"])]))
