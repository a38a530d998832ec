"""Filled CSV and XLSX files to records, streamed row by row (see the layout in layout.py).

Headings are matched by their human text (case and spacing aside, a trailing "*" or
"(required)" ignored), by field path (`beds.careLevel`) or JSON pointer (`/beds/careLevel`), and
on a list's sheet by the heading without the list's title ("Care level"). After the heading row a
row of field paths and a notes row (each note starting "Required." or "Optional.") are skipped.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import functools
import io
import itertools
import operator
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, Any, BinaryIO, ClassVar

from care_exchange_standard.fields import ITEMS, FieldPath
from care_exchange_standard.tables.builder import (
    Current,
    IrregularLineError,
    Line,
    LineBuilder,
    ListPlan,
    Segment,
    Slot,
    line_builder,
    native_module,
)
from care_exchange_standard.tables.cells import (
    BLANK,
    MAX_DIGITS,
    CellValueError,
    Raw,
    cell_reader,
    is_blank,
    remembers,
    show,
)
from care_exchange_standard.tables.cells import to_string as cell_text
from care_exchange_standard.tables.layout import (
    DEFAULT_SCHEMA_VERSION,
    HOW_TO_SHEET,
    LISTS_SHEET,
    META_SHEET,
    OPTIONAL_NOTE,
    RECORD_ID,
    REQUIRED_NOTE,
    SCHEMA_VERSION,
    SEPARATOR,
    Column,
    Layout,
    Sheet,
    layout_for,
    normalise,
    record_types,
)
from care_exchange_standard.tables.xlsx import Workbook, XlsxError, column_letters

CSV_SUFFIXES = frozenset({".csv"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
OLE_MAGIC = b"\xd0\xcf\x11\xe0"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
CSV_FIELD_LIMIT = 1 << 20
SPOOL_LIMIT = 64 << 20
CSV_CHUNK = 1 << 18
DIFFERS = "differs from the value given above for the same record"
Cells = dict[int, Raw]


class TableError(Exception):
    """The input cannot be read as a table at all; str() is one plain English line."""


@dataclass(frozen=True)
class CellProblem:
    """A cell that could not be read into its field."""

    cell: str  # "Capacity snapshot!C7" (CSV: "C7")
    pointer: str  # the JSON pointer the cell fills: "/beds/0/places"
    message: str  # "not a whole number: 'twelve'"


@dataclass(slots=True)
class TableRow:
    """One record built from a row (and its list rows), with the cells that could not be read.

    Not frozen: a frozen dataclass costs twice as much to make, and one is made a record.
    """

    location: str  # "Capacity snapshot!row 7" (CSV: "row 7")
    record: dict[str, Any]
    problems: tuple[CellProblem, ...]
    places: Places | None = field(default=None, repr=False, compare=False)

    def cell_for(self, pointer: str) -> str | None:
        """The cell that holds `pointer` or its nearest ancestor ("Capacity snapshot!C7")."""
        return self.places.cell_for(pointer) if self.places is not None else None


class Places:
    """Where the values of one record are, for the messages about it.

    Worked out when first asked for (`place` builds the record's group again with its cells
    and lines), as only a record with something to report asks.
    """

    __slots__ = ("_columns", "_group", "_place")

    def __init__(
        self,
        group: Group | Built,
        columns: Mapping[str, Mapping[FieldPath, str]],
        place: Callable[[Group | Built], Group],
    ) -> None:
        self._group = group
        self._columns = columns
        self._place = place

    def cell_for(self, pointer: str) -> str | None:
        """The cell that holds `pointer` or its nearest ancestor ("Capacity snapshot!C7").

        A value's cell is found from the line of its list row (or record) and the column of
        its field, so a field left blank still gets its cell.
        """
        group = self._group = self._place(self._group)
        if pointer in group.cells:
            return group.cells[pointer]
        parts = [_unescape(part) for part in pointer.split("/")[1:]] if pointer else []
        path = tuple(ITEMS if part.isdigit() else part for part in parts)
        for end in range(len(parts), -1, -1):
            ancestor = "".join(f"/{_escape(part)}" for part in parts[:end])
            if ancestor not in group.lines:
                continue
            prefix, row = group.lines[ancestor]
            letters = self._columns.get(prefix, {})
            for stop in range(len(path), end, -1):
                if path[:stop] in letters:
                    return f"{prefix}{letters[path[:stop]]}{row}"
            return group.cells.get(ancestor)
        return None


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def read_table(
    source: Path | BinaryIO,
    *,
    name: str,
    record_type: str | None = None,
    sheet: str | None = None,
) -> Iterator[TableRow]:
    """Stream the rows of a CSV (by `name` ending .csv) or XLSX file (.xlsx) as records.

    Blank rows are skipped without being held in memory. The record type comes from the file
    itself (the spreadsheets `care-exchange spreadsheet` writes carry it) or from `record_type`.
    Raises TableError, always while being iterated (never at the call), for a file that cannot
    be read; a row's own problems are in TableRow.problems, never raised.
    """
    if record_type is not None and record_type not in record_types():
        close = difflib.get_close_matches(record_type, record_types(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TableError(f"{record_type!r} is not a record type{hint}")
    suffix = PurePath(name).suffix.casefold()
    if suffix in CSV_SUFFIXES:
        if sheet is not None:
            raise TableError("a CSV file has no sheets: --sheet is for XLSX workbooks")
        yield from _read_csv(source, record_type)
        return
    if suffix in XLSX_SUFFIXES:
        yield from _read_xlsx(source, record_type, sheet)
        return
    if suffix == ".xls":
        raise TableError("an old Excel .xls workbook: save it as .xlsx (Excel Workbook)")
    raise TableError(f"not a CSV or XLSX file: {name!r} should end in .csv or .xlsx")


# --- headings --------------------------------------------------------------------------------


def _aliases(layout: Layout, columns: Iterable[Column], sheet: Sheet | None) -> dict[str, Column]:
    """Every way a heading may name a column of the sheet."""
    found: dict[str, Column] = {}
    short: dict[str, list[Column]] = {}
    prefix = ""
    if sheet is not None and sheet.list_path is not None:
        prefix = normalise(layout.list_info(sheet.list_path).title + SEPARATOR)
    for column in columns:
        found[normalise(column.heading)] = column
        found[normalise(column.name)] = column
        found[normalise("/" + "/".join(p for p in column.path if p != ITEMS))] = column
        heading = normalise(column.heading)
        if prefix and heading.startswith(prefix):
            short.setdefault(heading.removeprefix(prefix).strip(), []).append(column)
    for heading, candidates in short.items():
        if len(candidates) == 1:
            found.setdefault(heading, candidates[0])
    return found


def _allowed(layout: Layout, sheet: Sheet | None) -> tuple[Column, ...]:
    if sheet is None or sheet.list_path is None:
        return layout.columns
    id_column = next(column for column in layout.columns if column.path == RECORD_ID)
    return (id_column, *layout.columns_for(sheet))


def _map_headings(
    layout: Layout, sheet: Sheet | None, headings: Cells, where: str
) -> dict[int, Column]:
    allowed = _allowed(layout, sheet)
    aliases = _aliases(layout, allowed, sheet)
    mapped: dict[int, Column] = {}
    seen: dict[FieldPath, int] = {}
    for index, raw in sorted(headings.items()):
        text = cell_text(raw)
        key = normalise(text)
        if key in ("record type", "recordtype"):
            continue  # the type is fixed; a column that repeats it is accepted and not read
        column = aliases.get(key)
        if column is None:
            known = [c.heading for c in allowed if c.in_template]
            close = difflib.get_close_matches(text, known, n=1, cutoff=0.4)
            hint = f"; the closest known heading is {close[0]!r}" if close else ""
            raise TableError(
                f"{where}column {column_letters(index)} is headed {text!r}, which is not a field "
                f"of {layout.record_type} records{hint}"
            )
        if column.path in seen:
            raise TableError(
                f"{where}columns {column_letters(seen[column.path])} and "
                f"{column_letters(index)} both fill {column.heading!r}"
            )
        seen[column.path] = index
        mapped[index] = column
    return mapped


def _is_path_row(layout: Layout, cells: Cells) -> bool:
    names = {normalise(column.name) for column in layout.columns}
    texts = [normalise(cell_text(raw)) for raw in cells.values()]
    return bool(texts) and all(text in names for text in texts)


def _is_notes_row(cells: Cells) -> bool:
    texts = [cell_text(raw) for raw in cells.values()]
    return bool(texts) and all(t.startswith((REQUIRED_NOTE, OPTIONAL_NOTE)) for t in texts)


def _guess_type(headings: Cells) -> str | None:
    """The record type the headings are for, else None.

    It is the one type whose columns every heading names; failing that, the one whose columns
    most of the headings name, more than half of them and more than any other type's, so
    that a mistyped heading is reported as such (with the closest known one) rather than
    leaving the type unknown.
    """
    texts = [normalise(cell_text(raw)) for raw in headings.values()]
    texts = [text for text in texts if text not in ("record type", "recordtype")]
    named: dict[str, int] = {}
    for name in record_types():
        layout = layout_for(name)
        aliases = _aliases(layout, layout.columns, None)
        named[name] = sum(text in aliases for text in texts)
    every = [name for name, count in named.items() if count == len(texts)]
    if every:
        return every[0] if len(every) == 1 else None
    most = sorted(named.items(), key=lambda item: item[1], reverse=True)
    (best, count), runner_up = most[0], most[1][1] if len(most) > 1 else -1
    return best if count * 2 > len(texts) and count > runner_up else None


# --- building records from lines -------------------------------------------------------------


@dataclass(slots=True, init=False)
class Group:
    """The lines of one record (or, on a list's sheet, one record's rows of that list), placed.

    Its record, and the cells and lines its values came from (for messages). One is made a
    record, so its `__init__` is written out: the dataclass's calls a factory a field.
    """

    key: str | None
    first_row: int
    record: dict[str, Any]
    problems: list[CellProblem]
    cells: dict[str, str]
    lines: dict[str, tuple[str, int]]
    current: dict[FieldPath, tuple[dict[str, Any], str]]

    def __init__(self, key: str | None, first_row: int, record: dict[str, Any]) -> None:
        self.key, self.first_row, self.record = key, first_row, record
        self.problems, self.cells, self.lines, self.current = [], {}, {}, {}


class Built:
    """A group the compiled line builder made: its record, and the lines to place it from.

    Its places (cells, lines) come from building it again with them (`SheetReader.placed`),
    only for a record with something to report. It has no problems: a line the builder
    cannot read makes the group a placed one at once. It holds no containers for places,
    which most records never need: making them cost about a twentieth of reading a record.
    """

    __slots__ = ("first_row", "kept", "key", "record", "rows")
    problems: ClassVar[tuple[CellProblem, ...]] = ()

    def __init__(self, key: str | None, first_row: int, record: dict[str, Any]) -> None:
        self.key, self.first_row, self.record = key, first_row, record
        self.kept: list[tuple[int, Line, str | None]] = []
        self.rows: Current = {}  # the compiled builder's current list rows


def _not_compiled(record: dict[str, Any], line: Line, current: Current) -> None:
    raise AssertionError("a sheet without a line builder makes placed groups only")


def _picker(indices: Sequence[int]) -> Callable[[Line], tuple[Raw, ...]]:
    if len(indices) == 1:
        only = indices[0]
        return lambda line: (line[only],)
    return operator.itemgetter(*indices)


class SheetReader:
    """Lines of one sheet (or a CSV) into groups, by the outline rule of layout.py.

    A line is read a segment at a time (the record's own fields, then each list's, outer lists
    first): a segment whose cells are all blank is passed over whole, and a list's row is made
    at its first filled cell.

    With `compiled`, lines go through the line builder compiled for the sheet (builder.py;
    `native` False for its Python one where the C one is installed),
    and a record's places are worked out only when asked for (`placed`): most records have
    nothing to report, so nothing asks. The XLSX reader merges list sheets' places into each
    record's, so it reads without.
    """

    def __init__(
        self,
        layout: Layout,
        mapping: dict[int, Column],
        prefix: str,
        *,
        list_sheet: bool,
        compiled: bool = False,
        native: bool | None = None,
    ) -> None:
        self.layout = layout
        self.mapping = mapping
        self.prefix = prefix
        self.list_sheet = list_sheet
        self.width = max(mapping) + 1 if mapping else 0
        self.unmapped = tuple(index for index in range(self.width) if index not in mapping)
        self.id_index = next((i for i, c in mapping.items() if c.path == RECORD_ID), None)
        self.letters = {index: column_letters(index) for index in mapping}
        self.list_plans: dict[FieldPath, ListPlan] = {}
        for info in layout.lists:
            parent = info.parent or ()
            rel = info.path[len(parent) + 1 :] if parent else info.path
            self.list_plans[info.path] = ListPlan(
                parent=parent,
                base=(*parent, ITEMS) if parent else (),
                holders=rel[:-1],
                name=rel[-1],
                suffix="".join(f"/{_escape(part)}" for part in rel),
                fixed=layout.constants.get((*info.path, ITEMS), {}),
                inner=tuple(
                    other.path
                    for other in layout.lists
                    if len(other.path) > len(info.path) and _starts_with(other.path, info.path)
                ),
            )
        # The record identifier is read by the grouping of lines: a text column need not be
        # read again on every line.
        plain_id = self.id_index is not None and mapping[self.id_index].kind == "string"
        self.id_slot = None if list_sheet or not plain_id else RECORD_ID[-1]
        slots: dict[FieldPath, list[Slot]] = {}
        for index, column in sorted(mapping.items()):
            if column.path == RECORD_ID and (list_sheet or plain_id):
                continue
            rel = column.rel
            known: dict[str, Any] | None = {} if remembers(column) else None
            slots.setdefault(column.list_path, []).append(
                Slot(
                    at=index,
                    read=cell_reader(column, known),
                    name=rel[-1],
                    holders=rel[:-1],
                    base=(*column.list_path, ITEMS) if column.list_path else (),
                    suffix="".join(f"/{_escape(part)}" for part in rel),
                    whole=column.kind in ("integer", "number"),
                    kind=column.kind,
                    codes=column.codes,
                    known=known,
                )
            )
        own = slots.pop((), [])
        self.own = Segment((), tuple(own), _picker([s.at for s in own])) if own else None
        self.segments = tuple(
            Segment(path, tuple(found), _picker([s.at for s in found]))
            for path, found in sorted(slots.items(), key=lambda entry: len(entry[0]))
        )
        self.build: LineBuilder | None = None
        if compiled:
            self.build = line_builder(
                own,
                self.segments,
                self.list_plans,
                layout.constants,
                self.unmapped,
                self.width,
                native=native,
            )
        # The C grouping of lines (`_line_builder.Groups`) and what it needs, with the C builder.
        self._native_groups: tuple[Any, tuple[Any, ...]] | None = None
        found = native_module() if self.build is not None else None
        if found is not None and isinstance(self.build, found.Builder):
            self._native_groups = (
                found.Groups,
                (
                    self.build,
                    Built,
                    dict(layout.constants.get((), {})) or None,
                    self.id_index,
                    self.width,
                    self.id_slot,
                    cell_text,
                    self.placed,
                    self._starts_group,
                    self._add_line,
                    (IrregularLineError, CellValueError),
                ),
            )

    def ref(self, index: int, row: int) -> str:
        letters = self.letters.get(index) or column_letters(index)
        return f"{self.prefix}{letters}{row}"

    def groups(self, rows: Iterable[tuple[int, Line]]) -> Iterator[Group | Built]:
        """The lines' groups: `Built` ones from the compiled builder, `Group`s without it.

        With the C builder, its `Groups` runs this loop: the same steps, and the same calls
        back here for a line without an identifier and for a record to place.
        """
        if self._native_groups is not None:
            groups, spec = self._native_groups
            found: Iterator[Group | Built] = groups(spec, rows)
            return found
        return self._groups(rows)

    def _groups(self, rows: Iterable[tuple[int, Line]]) -> Iterator[Group | Built]:
        group: Group | Built | None = None
        id_index, width, id_slot = self.id_index, self.width, self.id_slot
        compiled, build = self.build is not None, self.build or _not_compiled
        fixed = self.layout.constants.get((), {})
        # the compiled builder's group, its parts held here: this loop runs once a line
        kept: list[tuple[int, Line, str | None]] = []
        record: dict[str, Any] = {}
        current: Current = {}
        for row, line in rows:
            if len(line) < width:
                line = [*line, *[""] * (width - len(line))]
            line_id = None
            if id_index is not None:
                raw = line[id_index]
                if raw != "":
                    line_id = (raw.strip() if type(raw) is str else cell_text(raw)) or None
            if line_id is None and _is_blank_line(line):
                continue
            if group is None or (
                line_id != group.key  # the commonest case of _starts_group, asked here
                if line_id is not None
                else self._starts_group(group, line_id, line)
            ):
                if group is not None:
                    yield group
                key = line_id if line_id is not None or group is None else group.key
                if not compiled:
                    group = self._new_group(key, row, line)
                else:
                    group = Built(key, row, dict(fixed) if fixed else {})
                    kept, record, current = group.kept, group.record, group.rows
            if type(group) is Group:
                self._add_line(group, row, line, line_id)
                continue
            kept.append((row, line, line_id))
            if line_id is not None and id_slot is not None and id_slot not in record:
                record[id_slot] = line_id
            try:
                build(record, line, current)
            except (IrregularLineError, CellValueError):
                group = self.placed(group)
        if group is not None:
            yield group

    def placed(self, group: Group | Built) -> Group:
        """The group built again from its lines, with the cells and lines of its values."""
        if isinstance(group, Group):
            return group
        row, line, _ = group.kept[0]
        found = self._new_group(group.key, row, line)
        for row, line, line_id in group.kept:
            self._add_line(found, row, line, line_id)
        return found

    def _starts_group(self, group: Group | Built, line_id: str | None, line: Line) -> bool:
        if line_id is not None:
            return line_id != group.key
        if self.list_sheet or self.own is None:
            return False
        # No identifier: a line that gives the record's own fields anew starts a record.
        values = self.own.pick(line)
        if values.count("") == len(values):
            return False
        for slot, raw in zip(self.own.slots, values, strict=True):
            if raw == "":
                continue
            try:
                value = slot.read(raw)
            except CellValueError:
                return True
            if value is not BLANK and _get(group.record, (*slot.holders, slot.name)) != value:
                return True
        return False

    def _new_group(self, key: str | None, row: int, line: Line) -> Group:
        record: dict[str, Any] = {}
        first = next((i for i, raw in enumerate(line) if not is_blank(raw)), 0)
        group = Group(key=key, first_row=row, record=record)
        group.lines[""] = (self.prefix, row)
        group.cells[""] = self.ref(first, row)
        if not self.list_sheet:
            record.update(self.layout.constants.get((), {}))
        return group

    def _add_line(self, group: Group, row: int, line: Line, line_id: str | None) -> None:
        found: list[tuple[int, CellProblem]] = []
        record = group.record
        if line_id is not None and self.id_slot is not None and self.id_slot not in record:
            record[self.id_slot] = line_id
        own = self.own
        if own is not None:
            values = own.pick(line)
            if values.count("") != len(values):
                for (at, read, name, holders, _, suffix, whole, _, _, _), raw in zip(
                    own.slots, values, strict=True
                ):
                    if raw == "":
                        continue
                    if whole and type(raw) is str and raw.isdecimal() and len(raw) <= MAX_DIGITS:
                        value = int(raw)
                    else:
                        try:
                            value = read(raw)
                        except CellValueError as error:
                            found.append(self._problem(at, row, suffix, str(error)))
                            continue
                        if value is BLANK:
                            continue
                    holder = self._walk(record, (), holders) if holders else record
                    if holder.setdefault(name, value) != value:
                        found.append(self._problem(at, row, suffix, f"{show(raw)} {DIFFERS}"))
        for list_path, slots, pick in self.segments:
            values = pick(line)
            if values.count("") == len(values):
                continue
            item: dict[str, Any] | None = None
            pointer = ""
            for (at, read, name, holders, base, suffix, whole, _, _, _), raw in zip(
                slots, values, strict=True
            ):
                if raw == "":
                    continue
                if whole and type(raw) is str and raw.isdecimal() and len(raw) <= MAX_DIGITS:
                    value = int(raw)  # the commonest cell of all, read here
                else:
                    try:
                        value = read(raw)
                    except CellValueError as error:
                        if item is None:
                            item, pointer = self._new_item(group, list_path, at, row)
                        found.append(self._problem(at, row, pointer + suffix, str(error)))
                        continue
                    if value is BLANK:
                        continue
                if item is None:
                    item, pointer = self._new_item(group, list_path, at, row)
                if holders:
                    self._walk(item, base, holders)[name] = value
                else:
                    item[name] = value
        if self.unmapped or len(line) > self.width:
            self._strays(group, row, line)
        if found:
            found.sort(key=operator.itemgetter(0))  # in column order, as people read them
            group.problems.extend(problem for _, problem in found)

    def _problem(self, index: int, row: int, pointer: str, message: str) -> tuple[int, CellProblem]:
        return index, CellProblem(self.ref(index, row), pointer, message)

    def _strays(self, group: Group, row: int, line: Line) -> None:
        """Values in columns without a heading: a line's first problems, in column order."""
        strays = [
            CellProblem(self.ref(index, row), "", f"a value under no heading: {show(line[index])}")
            for index in (*self.unmapped, *range(self.width, len(line)))
            if not is_blank(line[index])
        ]
        if strays:
            group.problems.extend(strays)

    def _new_item(
        self, group: Group, list_path: FieldPath, index: int, row: int
    ) -> tuple[dict[str, Any], str]:
        """A new row of a list (and of its enclosing lists, when they have none yet)."""
        plan = self.list_plans[list_path]
        if plan.parent:
            if plan.parent not in group.current:
                self._new_item(group, plan.parent, index, row)
            container, pointer = group.current[plan.parent]
        else:
            container, pointer = group.record, ""
        holder = self._walk(container, plan.base, plan.holders) if plan.holders else container
        items: list[dict[str, Any]] | None = holder.get(plan.name)
        if items is None:
            items = holder[plan.name] = []
        item: dict[str, Any] = dict(plan.fixed) if plan.fixed else {}
        items.append(item)
        item_pointer = f"{pointer}{plan.suffix}/{len(items) - 1}"
        letters = self.letters.get(index) or column_letters(index)
        group.cells[item_pointer] = f"{self.prefix}{letters}{row}"
        group.lines[item_pointer] = (self.prefix, row)
        current = group.current
        current[list_path] = (item, item_pointer)
        for inner in plan.inner:
            current.pop(inner, None)
        return item, item_pointer

    def _walk(self, container: dict[str, Any], base: FieldPath, rel: FieldPath) -> dict[str, Any]:
        """The object at `rel` below a container, made (with its fixed members) when missing."""
        holder, path = container, base
        for name in rel:
            path = (*path, name)
            found = holder.get(name)
            if found is None:
                found = holder[name] = dict(self.layout.constants.get(path, {}))
            holder = found
        return holder


def _is_blank_line(line: Line) -> bool:
    return all(is_blank(raw) for raw in line)


def _starts_with(path: FieldPath, prefix: FieldPath) -> bool:
    return path[: len(prefix)] == prefix


def _get(record: Mapping[str, Any], path: FieldPath) -> Any:
    value: Any = record
    for name in path:
        if not isinstance(value, Mapping) or name not in value:
            return None
        value = value[name]
    return value


def _merge(target: dict[str, Any], fragment: Mapping[str, Any]) -> None:
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key].extend(value)
        else:
            target[key] = value


def _finish(
    group: Group | Built,
    schema_version: str,
    columns: Mapping[str, Mapping[FieldPath, str]],
    reader: SheetReader,
) -> TableRow:
    record = group.record
    record.setdefault(SCHEMA_VERSION[0], schema_version)
    problems = tuple(group.problems) if group.problems else ()
    location = f"{reader.prefix}row {group.first_row}"
    return TableRow(location, record, problems, Places(group, columns, reader.placed))


def _after_heading(
    layout: Layout, headings: Cells, lookahead: list[tuple[int, Cells]]
) -> tuple[Cells, int]:
    """The headings to map by (a field-path row wins) and how many rows after them are not data.

    Those are a row of field paths and the notes row.
    """
    for skipped, (_, cells) in enumerate(lookahead):
        if _is_path_row(layout, cells):
            headings = cells
        elif not _is_notes_row(cells):
            return headings, skipped
    return headings, len(lookahead)


def _spread(rows: Iterable[tuple[int, Cells]]) -> Iterator[tuple[int, Line]]:
    """Rows of filled cells by column as lines ("" for a blank cell)."""
    for row, cells in rows:
        line: list[Raw] = [""] * (max(cells) + 1) if cells else []
        for index, raw in cells.items():
            line[index] = raw
        yield row, line


def _guess_from(headings: Cells, lookahead: list[tuple[int, Cells]]) -> str | None:
    found = _guess_type(headings)
    for _, cells in lookahead:
        if found is None:
            found = _guess_type(cells)
    return found


def _letters(mapping: Mapping[int, Column]) -> dict[FieldPath, str]:
    return {column.path: column_letters(index) for index, column in mapping.items()}


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(source: Path | BinaryIO, record_type: str | None) -> Iterator[TableRow]:
    handle: IO[bytes]
    if isinstance(source, Path):
        try:
            handle = source.open("rb")
        except OSError as error:
            raise TableError(f"cannot be read ({error.strerror or error})") from None
    else:
        handle = source
    try:
        yield from _csv_records(blocks_of(handle), record_type)
    finally:
        if isinstance(source, Path):
            handle.close()


def blocks_of(handle: IO[bytes]) -> Iterator[bytes]:
    """A file's bytes, a block at a time."""
    while block := handle.read(CSV_CHUNK):
        yield block


def _csv_rows(blocks: Iterator[bytes], skipped: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(1-based row number, its cells) for each row of the CSV that has a cell filled.

    `skipped` rows (and lines) left out of the blocks before their data rows are counted in.
    """
    start = b""
    for block in blocks:
        start += block
        if len(start) >= 4:
            break
    if start.startswith(UTF16_BOMS):
        raise TableError(
            "the file is UTF-16 text: save it as 'CSV UTF-8 (Comma delimited)' and try again"
        )
    if start.startswith(OLE_MAGIC) or start.startswith(b"PK\x03\x04"):
        raise TableError("this is a workbook, not CSV text: name it .xlsx, or save it as CSV")
    texts = _decoded_chunks(itertools.chain([start], blocks), skipped)
    first = next(texts, "")
    delimiter = csv_delimiter(first.partition("\n")[0])
    # Lines end at \n, \r\n or \r, as the csv module wants them (newline="").
    lines = itertools.chain.from_iterable(
        io.StringIO(text, newline="") for text in itertools.chain([first], texts)
    )
    row = skipped
    try:
        csv.field_size_limit(CSV_FIELD_LIMIT)
        for row, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=skipped + 1):
            if any(cells):
                yield row, cells
    except csv.Error as error:
        raise TableError(f"not a readable CSV file near row {row + 1} ({error})") from None


def csv_delimiter(heading: str) -> str:
    """The delimiter the heading row uses: a comma, else a tab or a semicolon.

    Excel writes a semicolon where the decimal mark is a comma.
    """
    if "," not in heading and ("\t" in heading or ";" in heading):
        return "\t" if "\t" in heading else ";"
    return ","


def _decoded_chunks(blocks: Iterable[bytes], lines_before: int) -> Iterator[str]:
    """The blocks as UTF-8 text (a byte-order mark left out) in pieces of whole lines."""
    data, started = b"", False
    for block in blocks:
        data += block
        if not started:
            if len(data) < len(codecs.BOM_UTF8):
                continue
            data, started = data.removeprefix(codecs.BOM_UTF8), True
        cut = data.rfind(b"\n") + 1
        if cut:
            yield from _decoded(data[:cut], lines_before)
            lines_before += data.count(b"\n", 0, cut)
            data = data[cut:]
    if not started:
        data = data.removeprefix(codecs.BOM_UTF8)
    if data:
        yield from _decoded(data, lines_before)


def _decoded(data: bytes, lines_before: int) -> Iterator[str]:
    """UTF-8 text, or its lines before one that is not and then TableError naming that line."""
    try:
        yield data.decode("utf-8")
    except UnicodeDecodeError as error:
        good = data.rfind(b"\n", 0, error.start) + 1
        if good:
            yield data[:good].decode("utf-8")
        number = lines_before + data.count(b"\n", 0, error.start) + 1
        byte = data[error.start : error.start + 1].hex().upper()
        raise TableError(
            f"the file is not UTF-8 text (byte 0x{byte} on line {number}): in Excel save it "
            "as 'CSV UTF-8 (Comma delimited)', or re-save it as UTF-8"
        ) from None


def _as_cells(line: Line) -> Cells:
    """A line's filled cells by column, as the headings are read."""
    return {index: raw for index, raw in enumerate(line) if not is_blank(raw)}


def _csv_records(
    blocks: Iterator[bytes], record_type: str | None, skipped: int = 0
) -> Iterator[TableRow]:
    return csv_rows_records(_csv_rows(blocks, skipped), record_type)


def csv_rows_records(
    rows: Iterator[tuple[int, list[str]]], record_type: str | None
) -> Iterator[TableRow]:
    """Records from a CSV's rows as `_csv_rows` gives them, its heading rows first.

    Rows whose cells are all empty may be among them: they are passed over, as there.
    """
    reader, columns, groups = _csv_groups(rows, record_type)
    place, prefix, version = reader.placed, reader.prefix, SCHEMA_VERSION[0]
    for group in groups:  # _finish, written out: this loop runs once a record
        record = group.record
        record.setdefault(version, DEFAULT_SCHEMA_VERSION)
        yield TableRow(
            f"{prefix}row {group.first_row}",
            record,
            tuple(group.problems) if group.problems else (),
            Places(group, columns, place),
        )


@dataclass(slots=True)
class RowBatch:
    """The records of some rows in order, each made a TableRow (with its places) when asked.

    Bulk validation asks most records only their bare verdict, and explains the few that
    fail it: making a row for each record cost a twentieth of judging it. `records` holds
    None for a row with cells that could not be read.
    """

    records: list[dict[str, Any] | None]
    groups: list[Group | Built]
    made: Callable[[Group | Built], TableRow]

    def row(self, index: int) -> TableRow:
        return self.made(self.groups[index])


def csv_rows_batches(
    rows: Iterator[tuple[int, list[str]]], record_type: str | None, size: int
) -> Iterator[RowBatch]:
    """`csv_rows_records`'s records, `size` a batch (TableError after the rows read before it)."""
    reader, columns, groups = _csv_groups(rows, record_type)
    made = functools.partial(
        _finish, schema_version=DEFAULT_SCHEMA_VERSION, columns=columns, reader=reader
    )
    version = SCHEMA_VERSION[0]
    records: list[dict[str, Any] | None] = []
    items: list[Group | Built] = []
    try:
        for group in groups:
            record = group.record
            record.setdefault(version, DEFAULT_SCHEMA_VERSION)
            records.append(None if group.problems else record)
            items.append(group)
            if len(items) == size:
                yield RowBatch(records, items, made)
                records, items = [], []
    except TableError:
        if items:
            yield RowBatch(records, items, made)
        raise
    if items:
        yield RowBatch(records, items, made)


def _csv_groups(
    rows: Iterator[tuple[int, list[str]]], record_type: str | None
) -> tuple[SheetReader, Mapping[str, Mapping[FieldPath, str]], Iterator[Group | Built]]:
    """The reader of a CSV's rows (its heading rows first), its columns, its records' groups."""
    filled = (row for row in rows if any(row[1]))
    first = next(filled, None)
    if first is None:
        raise TableError("the file is empty")
    lookahead = list(itertools.islice(filled, 2))
    head = tuple(tuple(line) for _, line in [first, *lookahead])
    reader, columns, not_data = _csv_sheet(record_type, head)
    return reader, columns, reader.groups(itertools.chain(lookahead[not_data:], rows))


@functools.lru_cache(maxsize=16)
def _csv_sheet(
    record_type: str | None, head: tuple[tuple[str, ...], ...]
) -> tuple[SheetReader, Mapping[str, Mapping[FieldPath, str]], int]:
    """The reader of a CSV starting with these rows, its columns' letters, the rows not data.

    Kept for the next part of the same file (parts.py): a worker reads many, each starting
    with the file's heading rows, and working them out and compiling the line builder costs
    as much as reading a few hundred records.
    """
    found = [(row, _as_cells(line)) for row, line in enumerate(head)]
    if record_type is None:
        record_type = _guess_from(found[0][1], found[1:])
        if record_type is None:
            raise TableError(
                "cannot tell which record type the columns are for: pass --type "
                f"({', '.join(record_types())})"
            )
    layout = layout_for(record_type)
    headings, skipped = _after_heading(layout, found[0][1], found[1:])
    mapping = _map_headings(layout, None, headings, "")
    reader = SheetReader(layout, mapping, "", list_sheet=False, compiled=True)
    return reader, {"": _letters(mapping)}, skipped


# --- XLSX --------------------------------------------------------------------------------------


def _read_xlsx(
    source: Path | BinaryIO, record_type: str | None, sheet: str | None
) -> Iterator[TableRow]:
    opened: IO[bytes] | None = None
    try:
        if isinstance(source, Path):
            try:
                opened = source.open("rb")
            except OSError as error:
                raise TableError(f"cannot be read ({error.strerror or error})") from None
            stream: IO[bytes] = opened
        elif source.seekable():
            stream = source
        else:
            opened = tempfile.SpooledTemporaryFile(max_size=SPOOL_LIMIT)  # noqa: SIM115
            shutil.copyfileobj(source, opened)
            opened.seek(0)
            stream = opened
        start = stream.read(4)
        stream.seek(0)
        if start.startswith(OLE_MAGIC):
            raise TableError(
                "an old .xls workbook or a password-protected one: save it as .xlsx "
                "(Excel Workbook) without a password"
            )
        if not start:
            raise TableError("the file is empty")
        try:
            workbook = Workbook(stream)
        except XlsxError as error:
            raise TableError(str(error)) from None
        try:
            yield from _xlsx_records(workbook, record_type, sheet)
        except XlsxError as error:
            raise TableError(str(error)) from None
        finally:
            workbook.close()
    finally:
        if opened is not None:
            opened.close()


def _read_meta(workbook: Workbook) -> dict[str, str]:
    meta: dict[str, str] = {}
    if any(entry.name == META_SHEET for entry in workbook.sheets):
        for _, cells in workbook.rows(META_SHEET):
            if 0 in cells:
                meta[cell_text(cells[0])] = cell_text(cells.get(1, ""))
    return meta


def _find_sheet(names: list[str], wanted: str) -> str | None:
    return next((name for name in names if normalise(name) == normalise(wanted)), None)


def _main_sheet(
    workbook: Workbook, meta: Mapping[str, str], record_type: str | None, sheet: str | None
) -> tuple[str, str | None]:
    names = [entry.name for entry in workbook.sheets]
    listing = ", ".join(repr(name) for name in names if name != META_SHEET)
    if sheet is not None:
        found = _find_sheet(names, sheet)
        if found is None:
            raise TableError(f"the workbook has no sheet {sheet!r}; its sheets are {listing}")
        return found, record_type
    expected = layout_for(record_type).main_sheet.name if record_type else None
    for wanted in (meta.get("sheet"), expected):
        found = _find_sheet(names, wanted) if wanted else None
        if found is not None:
            return found, record_type
    if record_type is None:
        for name in record_types():
            found = _find_sheet(names, layout_for(name).main_sheet.name) or _find_sheet(names, name)
            if found is not None:
                return found, name
    data = [
        entry.name
        for entry in workbook.sheets
        if entry.visible and entry.name not in (HOW_TO_SHEET, LISTS_SHEET, META_SHEET)
    ]
    if len(data) == 1:
        return data[0], record_type
    if not data:
        raise TableError(f"the workbook has no sheet of records (its sheets are {listing})")
    wanted_name = f" {expected!r}" if expected else ""
    raise TableError(
        f"the workbook has no sheet{wanted_name} of records (its sheets are {listing}): "
        "pass --sheet NAME" + ("" if record_type else " and --type TYPE")
    )


def _xlsx_records(
    workbook: Workbook, record_type: str | None, sheet: str | None
) -> Iterator[TableRow]:
    meta = _read_meta(workbook)
    if record_type is None and meta.get("recordType") in record_types():
        record_type = meta["recordType"]
    main, record_type = _main_sheet(workbook, meta, record_type, sheet)
    rows = workbook.rows(main)
    first = next(rows, None)
    if first is None:
        raise TableError(f"the sheet {main!r} is empty")
    lookahead = list(itertools.islice(rows, 2))
    if record_type is None:
        record_type = _guess_from(first[1], lookahead)
        if record_type is None:
            raise TableError(
                f"cannot tell which record type the sheet {main!r} is for: pass --type "
                f"({', '.join(record_types())})"
            )
    layout = layout_for(record_type)
    headings, skipped = _after_heading(layout, first[1], lookahead)
    data = _spread(itertools.chain(lookahead[skipped:], rows))
    mapping = _map_headings(layout, None, headings, f"sheet {main!r}: ")
    columns: dict[str, Mapping[FieldPath, str]] = {f"{main}!": _letters(mapping)}
    fragments = _list_sheets(workbook, layout, meta, main, columns)
    schema_version = meta.get("schemaVersion") or DEFAULT_SCHEMA_VERSION
    reader = SheetReader(layout, mapping, f"{main}!", list_sheet=False)
    for group in map(reader.placed, reader.groups(data)):  # not compiled: all placed
        for fragment in fragments.pop(group.key, []) if group.key is not None else []:
            _merge(group.record, fragment.record)
            group.problems.extend(fragment.problems)
            for pointer, ref in fragment.cells.items():
                group.cells.setdefault(pointer, ref)
            for pointer, line in fragment.lines.items():
                if pointer:
                    group.lines.setdefault(pointer, line)
        yield _finish(group, schema_version, columns, reader)
    if fragments:
        _orphans(fragments, main)


def _orphans(fragments: Mapping[str | None, list[Group]], main: str) -> None:
    described: list[str] = []
    for key, groups in fragments.items():
        for group in groups:
            prefix, row = group.lines[""]
            if key is None:
                described.append(f"{prefix}row {row} has no record identifier")
            else:
                described.append(
                    f"{prefix}row {row} names record {key!r}, which the sheet {main!r} lacks"
                )
    more = f" (and {len(described) - 3} more)" if len(described) > 3 else ""
    raise TableError("; ".join(described[:3]) + more)


def _list_sheets(
    workbook: Workbook,
    layout: Layout,
    meta: Mapping[str, str],
    main: str,
    columns: dict[str, Mapping[FieldPath, str]],
) -> dict[str | None, list[Group]]:
    """Every list sheet's rows, grouped by the record identifier they name."""
    names = [entry.name for entry in workbook.sheets]
    fragments: dict[str | None, list[Group]] = {}
    for sheet in layout.sheets[1:]:
        if sheet.list_path is None:
            continue
        list_name = layout.list_info(sheet.list_path).name
        found = None
        for wanted in (meta.get(f"sheet:{list_name}"), sheet.name, list_name):
            found = found or (_find_sheet(names, wanted) if wanted else None)
        if found is None or found == main:
            continue
        rows = workbook.rows(found)
        first = next(rows, None)
        if first is None:
            continue
        lookahead = list(itertools.islice(rows, 2))
        headings, skipped = _after_heading(layout, first[1], lookahead)
        data = _spread(itertools.chain(lookahead[skipped:], rows))
        mapping = _map_headings(layout, sheet, headings, f"sheet {found!r}: ")
        if not any(column.path == RECORD_ID for column in mapping.values()):
            raise TableError(
                f"sheet {found!r}: has no 'Record identifier' column to link its rows to records"
            )
        columns[f"{found}!"] = _letters(mapping)
        reader = SheetReader(layout, mapping, f"{found}!", list_sheet=True)
        by_key: dict[str | None, Group] = {}
        for group in map(reader.placed, reader.groups(data)):  # not compiled: all placed
            if group.key in by_key:
                _merge(by_key[group.key].record, group.record)
                by_key[group.key].problems.extend(group.problems)
            else:
                by_key[group.key] = group
        for key, group in by_key.items():
            fragments.setdefault(key, []).append(group)
    return fragments
