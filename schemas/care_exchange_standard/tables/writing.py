"""Blank spreadsheets (and spreadsheets of records) in the layout of layout.py: XLSX and CSV.

XLSX is written with xlsxwriter in constant-memory mode (each row goes to disk as it is written).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import IO, Any

from care_exchange_standard.fields import ITEMS, Field, FieldPath
from care_exchange_standard.standard import STANDARD_VERSION
from care_exchange_standard.tables.cells import write_cell
from care_exchange_standard.tables.layout import (
    DEFAULT_SCHEMA_VERSION,
    HOW_TO_SHEET,
    LISTS_SHEET,
    META_SHEET,
    RECORD_ID,
    Column,
    Layout,
    Sheet,
)

LAYOUT_VERSION = "1"
FIRST_DATA_ROW = 2  # 0-based: headings, notes, then data
LAST_ROW = 1_048_575
YES_NO = ("Yes", "No")
Line = dict[FieldPath, Any]


# --- records to lines (the inverse of the outline rule reading follows) ---


def _get(value: Any, path: FieldPath) -> Any:
    for name in path:
        if not isinstance(value, Mapping) or name not in value:
            return None
        value = value[name]
    return value


def _lines(
    layout: Layout, obj: Mapping[str, Any], level: FieldPath, columns: tuple[Column, ...]
) -> list[Line]:
    own: Line = {}
    for column in columns:
        if column.list_path == level:
            value = _get(obj, column.rel)
            if value is not None:
                own[column.path] = value
    inner = [
        info
        for info in layout.lists
        if (info.parent or ()) == level
        and any(c.list_path[: len(info.path)] == info.path for c in columns if c.list_path)
    ]
    merged: list[Line] = []
    for info in inner:
        rel = info.path[len(level) + 1 :] if level else info.path
        items = _get(obj, rel) or []
        lines = [line for item in items for line in _lines(layout, item, info.path, columns)]
        for index, line in enumerate(lines):
            if index < len(merged):
                merged[index].update(line)
            else:
                merged.append(dict(line))
    if not merged:
        merged.append({})
    merged[0].update(own)
    return merged


def record_lines(layout: Layout, record: Mapping[str, Any], sheet: Sheet | None) -> list[Line]:
    """The lines a record takes on a sheet (None: the CSV's one table)."""
    if sheet is None:
        lines = _lines(layout, record, (), layout.template_columns)
    elif sheet.list_path is None:
        lines = _lines(layout, record, (), sheet.columns)
    else:
        items = _get(record, sheet.list_path) or []
        columns = sheet.columns[1:]
        lines = [line for item in items for line in _lines(layout, item, sheet.list_path, columns)]
    identifier = record.get(RECORD_ID[0])
    for line in lines:
        line[RECORD_ID] = identifier
    if sheet is not None and sheet.list_path is not None:
        return lines
    version = record.get("schemaVersion")
    if version and version != DEFAULT_SCHEMA_VERSION:
        lines[0][("schemaVersion",)] = version
    return lines


# --- CSV -----------------------------------------------------------------------------------------


def write_csv(layout: Layout, target: IO[bytes], records: Iterable[Mapping[str, Any]] = ()) -> None:
    """A CSV (UTF-8 with a byte-order mark, for Excel): headings, field paths, notes, records."""
    text = io.TextIOWrapper(target, encoding="utf-8-sig", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        columns = list(layout.template_columns)
        records = list(records)
        version_column = next(c for c in layout.columns if c.path == ("schemaVersion",))
        if any(
            r.get("schemaVersion", DEFAULT_SCHEMA_VERSION) != DEFAULT_SCHEMA_VERSION
            for r in records
        ):
            columns.append(version_column)
        writer.writerow([column.heading for column in columns])
        writer.writerow([column.name for column in columns])
        writer.writerow([column.note for column in columns])
        for record in records:
            for line in record_lines(layout, record, None):
                writer.writerow([_csv_cell(column, line.get(column.path)) for column in columns])
    finally:
        text.detach()


def _csv_cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES_NO[0] if value else YES_NO[1]
    cell = write_cell(column, value, titles=False)
    return repr(cell) if isinstance(cell, float) else str(cell)


# --- XLSX ----------------------------------------------------------------------------------------


def write_xlsx(
    layout: Layout, target: str | Path | IO[bytes], records: Iterable[Mapping[str, Any]] = ()
) -> None:
    """A workbook: a sheet of records, a sheet per list, how to fill it in, lists, metadata."""
    import xlsxwriter  # type: ignore[import-untyped]

    options = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    workbook = xlsxwriter.Workbook(str(target) if isinstance(target, Path) else target, options)
    formats = {
        "heading": workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7", "border": 1}
        ),
        "required": workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#F8CBAD", "border": 1}
        ),
        "note": workbook.add_format(
            {
                "italic": True,
                "text_wrap": True,
                "valign": "top",
                "font_color": "#595959",
                "font_size": 9,
                "bg_color": "#F2F2F2",
                "border": 1,
            }
        ),
        "text": workbook.add_format({"num_format": "@"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "date-time": workbook.add_format({"num_format": "@"}),
        "general": workbook.add_format({}),
        "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
        "title": workbook.add_format({"bold": True, "font_size": 14}),
        "bold": workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"}),
    }
    records = list(records)
    sheets = [(sheet, workbook.add_worksheet(sheet.name)) for sheet in layout.sheets]
    how_to = workbook.add_worksheet(HOW_TO_SHEET)
    lists = workbook.add_worksheet(LISTS_SHEET)
    meta = workbook.add_worksheet(META_SHEET)
    sources = _write_lists(layout, lists)
    lists.hide()
    for sheet, worksheet in sheets:
        _write_sheet(layout, sheet, worksheet, formats, sources, records)
    _write_how_to(layout, how_to, formats)
    _write_meta(layout, meta)
    meta.very_hidden()
    sheets[0][1].activate()
    workbook.close()


def _write_lists(layout: Layout, worksheet: Any) -> dict[str, str]:
    """One column per codelist (titles, as the drop-downs show them); the range of each."""
    wanted: dict[str, tuple[str, ...]] = {"Yes/No": YES_NO}
    for column in layout.template_columns:
        if column.kind == "code":
            wanted.setdefault(column.codelist or column.name, tuple(column.codes.values()))
    sources: dict[str, str] = {}
    for index, (name, titles) in enumerate(wanted.items()):
        worksheet.write_string(0, index, name)
        letter = _letters(index)
        sources[name] = f"={LISTS_SHEET}!${letter}$2:${letter}${len(titles) + 1}"
    for row in range(max(len(titles) for titles in wanted.values())):
        for index, titles in enumerate(wanted.values()):
            if row < len(titles):
                worksheet.write_string(row + 1, index, titles[row])
    return sources


def _letters(index: int) -> str:
    from care_exchange_standard.tables.xlsx import column_letters

    return column_letters(index)


def _validation(column: Column, sources: Mapping[str, str]) -> dict[str, Any] | None:
    low, high = column.minimum, column.maximum
    match column.kind:
        case "code":
            closed = not column.open_codes
            return {
                "validate": "list",
                "source": sources[column.codelist or column.name],
                "error_type": "stop" if closed else "information",
                "error_title": column.heading[:32],
                "error_message": (
                    "Pick a value from the list."
                    if closed
                    else "This is not on the list. Keep it only if no listed value fits."
                )[:255],
            }
        case "boolean":
            return {"validate": "list", "source": sources["Yes/No"], "error_type": "stop",
                    "error_message": "Yes or No."}  # fmt: skip
        case "integer" | "number":
            kind = "integer" if column.kind == "integer" else "decimal"
            rule: dict[str, Any] = {"validate": kind, "error_type": "stop"}
            if low is not None and high is not None:
                rule.update(criteria="between", minimum=low, maximum=high)
            elif low is not None:
                rule.update(criteria=">=", value=low)
            else:
                rule.update(criteria="between", minimum=-1e15, maximum=1e15)
            rule["error_message"] = column.what_to_enter[:255]
            if kind == "integer":
                for key in ("minimum", "maximum", "value"):
                    if key in rule:
                        rule[key] = int(rule[key])
            return rule
        case "date":
            return {"validate": "date", "criteria": "between", "minimum": date(1900, 1, 1),
                    "maximum": date(2999, 12, 31), "error_type": "stop",
                    "error_message": column.what_to_enter}  # fmt: skip
    return None


def _write_sheet(
    layout: Layout,
    sheet: Sheet,
    worksheet: Any,
    formats: Mapping[str, Any],
    sources: Mapping[str, str],
    records: list[Mapping[str, Any]],
) -> None:
    columns = list(sheet.columns)
    extra = next(c for c in layout.columns if c.path == ("schemaVersion",))
    if sheet.list_path is None and any(
        r.get("schemaVersion", DEFAULT_SCHEMA_VERSION) != DEFAULT_SCHEMA_VERSION for r in records
    ):
        columns.append(extra)
    for index, column in enumerate(columns):
        width = max(12, min(36, len(column.heading) * 0.9))
        cell_format = formats[
            {
                "string": "text",
                "code": "text",
                "codes": "text",
                "texts": "wrap",
                "date": "date",
                "date-time": "date-time",
            }.get(column.kind, "general")
        ]
        worksheet.set_column(index, index, width, cell_format)
        rule = _validation(column, sources)
        if rule is not None:
            worksheet.data_validation(FIRST_DATA_ROW, index, LAST_ROW, index, rule)
    worksheet.set_row(1, 110)
    link_note = (
        f"Required. The record identifier of the record on the '{layout.main_sheet.name}' "
        "sheet this row belongs to."
    )
    # Constant-memory mode writes a row out when the next begins: one row at a time.
    for index, column in enumerate(columns):
        linking = sheet.list_path is not None and index == 0
        style = "required" if column.required or linking else "heading"
        worksheet.write_string(0, index, column.heading, formats[style])
    for index, column in enumerate(columns):
        linking = sheet.list_path is not None and index == 0
        worksheet.write_string(1, index, link_note if linking else column.note, formats["note"])
    worksheet.freeze_panes(FIRST_DATA_ROW, 0)
    row = FIRST_DATA_ROW
    for record in records:
        for line in record_lines(layout, record, sheet):
            for index, column in enumerate(columns):
                value = line.get(column.path)
                if value is not None:
                    _write_value(worksheet, row, index, column, value, formats)
            row += 1


def _write_value(
    worksheet: Any, row: int, index: int, column: Column, value: Any, formats: Mapping[str, Any]
) -> None:
    if column.kind == "date" and isinstance(value, str):
        try:
            worksheet.write_datetime(row, index, date.fromisoformat(value), formats["date"])
            return
        except ValueError:
            pass
    cell = write_cell(column, value, titles=True)
    if isinstance(cell, bool):
        worksheet.write_string(row, index, YES_NO[0] if cell else YES_NO[1])
    elif isinstance(cell, int | float):
        worksheet.write_number(row, index, cell)
    else:
        worksheet.write_string(row, index, str(cell))


def how_to_lines(layout: Layout) -> Iterator[str]:
    """The instructions at the top of the "How to fill this in" sheet."""
    main = layout.main_sheet.name
    yield f"{layout.title}: how to fill this in"
    yield str(layout.title and _schema_description(layout))
    yield ""
    yield (
        f"Give one record a row on the '{main}' sheet, from row 3 down. Row 1 holds the headings "
        "and row 2 says what each column takes; leave both as they are, and do not rename the "
        "sheets or the headings."
    )
    yield (
        "Headings in orange are required whenever their part of the record is given; blue ones "
        "are optional. Leave a cell empty when you have nothing to say: an empty cell is left "
        "out of the record, it is not a zero."
    )
    fields = _fields(layout)
    for sheet in layout.sheets[1:]:
        if sheet.list_path is None:
            continue
        about = fields[sheet.list_path].description
        yield (
            f"The '{sheet.name}' sheet: {about} Give each of its rows the record identifier of "
            f"its record on the '{main}' sheet, and give a record as many rows as it needs."
        )
    if any(info.parent is not None for info in layout.lists):
        yield (
            "Where a row has a list of its own (for example several reasons with their numbers), "
            "give the first on the row itself and each further one on the next line down, leaving "
            "the row's other cells empty: such a line adds to the row above it."
        )
    yield (
        "Dates: 2024-03-31 or 31/03/2024. Dates and times: 2024-03-31 14:30 is taken as UK time; "
        "write 2024-03-31T14:30:00+01:00 to give the offset yourself."
    )
    yield "Yes/No columns take Yes or No (True and False are accepted too)."
    yield (
        "Columns with a drop-down take a value from its list (the code or the title); a column "
        "that takes several codes takes them separated by ';'. The columns are listed below."
    )
    yield (
        "The same layout works as CSV (care-exchange spreadsheet TYPE --format csv): there every "
        "list sits in the one table, and a record's further list rows go on the lines below it."
    )
    yield "Check the file with: care-exchange validate FILE"


def _schema_description(layout: Layout) -> str:
    from care_exchange_standard.standard import load_standard

    return str(load_standard().types[layout.record_type].schema.get("description", ""))


def _fields(layout: Layout) -> Mapping[FieldPath, Field]:
    from care_exchange_standard.standard import load_standard

    return load_standard().types[layout.record_type].fields


def _write_how_to(layout: Layout, worksheet: Any, formats: Mapping[str, Any]) -> None:
    worksheet.set_column(0, 0, 28, formats["wrap"])
    worksheet.set_column(1, 1, 36, formats["wrap"])
    worksheet.set_column(2, 3, 16, formats["wrap"])
    worksheet.set_column(4, 4, 60, formats["wrap"])
    row = 0
    for number, line in enumerate(how_to_lines(layout)):
        if number == 0:
            worksheet.write_string(row, 0, line, formats["title"])
        elif line:
            worksheet.merge_range(row, 0, row, 4, line, formats["wrap"])
            worksheet.set_row(row, 15 * (1 + len(line) // 110))
        row += 1
    row += 1
    for index, title in enumerate(("Sheet", "Heading", "Field", "Required", "What to enter")):
        worksheet.write_string(row, index, title, formats["heading"])
    row += 1
    for sheet in layout.sheets:
        for column in sheet.columns:
            if sheet.list_path is not None and column.path == RECORD_ID:
                continue
            allowed = ""
            if column.kind in ("code", "codes"):
                allowed = " Values: " + "; ".join(
                    f"{code} ({title})" if code != title else code
                    for code, title in column.codes.items()
                )
            text = f"{column.what_to_enter} {column.field.description}{allowed}".strip()
            values = (sheet.name, column.heading, column.name, "Yes" if column.required else "No")
            for index, value in enumerate(values):
                worksheet.write_string(row, index, value, formats["wrap"])
            worksheet.write_string(row, 4, text, formats["wrap"])
            row += 1


def _write_meta(layout: Layout, worksheet: Any) -> None:
    rows = [
        ("recordType", layout.record_type),
        ("schemaVersion", DEFAULT_SCHEMA_VERSION),
        ("standardVersion", STANDARD_VERSION),
        ("layout", LAYOUT_VERSION),
        ("sheet", layout.main_sheet.name),
    ]
    for sheet in layout.sheets[1:]:
        if sheet.list_path is not None:
            name = ".".join(p for p in sheet.list_path if p != ITEMS)
            rows.append((f"sheet:{name}", sheet.name))
    for index, (key, value) in enumerate(rows):
        worksheet.write_string(index, 0, key)
        worksheet.write_string(index, 1, value)
