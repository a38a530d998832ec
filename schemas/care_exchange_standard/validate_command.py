"""`care-exchange validate`: the offline validator's command.

Only what defining the command needs is imported here; the validator, its schemas and the
report writers are imported when the command runs, so `care-exchange --help` stays quick.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from care_exchange_standard.validator import RecordResult

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
# The text report shows this many records with issues; the counts always cover them all.
TEXT_LIMIT = 200


class OutputFormat(StrEnum):
    """How the validator reports."""

    TEXT = "text"
    JSON = "json"


class _JsonStream:
    """The JSON report, written as it is found: records with issues first, the totals last."""

    def __init__(self) -> None:
        self.first = True
        sys.stdout.write('{\n  "records": [')

    def record(self, result: RecordResult) -> None:
        text = json.dumps(result.as_dict(), indent=2, ensure_ascii=False).replace("\n", "\n    ")
        sys.stdout.write(("\n    " if self.first else ",\n    ") + text)
        self.first = False

    def finish(self, rest: dict[str, Any]) -> None:
        sys.stdout.write("\n  ]" if not self.first else "]")
        for key, value in rest.items():
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            sys.stdout.write(f',\n  "{key}": {text}')
        sys.stdout.write("\n}\n")


def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="JSON, NDJSON/JSONL, CSV or XLSX files, folders to search for them, "
            "or - for standard input.",
            show_default=False,
        ),
    ],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for programs.")
    ] = OutputFormat.TEXT,
    record_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="The record type of spreadsheets that do not say (for example capacity-snapshot).",
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="The sheet to read in XLSX files.")
    ] = None,
) -> None:
    """Validate Care Exchange records offline against the standard's schemas.

    Every input is reported, also one that cannot be read. Exits 0 when every record is valid
    (warnings allowed), 1 when any record is invalid or any input cannot be read, 2 when the
    command is used wrongly.
    """
    from care_exchange_standard.standard import load_standard
    from care_exchange_standard.validator import validate_paths

    standard = load_standard()
    if record_type is not None and record_type not in standard.types:
        known = ", ".join(standard.record_types)
        typer.echo(
            f"care-exchange validate: --type {record_type!r} is not a type of the standard. "
            f"Known types: {known}.",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    if output is OutputFormat.JSON:
        stream = _JsonStream()
        report = validate_paths(
            standard, paths, record_type=record_type, sheet=sheet, keep=0, listener=stream.record
        )
        whole = report.as_dict()
        stream.finish({key: whole[key] for key in ("inputs", "summary", "valid")})
    else:
        from rich.console import Console

        from care_exchange_standard.report_text import print_report

        report = validate_paths(
            standard, paths, record_type=record_type, sheet=sheet, keep=TEXT_LIMIT
        )
        print_report(report, Console(highlight=False, soft_wrap=True))
    raise typer.Exit(EXIT_VALID if report.valid else EXIT_INVALID)
