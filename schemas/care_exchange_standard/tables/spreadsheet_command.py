"""`care-exchange spreadsheet TYPE`: a blank spreadsheet for a record type, from its schema.

The command module imports nothing heavy: the layout and the XLSX writer are imported when the
command runs, so `care-exchange --help` stays fast.
"""

from __future__ import annotations

import difflib
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 1


class SheetFormat(StrEnum):
    """The kinds of spreadsheet the command writes."""

    XLSX = "xlsx"
    CSV = "csv"


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"care-exchange spreadsheet: {message}", err=True)
    return typer.Exit(code)


def spreadsheet(
    record_type: Annotated[
        str,
        typer.Argument(
            metavar="TYPE",
            help="The record type, for example capacity-snapshot.",
            show_default=False,
        ),
    ],
    sheet_format: Annotated[
        SheetFormat,
        typer.Option(
            "--format",
            "-f",
            help="xlsx: sheets with drop-down lists and notes; csv: one table, UTF-8.",
        ),
    ] = SheetFormat.XLSX,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The file to write (default: TYPE.xlsx or TYPE.csv here; - for standard output).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the output file if it exists.")
    ] = False,
    records_from: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Fill the spreadsheet with these records (JSON, a JSON array or NDJSON).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a blank spreadsheet for a record type, generated from the standard's schema.

    Headings come from the field titles, the second row says what each column takes (required
    or not, units, the field's meaning), and the XLSX has drop-down lists for coded fields, a
    sheet per list of rows and a sheet explaining how to fill it in. Check a filled one with
    `care-exchange validate FILE`.
    """
    from care_exchange_standard.tables.layout import layout_for, record_types
    from care_exchange_standard.tables.writing import write_csv, write_xlsx

    known = record_types()
    if record_type not in known:
        close = difflib.get_close_matches(record_type, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise _fail(
            f"{record_type!r} is not a record type.{hint} Record types: {', '.join(known)}."
        )
    layout = layout_for(record_type)
    records = _records(records_from, record_type) if records_from is not None else []
    writer = write_xlsx if sheet_format is SheetFormat.XLSX else write_csv
    if output is not None and str(output) == "-":
        if sheet_format is SheetFormat.XLSX and sys.stdout.isatty():
            raise _fail("an XLSX workbook is binary: give --output FILE or redirect the output")
        writer(layout, sys.stdout.buffer, records)
        sys.stdout.buffer.flush()
        return
    target = output or Path(f"{record_type}.{sheet_format.value}")
    if target.exists() and not force:
        raise _fail(f"{target} exists: pass --force to replace it")
    try:
        with target.open("wb") as handle:
            writer(layout, handle, records)
    except OSError as error:
        raise _fail(f"cannot write {target}: {error.strerror or error}", EXIT_FAILED) from None
    title = layout.title.lower()
    if records_from is None:
        typer.echo(f"Wrote a blank {title} spreadsheet to {target}")
    else:
        count = f"{len(records)} record{'s' * (len(records) != 1)}"
        typer.echo(f"Wrote {count} to a {title} spreadsheet, {target}")


def _records(path: Path, record_type: str) -> list[dict[str, Any]]:
    """The records of a JSON, JSON-array or NDJSON file, each of the type asked for."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        loaded = json.loads(text)
        found = loaded if isinstance(loaded, list) else [loaded]
    except json.JSONDecodeError:
        found = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise _fail(f"{path}:{number}: not JSON ({error.msg})") from None
    for position, record in enumerate(found, start=1):
        kind = record.get("recordType") if isinstance(record, dict) else None
        if kind != record_type:
            raise _fail(f"{path}: record {position} is not a {record_type} record ({kind!r})")
    return found
