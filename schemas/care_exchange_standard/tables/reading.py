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
import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, Any, BinaryIO

from care_exchange_standard.fields import ITEMS, FieldPath
from care_exchange_standard.tables.cells import CellValueError, Raw, converter, read_cell, show
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
Cells = dict[int, Raw]


class TableError(Exception):
    """The input cannot be read as a table at all; str() is one plain English line."""


@dataclass(frozen=True)
class CellProblem:
    """A cell that could not be read into its field."""

    cell: str  # "Capacity snapshot!C7" (CSV: "C7")
    pointer: str  # the JSON pointer the cell fills: "/beds/0/places"
    message: str  # "not a whole number: 'twelve'"


@dataclass(frozen=True)
class TableRow:
    """One record built from a row (and its list rows), with the cells that could not be read."""

    location: str  # "Capacity snapshot!row 7" (CSV: "row 7")
    record: dict[str, Any]
    problems: tuple[CellProblem, ...]
    cells: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    lines: Mapping[str, tuple[str, int]] = field(default_factory=dict, repr=False, compare=False)
    columns: Mapping[str, Mapping[FieldPath, str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def cell_for(self, pointer: str) -> str | None:
        """The cell that holds `pointer` or its nearest ancestor ("Capacity snapshot!C7").

        A value's cell is found from the line of its list row (or record) and the column of
        its field, so a field left blank still gets its cell.
        """
        if pointer in self.cells:
            return self.cells[pointer]
        parts = [_unescape(part) for part in pointer.split("/")[1:]] if pointer else []
        path = tuple(ITEMS if part.isdigit() else part for part in parts)
        for end in range(len(parts), -1, -1):
            ancestor = "".join(f"/{_escape(part)}" for part in parts[:end])
            if ancestor not in self.lines:
                continue
            prefix, row = self.lines[ancestor]
            letters = self.columns.get(prefix, {})
            for stop in range(len(path), end, -1):
                if path[:stop] in letters:
                    return f"{prefix}{letters[path[:stop]]}{row}"
            return self.cells.get(ancestor)
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
    """The one record type whose columns every heading names, else None."""
    found: list[str] = []
    for name in record_types():
        layout = layout_for(name)
        aliases = _aliases(layout, layout.columns, None)
        texts = [normalise(cell_text(raw)) for raw in headings.values()]
        if all(text in aliases or text in ("record type", "recordtype") for text in texts):
            found.append(name)
    return found[0] if len(found) == 1 else None


# --- building records from lines -------------------------------------------------------------


@dataclass
class Group:
    """The lines of one record (or, on a list's sheet, one record's rows of that list)."""

    key: str | None
    first_row: int
    record: dict[str, Any]
    problems: list[CellProblem] = field(default_factory=list)
    cells: dict[str, str] = field(default_factory=dict)
    lines: dict[str, tuple[str, int]] = field(default_factory=dict)
    current: dict[FieldPath, tuple[dict[str, Any], str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    """Where one column's cells go, worked out once per sheet rather than once per cell."""

    column: Column
    letters: str
    list_path: FieldPath
    holders: FieldPath  # objects between the list row (or record) and the value
    base: FieldPath  # the field path of the list row (or () for the record)
    name: str
    suffix: str  # the JSON pointer below the list row: "/weeklyCharge/amount"
    convert: Callable[[Raw], Any]


@dataclass(frozen=True)
class _ListPlan:
    """Where one list's rows go, worked out once per sheet."""

    parent: FieldPath  # the enclosing list, () for a list of the record
    base: FieldPath
    holders: FieldPath
    name: str
    suffix: str
    fixed: Mapping[str, Any]
    inner: tuple[FieldPath, ...]  # the lists inside its rows, whose current row it ends


class SheetReader:
    """Lines of one sheet (or a CSV) into groups, by the outline rule of layout.py."""

    def __init__(
        self, layout: Layout, mapping: dict[int, Column], prefix: str, *, list_sheet: bool
    ) -> None:
        self.layout = layout
        self.mapping = mapping
        self.prefix = prefix
        self.list_sheet = list_sheet
        self.id_index = next((i for i, c in mapping.items() if c.path == RECORD_ID), None)
        self.lists = sorted({c.list_path for c in mapping.values() if c.list_path}, key=len)
        self.parents = {info.path: info.parent for info in layout.lists}
        self.list_plans: dict[FieldPath, _ListPlan] = {}
        for info in layout.lists:
            parent = info.parent or ()
            rel = info.path[len(parent) + 1 :] if parent else info.path
            self.list_plans[info.path] = _ListPlan(
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
        self.plans: dict[int, _Plan] = {}
        for index, column in mapping.items():
            if list_sheet and column.path == RECORD_ID:
                continue
            rel = column.rel
            self.plans[index] = _Plan(
                column=column,
                letters=column_letters(index),
                list_path=column.list_path,
                holders=rel[:-1],
                base=(*column.list_path, ITEMS) if column.list_path else (),
                name=rel[-1],
                suffix="".join(f"/{_escape(part)}" for part in rel),
                convert=converter(column),
            )

    def ref(self, index: int, row: int) -> str:
        plan = self.plans.get(index)
        letters = plan.letters if plan is not None else column_letters(index)
        return f"{self.prefix}{letters}{row}"

    def groups(self, rows: Iterable[tuple[int, Cells]]) -> Iterator[Group]:
        group: Group | None = None
        id_index = self.id_index
        for row, cells in rows:
            line_id = None
            if id_index is not None and id_index in cells:
                line_id = cell_text(cells[id_index])
            if group is None or self._starts_group(group, line_id, cells):
                if group is not None:
                    yield group
                key = line_id if line_id is not None or group is None else group.key
                group = self._new_group(key, row, cells)
            self._add_line(group, row, cells)
        if group is not None:
            yield group

    def _starts_group(self, group: Group, line_id: str | None, cells: Cells) -> bool:
        if line_id is not None:
            return line_id != group.key
        if self.list_sheet:
            return False
        # No identifier: a line that gives the record's own fields anew starts a record.
        for index, raw in cells.items():
            column = self.mapping.get(index)
            if column is None or column.list_path:
                continue
            try:
                value = read_cell(column, raw)
            except CellValueError:
                return True
            if _get(group.record, column.path) != value:
                return True
        return False

    def _new_group(self, key: str | None, row: int, cells: Cells) -> Group:
        record: dict[str, Any] = {}
        first = min(cells) if cells else 0
        group = Group(key=key, first_row=row, record=record)
        group.lines[""] = (self.prefix, row)
        group.cells[""] = self.ref(first, row)
        if not self.list_sheet:
            record.update(self.layout.constants.get((), {}))
        return group

    def _add_line(self, group: Group, row: int, cells: Cells) -> None:
        plans = self.plans
        filled: list[tuple[int, _Plan, Raw]] = []
        starting: dict[FieldPath, int] = {}
        for index in cells:  # in column order, as both readers give them
            plan = plans.get(index)
            if plan is None:
                if index not in self.mapping:
                    raw = cells[index]
                    message = f"a value under no heading: {show(raw)}"
                    group.problems.append(CellProblem(self.ref(index, row), "", message))
                continue
            filled.append((index, plan, cells[index]))
            if plan.list_path and plan.list_path not in starting:
                starting[plan.list_path] = index
        if starting:
            for list_path in self.lists:
                if list_path in starting:
                    self._new_item(group, list_path, self.ref(starting[list_path], row), row)
        for index, plan, raw in filled:
            if plan.list_path:
                container, pointer = self._container(group, plan.list_path, index, row)
            else:
                container, pointer = group.record, ""
            try:
                value = plan.convert(raw)
            except CellValueError as error:
                ref = self.ref(index, row)
                group.problems.append(CellProblem(ref, pointer + plan.suffix, str(error)))
                continue
            holder = container
            if plan.holders:
                holder = self._walk(container, plan.base, plan.holders)
            name = plan.name
            if name in holder and holder[name] != value:
                message = f"{show(raw)} differs from the value given above for the same record"
                ref = self.ref(index, row)
                group.problems.append(CellProblem(ref, pointer + plan.suffix, message))
                continue
            holder[name] = value

    def _new_item(self, group: Group, list_path: FieldPath, ref: str, row: int) -> None:
        plan = self.list_plans[list_path]
        if plan.parent:
            if plan.parent not in group.current:
                self._new_item(group, plan.parent, ref, row)
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
        group.cells[item_pointer] = ref
        group.lines[item_pointer] = (self.prefix, row)
        current = group.current
        current[list_path] = (item, item_pointer)
        for inner in plan.inner:
            current.pop(inner, None)

    def _container(
        self, group: Group, list_path: FieldPath, index: int, row: int
    ) -> tuple[dict[str, Any], str]:
        if list_path not in group.current:
            self._new_item(group, list_path, self.ref(index, row), row)
        return group.current[list_path]

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
    group: Group, schema_version: str, columns: Mapping[str, Mapping[FieldPath, str]]
) -> TableRow:
    group.record.setdefault(SCHEMA_VERSION[0], schema_version)
    prefix, row = group.lines[""]
    return TableRow(
        location=f"{prefix}row {row}",
        record=group.record,
        problems=tuple(group.problems),
        cells=group.cells,
        lines=group.lines,
        columns=columns,
    )


def _after_heading(
    layout: Layout,
    headings: Cells,
    lookahead: list[tuple[int, Cells]],
    rows: Iterator[tuple[int, Cells]],
) -> tuple[Cells, Iterator[tuple[int, Cells]]]:
    """The headings to map by (a field-path row wins) and the data rows, notes row left out."""
    kept: list[tuple[int, Cells]] = []
    for row, cells in lookahead:
        if not kept and _is_path_row(layout, cells):
            headings = cells
        elif not kept and _is_notes_row(cells):
            continue
        else:
            kept.append((row, cells))
    return headings, itertools.chain(kept, rows)


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
        yield from _csv_records(handle, record_type)
    finally:
        if isinstance(source, Path):
            handle.close()


def _csv_rows(handle: IO[bytes]) -> Iterator[tuple[int, Cells]]:
    start = handle.read(4)
    if start.startswith(UTF16_BOMS):
        raise TableError(
            "the file is UTF-16 text: save it as 'CSV UTF-8 (Comma delimited)' and try again"
        )
    if start.startswith(OLE_MAGIC) or start.startswith(b"PK\x03\x04"):
        raise TableError("this is a workbook, not CSV text: name it .xlsx, or save it as CSV")
    lines = _decoded_lines(
        itertools.chain((start + handle.readline()).splitlines(keepends=True), handle)
    )
    row = 0
    try:
        first = next(lines, "")
        delimiter = ","
        if "," not in first and ("\t" in first or ";" in first):
            delimiter = "\t" if "\t" in first else ";"
        csv.field_size_limit(CSV_FIELD_LIMIT)
        for row, cells in enumerate(
            csv.reader(itertools.chain([first], lines), delimiter=delimiter), start=1
        ):
            values: Cells = {i: v for i, v in enumerate(cells) if v and not v.isspace()}
            if values:
                yield row, values
    except csv.Error as error:
        raise TableError(f"not a readable CSV file near row {row + 1} ({error})") from None


def _decoded_lines(lines: Iterable[bytes]) -> Iterator[str]:
    """Each line of UTF-8 text (a byte-order mark left out), or TableError naming the line."""
    for number, raw in enumerate(lines, start=1):
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            byte = raw[error.start : error.start + 1].hex().upper()
            raise TableError(
                f"the file is not UTF-8 text (byte 0x{byte} on line {number}): in Excel save it "
                "as 'CSV UTF-8 (Comma delimited)', or re-save it as UTF-8"
            ) from None


def _csv_records(handle: IO[bytes], record_type: str | None) -> Iterator[TableRow]:
    rows = _csv_rows(handle)
    first = next(rows, None)
    if first is None:
        raise TableError("the file is empty")
    lookahead = list(itertools.islice(rows, 2))
    if record_type is None:
        record_type = _guess_from(first[1], lookahead)
        if record_type is None:
            raise TableError(
                "cannot tell which record type the columns are for: pass --type "
                f"({', '.join(record_types())})"
            )
    layout = layout_for(record_type)
    headings, data = _after_heading(layout, first[1], lookahead, rows)
    mapping = _map_headings(layout, None, headings, "")
    reader = SheetReader(layout, mapping, "", list_sheet=False)
    columns = {"": _letters(mapping)}
    for group in reader.groups(data):
        yield _finish(group, DEFAULT_SCHEMA_VERSION, columns)


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
    headings, data = _after_heading(layout, first[1], lookahead, rows)
    mapping = _map_headings(layout, None, headings, f"sheet {main!r}: ")
    columns: dict[str, Mapping[FieldPath, str]] = {f"{main}!": _letters(mapping)}
    fragments = _list_sheets(workbook, layout, meta, main, columns)
    schema_version = meta.get("schemaVersion") or DEFAULT_SCHEMA_VERSION
    reader = SheetReader(layout, mapping, f"{main}!", list_sheet=False)
    for group in reader.groups(data):
        for fragment in fragments.pop(group.key, []) if group.key is not None else []:
            _merge(group.record, fragment.record)
            group.problems.extend(fragment.problems)
            for pointer, ref in fragment.cells.items():
                group.cells.setdefault(pointer, ref)
            for pointer, line in fragment.lines.items():
                if pointer:
                    group.lines.setdefault(pointer, line)
        yield _finish(group, schema_version, columns)
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
        headings, data = _after_heading(layout, first[1], lookahead, rows)
        mapping = _map_headings(layout, sheet, headings, f"sheet {found!r}: ")
        if not any(column.path == RECORD_ID for column in mapping.values()):
            raise TableError(
                f"sheet {found!r}: has no 'Record identifier' column to link its rows to records"
            )
        columns[f"{found}!"] = _letters(mapping)
        reader = SheetReader(layout, mapping, f"{found}!", list_sheet=True)
        by_key: dict[str | None, Group] = {}
        for group in reader.groups(data):
            if group.key in by_key:
                _merge(by_key[group.key].record, group.record)
                by_key[group.key].problems.extend(group.problems)
            else:
                by_key[group.key] = group
        for key, group in by_key.items():
            fragments.setdefault(key, []).append(group)
    return fragments
