"""Command-line entry points of the conformance package."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from care_exchange_standard import load_standard
from care_exchange_standard.report_text import print_report
from care_exchange_standard.sources import InputError
from care_exchange_standard.validator import validate_paths

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class OutputFormat(StrEnum):
    """How the validator reports."""

    TEXT = "text"
    JSON = "json"


def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(help="JSON, NDJSON or JSONL files, or folders to search for them."),
    ],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for programs.")
    ] = OutputFormat.TEXT,
) -> None:
    """Validate Care Exchange records offline against the standard's schemas.

    Exits 0 when every record is valid (warnings allowed), 1 when any is invalid, 2 when an input
    cannot be read as JSON.
    """
    try:
        report = validate_paths(load_standard(), paths)
    except InputError as error:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"care-exchange validate: {error}", markup=False
        )
        raise typer.Exit(EXIT_USAGE) from None
    if output is OutputFormat.JSON:
        json.dump(report.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_report(report, Console(highlight=False, soft_wrap=True))
    raise typer.Exit(EXIT_VALID if report.valid else EXIT_INVALID)
