"""A filled return as the body takes it: CSV for upload, XLSX for a person, JSON for software.

CSV has the return's own codes as columns and one row per service, so a bulk-upload file (the
ASC-WDS workplace file, for one) comes out as its owner specifies; several services make
several rows. The workbook lists each question with its value and status, for a manager to
read before anything is sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from care_exchange_standard.returns.filling import FilledReturn

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_csv(filled: Sequence[FilledReturn]) -> str:
    """One header of field codes, then one row per filled return (all of one template)."""
    if not filled:
        raise ValueError("nothing to write: no filled return")
    codes = [str(field.definition["code"]) for field in filled[0].fields]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(codes)
    for one in filled:
        writer.writerow([_cell(field.value) for field in one.fields])
    return out.getvalue()


def write_xlsx(filled: FilledReturn, target: str | Path | IO[bytes]) -> None:
    """A workbook with the return's questions, values and statuses, and the records used."""
    import xlsxwriter  # type: ignore[import-untyped]

    options = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    workbook = xlsxwriter.Workbook(str(target) if isinstance(target, Path) else target, options)
    bold = workbook.add_format({"bold": True})
    heading = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    sheet = workbook.add_worksheet("Return")
    template = filled.template
    facts = [
        ("Return", f"{template.title} (version {template.version})"),
        ("Service", filled.service_id),
        ("Period", filled.period.designator),
    ]
    for row, (name, value) in enumerate(facts):
        sheet.write_string(row, 0, name, bold)
        sheet.write_string(row, 1, value)
    columns = ["Code", "Question", "Section", "Unit", "Value", "Status", "Note"]
    top = len(facts) + 1
    for column, name in enumerate(columns):
        sheet.write_string(top, column, name, heading)
    for row, field in enumerate(filled.fields, start=top + 1):
        definition = field.definition
        for column, name in enumerate(("code", "label", "section", "unit")):
            sheet.write_string(row, column, str(definition.get(name, "")), wrap)
        value = field.value
        if isinstance(value, bool):
            sheet.write_boolean(row, 4, value)
        elif isinstance(value, int | float):
            sheet.write_number(row, 4, value)
        else:
            sheet.write_string(row, 4, _cell(value))
        sheet.write_string(row, 5, field.status)
        sheet.write_string(row, 6, field.message or "", wrap)
    for column, width in enumerate((14, 60, 24, 14, 14, 12, 50)):
        sheet.set_column(column, column, width)
    sources = workbook.add_worksheet("Records used")
    sources.write_row(0, 0, ["Record type", "Record id"], heading)
    row = 1
    for record_type, ids in filled.sources.items():
        for record_id in ids:
            sources.write_row(row, 0, [record_type, record_id])
            row += 1
    sources.set_column(0, 1, 36)
    workbook.close()
