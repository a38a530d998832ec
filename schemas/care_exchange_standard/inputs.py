"""Every record of an input, one at a time, with where it is: for commands that act on records.

The validator counts and judges records in bulk (`validator.py`); a command that sends records
on, such as `care-exchange publish`, needs each record itself. It reads the same inputs the same
way and names each record's place exactly as the validator's report does (`[3]` for an array's
third item, `:7` for an NDJSON line, `Capacity!row 7` for a spreadsheet row), so the two can be
matched. Nothing is held whole.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from care_exchange_standard.sources import (
    FileItems,
    FileLines,
    Input,
    InputError,
    Lines,
    Records,
    array_items_from,
    items_of,
    json_units,
    open_stream,
)


@dataclass(frozen=True)
class Located:
    """A record and its place: the input's name and where in it (as the validator says)."""

    input: str
    location: str
    record: Any
    cell_for: Callable[[str], str | None] | None = None

    @property
    def where(self) -> str:
        """`a.json[3]`, `a.ndjson:7`, `a.xlsx Capacity!row 7`, as the validator writes it."""
        if not self.location or self.location[0] in "[:":
            return f"{self.input}{self.location}"
        return f"{self.input} {self.location}"

    def place(self, pointer: str) -> str:
        """Where a field of the record is: its cell for a spreadsheet row, else the record."""
        cell = self.cell_for(pointer) if self.cell_for is not None else None
        return f"{self.input} {cell}" if cell else self.where


def located_records(
    item: Input, *, record_type: str | None = None, sheet: str | None = None
) -> Iterator[Located]:
    """The records of one input, in order; raises InputError when it cannot be read.

    A line or item that is not JSON is passed over: the validator reports it.
    """
    if item.path is None:
        raise InputError("standard input can be read once only; save it to a file first")
    if item.kind == "table":
        yield from _table(item, record_type, sheet)
        return
    with open_stream(item) as handle:
        seen = 0
        for unit in json_units(handle, item.kind):  # no path: lines come as `Lines`
            assert not isinstance(unit, FileLines | FileItems)
            if isinstance(unit, Lines):
                yield from _lines(item.name, unit)
            elif isinstance(unit, Records):
                for location, record in unit.records:
                    yield Located(item.name, location, record)
            else:
                parsed = items_of(unit)
                if parsed is None:
                    for record in array_items_from(handle, unit.offset):
                        seen += 1
                        yield Located(item.name, f"[{seen}]", record)
                    return
                for record in parsed:
                    seen += 1
                    yield Located(item.name, f"[{seen}]", record)


def _lines(name: str, unit: Lines) -> Iterator[Located]:
    for index, line in enumerate(unit.data.split(b"\n")):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        yield Located(name, f":{unit.first + index}", record)


def _table(item: Input, record_type: str | None, sheet: str | None) -> Iterator[Located]:
    assert item.path is not None
    try:
        tables = importlib.import_module("care_exchange_standard.tables")
    except ImportError:
        raise InputError("reading spreadsheets is not available in this installation") from None
    try:
        for row in tables.read_table(
            item.path, name=item.name, record_type=record_type, sheet=sheet
        ):
            yield Located(item.name, row.location, row.record, row.cell_for)
    except tables.TableError as error:
        raise InputError(str(error)) from None
