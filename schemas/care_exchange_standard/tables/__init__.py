"""Spreadsheets of records: blank CSV/XLSX files generated from the schemas, and filled ones read.

`layout.py` is the one mapping between a record type and its columns and sheets; `writing.py`
writes blank (or filled) spreadsheets in it and `reading.py` reads them back, streamed row by row.

Conventions (the "How to fill this in" sheet says the same to people):

- Headings are the fields' titles, nested objects joined by ": " ("Admissions: Status"); an
  object with one value to give (money: the amount, the currency being fixed) is one column.
  The second row holds notes: "Required." or "Optional.", what to enter and the description.
  Readers also accept a field path (`admissions.status`) or JSON pointer as a heading.
- Fields with a fixed value (`recordType`, `currency`) have no column; `schemaVersion` defaults
  to the standard's MAJOR.MINOR and may be given in a "Schema version" column.
- Several codes go in one cell separated by ";"; a list of free texts has one entry a line.
  Codes may be given by code or by title, in any case. Yes/No columns take yes/no/true/false.
  Dates: 2024-03-31, 31/03/2024 (UK order), a date cell or an Excel serial number. Date-times
  without an offset are UK time (Europe/London).
- XLSX: one sheet for the records (one record a row), then one sheet for each list of rows
  (an array of objects) of the record or of its objects; each row there starts with the
  "Record identifier" of its record. A list inside a list's rows (the reasons of a bed row)
  sits on its parent's sheet: the first on the row itself, each further one on the line below
  with the parent's cells left blank. Drop-down lists come from a hidden "Lists" sheet; the
  record type and sheet names are on a very hidden "care-exchange" sheet, so a workbook says
  which type it holds. Number, whole-number and date cells carry data validation.
- CSV: UTF-8 (a byte-order mark is written for Excel and accepted); other encodings are
  refused with the way to re-save. Row 1 holds the headings, row 2 the field paths (a
  machine-readable heading row), row 3 the notes; readers skip rows 2 and 3 when they are
  such rows, so a CSV made by hand with only human headings, or only field paths, reads the
  same. All lists sit in the one table: a record's first line gives its fields and the first
  row of each list; each further line with the same "Record identifier" (or none) adds one row
  to each list whose cells it fills. The record type is the one whose columns the headings
  name (give it with --type when the headings fit several).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from care_exchange_standard.tables.parts import CsvPart as CsvPart
    from care_exchange_standard.tables.parts import NotPlainError as NotPlainError
    from care_exchange_standard.tables.parts import csv_parts as csv_parts
    from care_exchange_standard.tables.parts import in_order as in_order
    from care_exchange_standard.tables.parts import read_part as read_part
    from care_exchange_standard.tables.parts import read_part_batches as read_part_batches
    from care_exchange_standard.tables.reading import (
        CellProblem,
        TableError,
        TableRow,
        read_table,
    )

__all__ = ["CellProblem", "TableError", "TableRow", "read_table"]
# Beyond the contract: a large CSV file in parts, for the validator's worker processes.
PARTS = ("CsvPart", "NotPlainError", "csv_parts", "in_order", "read_part", "read_part_batches")


def __getattr__(name: str) -> Any:
    # The reader is imported on first use, so that importing the command stays light.
    if name in __all__:
        from care_exchange_standard.tables import reading

        return getattr(reading, name)
    if name in PARTS:
        from care_exchange_standard.tables import parts

        return getattr(parts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
