"""`care-exchange conformance`: the suite's subcommands, added to the one console command."""

from __future__ import annotations

import os
import secrets
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from care_exchange_conformance import checks, config
from care_exchange_conformance.registry import Level, select
from care_exchange_conformance.reports import console as console_report
from care_exchange_conformance.reports import html, json_report, junit
from care_exchange_conformance.runner import run

EXIT_CONFORMS, EXIT_FAILS, EXIT_USAGE = 0, 1, 2

app = typer.Typer(
    help="Check an implementation of the Care Exchange API against the standard.",
    no_args_is_help=True,
)


def _usage(message: str) -> NoReturn:
    typer.echo(f"care-exchange conformance: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


@app.command("run")
def run_command(
    base_url: Annotated[
        str | None, typer.Option(help="The implementation's base URL (overrides the file).")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="A TOML file: address and clients.")
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option(help="Run only checks whose id matches (CX-AUTH-*).")
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option(help="Leave out checks whose id matches.")
    ] = None,
    level: Annotated[
        int, typer.Option(min=1, max=2, help="1: required checks only; 2: recommended too.")
    ] = 2,
    seed: Annotated[int | None, typer.Option(help="Repeat an earlier run's choices.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the JSON report.")] = None,
    junit_file: Annotated[
        Path | None, typer.Option("--junit", help="Write a JUnit XML report.")
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML report.")
    ] = None,
    keep_data: Annotated[
        bool, typer.Option(help="Leave the records the run published instead of retracting them.")
    ] = False,
) -> None:
    """Run the checks; exit 0 only when every selected level-1 check passes."""
    out = Console(highlight=False)
    try:
        settings = config.load(config_file, os.environ, {"base_url": base_url})
    except config.ConfigError as error:
        _usage(str(error))
    chosen = select(checks.all_checks(), only or (), skip or (), Level(level))
    if not chosen:
        _usage("no check matches the selection.")
    used_seed = seed if seed is not None else secrets.randbelow(2**31)
    out.print(f"Checking {settings.base_url}: {len(chosen)} checks, seed {used_seed}")
    report = run(
        settings,
        chosen,
        used_seed,
        lambda result: console_report.progress(out, result),
        keep_data=keep_data,
    )
    console_report.summary(out, report)
    data = json_report.as_dict(report, version("care-exchange-conformance"))
    if json_file is not None:
        json_report.write(data, json_file)
    if html_file is not None:
        html.write(data, html_file)
    if junit_file is not None:
        junit.write(report, junit_file)
    raise typer.Exit(EXIT_CONFORMS if report.conforms else EXIT_FAILS)


def register(root: typer.Typer) -> None:
    """Add `conformance` to the project's one console command."""
    root.add_typer(app, name="conformance")
