"""`care-exchange returns`: preview a body's return from record files, and what the standard fills.

A provider or a vendor sees, without a server, exactly what each return will say from the
records they publish. Records that are not valid are left out and counted, never guessed at.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

returns_app = typer.Typer(
    help="Returns filled from the common records: preview one, or see what the standard fills.",
    no_args_is_help=True,
)
EXIT_USAGE = 2


class ReturnFormat(StrEnum):
    """The forms a filled return is written in."""

    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


class CoverageFormat(StrEnum):
    """The forms the coverage is written in."""

    TABLE = "table"
    JSON = "json"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"care-exchange returns: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _template(name: str) -> Any:
    """A template from a file, or a shipped one by its id."""
    from care_exchange_standard.returns import TemplateError, load_template, shipped_templates

    path = Path(name)
    if path.suffix == ".json" or path.exists():
        try:
            return load_template(path)
        except TemplateError as error:
            problems = "\n  ".join(str(problem) for problem in error.problems)
            raise _fail(f"{name} cannot be used:\n  {problems}") from None
    shipped = shipped_templates()
    if name not in shipped:
        known = ", ".join(sorted(shipped)) or "none"
        raise _fail(f"no template {name!r}: give a file, or one of the shipped ones ({known})")
    return shipped[name]


def _records(paths: list[Path]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], int]:
    """Valid records, directory entries by `service/ID` and `provider/ID`, and invalid ones.

    Invalid records are only counted: a return is never filled from a record the standard
    refuses.
    """
    from care_exchange_standard import load_standard
    from care_exchange_standard.inputs import located_records
    from care_exchange_standard.sources import InputError, expand

    standard = load_standard()
    records: list[dict[str, Any]] = []
    services: dict[str, dict[str, Any]] = {}
    invalid = 0
    for item in expand(paths):
        try:
            for found in located_records(item):
                kind, issues = standard.validate(found.record)
                if kind is None or any(i.severity == "error" for i in issues):
                    invalid += 1
                elif kind in ("service", "provider"):
                    services[f"{kind}/{found.record['id']}"] = found.record
                elif kind in standard.record_types:
                    records.append(found.record)
        except InputError as error:
            raise _fail(f"{item.name}: {error}") from None
    return records, services, invalid


@returns_app.command("render")
def render(
    template: Annotated[
        str, typer.Argument(help="A template file, or the id of a shipped template.")
    ],
    records: Annotated[
        list[Path],
        typer.Option(
            "--records", "-r", help="A file or folder of records (repeat for more).", exists=True
        ),
    ],
    service: Annotated[
        list[str],
        typer.Option(
            help="The service the return is for; repeat it for one return per service (a "
            "bulk-upload CSV gets a row for each)."
        ),
    ],
    period: Annotated[
        str, typer.Option(help="The period: 2026-10, 2026-Q1, 2026-W44, 2026, a date, an id.")
    ],
    output_format: Annotated[
        ReturnFormat, typer.Option("--format", "-f", help="How to write the return.")
    ] = ReturnFormat.JSON,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="The file to write (XLSX needs one).", show_default=False
        ),
    ] = None,
) -> None:
    """Fill a return from record files, offline, as a server would fill it."""
    from care_exchange_standard.returns import PeriodError, ReturnRequest, fill_many
    from care_exchange_standard.returns.rendering import as_csv, write_xlsx

    chosen = _template(template)
    if output_format is ReturnFormat.XLSX and len(service) > 1:
        raise _fail("--format xlsx takes one --service: a workbook holds one return")
    found, services, invalid = _records(records)
    if invalid:
        typer.echo(
            f"care-exchange returns: {invalid} invalid record(s) left out; "
            "`care-exchange validate` says why",
            err=True,
        )
    requests = []
    for service_id in dict.fromkeys(service):
        entry = services.get(f"service/{service_id}")
        owner = services.get(f"provider/{entry['providerId']}") if entry else None
        requests.append(ReturnRequest(service_id, found, entry, owner))
    try:
        filled = fill_many(chosen, requests, period=period)  # one worker for every return
    except PeriodError as error:
        raise _fail(str(error)) from None
    if output_format is ReturnFormat.XLSX:
        if output is None:
            raise _fail("--format xlsx needs --output FILE")
        write_xlsx(filled[0], output)
        return
    if output_format is ReturnFormat.CSV:
        text = as_csv(filled)
    else:
        bodies = [one.as_dict() for one in filled]
        shown = bodies[0] if len(bodies) == 1 else bodies
        text = json.dumps(shown, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8", newline="")


@returns_app.command("coverage")
def coverage(
    templates: Annotated[
        list[str] | None,
        typer.Argument(help="Template files or shipped ids (default: every shipped template)."),
    ] = None,
    output_format: Annotated[
        CoverageFormat, typer.Option("--format", "-f", help="A table, or JSON.")
    ] = CoverageFormat.TABLE,
) -> None:
    """How much of each return the standard fills: fields exact, derived and unmapped."""
    from care_exchange_standard.returns import shipped_templates, template_coverage

    chosen = [_template(name) for name in templates] if templates else shipped_templates().values()
    found = [template_coverage(template) for template in chosen]
    if output_format is CoverageFormat.JSON:
        sys.stdout.write(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("template", "version", "fields", "exact", "derived", "unmapped", "filled"):
        table.add_column(column, justify="left" if column == "template" else "right")
    for one in found:
        table.add_row(
            one["template"]["id"],
            one["template"]["version"],
            *(str(one[name]) for name in ("fields", "exact", "derived", "unmapped")),
            f"{one['mappedShare']:.0%}",
        )
    console = Console()
    console.print(table)
    for one in found:
        for gap in one["unmappedFields"]:
            console.print(
                f"{one['template']['id']} {gap['code']} unmapped: {gap['reason']}", markup=False
            )
