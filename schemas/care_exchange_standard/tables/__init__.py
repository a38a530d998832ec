"""Spreadsheets of records: blank CSV/XLSX files generated from the schemas, and filled ones read.

`layout.py` is the one mapping between a record type and its columns and sheets; `writing.py`
writes blank (or filled) spreadsheets in it and `reading.py` reads them back, streamed row by row.
Importing this package is light: the XLSX writer is imported only when a workbook is written.
"""

from care_exchange_standard.tables.reading import CellProblem, TableError, TableRow, read_table

__all__ = ["CellProblem", "TableError", "TableRow", "read_table"]
