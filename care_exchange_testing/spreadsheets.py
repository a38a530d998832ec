"""Spreadsheets that people's tools make and ours must survive: for tests and bench/tables.py.

`blank_rows_xlsx` writes a workbook whose sheet has a record, then a long run of rows that hold
nothing (formatted empty cells, or empty strings, as spreadsheet programs leave behind), then one
more record, so a reader that stops early, or that holds the sheet in memory, is caught.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from care_exchange_standard.tables.xlsx import column_letters

Blank = Literal["styled", "empty-string"]
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PACKAGE}">'
        f'<Relationship Id="rId1" Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PACKAGE}">'
        f'<Relationship Id="rId1" Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_RELS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/styles.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{_MAIN}">'
        '<fonts count="1"><font><sz val="11"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border/></borders>'
        '<cellStyleXfs count="1"><xf/></cellStyleXfs>'
        '<cellXfs count="2"><xf xfId="0"/><xf xfId="0" fillId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}


def _cells(row: int, values: Sequence[str | int]) -> str:
    cells = []
    for index, value in enumerate(values):
        ref = f"{column_letters(index)}{row}"
        if isinstance(value, int):
            cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        elif value:
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
    return f'<row r="{row}">{"".join(cells)}</row>'


def blank_rows_xlsx(
    path: Path,
    sheet: str,
    headings: Sequence[str],
    records: Sequence[Sequence[str | int]],
    blank_rows: int,
    blank: Blank = "styled",
) -> Path:
    """The first record, `blank_rows` rows of nothing, then the other records, on one sheet."""
    width = len(headings)
    if blank == "styled":
        blank_cells = "".join(f'<c r="{column_letters(i)}{{row}}" s="1"/>' for i in range(width))
    else:
        blank_cells = "".join(
            f'<c r="{column_letters(i)}{{row}}" t="inlineStr"><is><t></t></is></c>'
            for i in range(width)
        )
    blank_row = '<row r="{row}">' + blank_cells + "</row>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" '
            f'xmlns:r="{_RELS}"><sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/>'
            "</sheets></workbook>",
        )
        with archive.open("xl/worksheets/sheet1.xml", "w") as handle:
            # The dimension claims two rows, as files edited by other tools sometimes do.
            handle.write(
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">'
                f'<dimension ref="A1:{column_letters(width - 1)}2"/><sheetData>'.encode()
            )
            handle.write(_cells(1, headings).encode())
            handle.write(_cells(2, records[0]).encode())
            row = 3
            batch: list[str] = []
            for row in range(3, 3 + blank_rows):
                batch.append(blank_row.format(row=row))
                if len(batch) == 10_000:
                    handle.write("".join(batch).encode())
                    batch = []
            handle.write("".join(batch).encode())
            for offset, record in enumerate(records[1:], start=1):
                handle.write(_cells(3 + blank_rows + offset - 1, record).encode())
            handle.write(b"</sheetData></worksheet>")
    return path


def blank_rows_csv(
    path: Path,
    headings: Sequence[str],
    records: Sequence[Sequence[str | int]],
    blank_rows: int,
    blank_width: int = 2,
) -> Path:
    """The same shape as CSV: each blank row is cells of spaces, `blank_width` characters each."""
    blank = ",".join([" " * blank_width] * len(headings)) + "\r\n"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(f'"{h}"' for h in headings) + "\r\n")
        handle.write(",".join(str(v) for v in records[0]) + "\r\n")
        for start in range(0, blank_rows, 10_000):
            handle.write(blank * min(10_000, blank_rows - start))
        for record in records[1:]:
            handle.write(",".join(str(v) for v in record) + "\r\n")
    return path
