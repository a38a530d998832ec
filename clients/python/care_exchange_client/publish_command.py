"""`care-exchange publish FILE...`: validate here, publish in bulk, say what became of each.

Nothing is sent until every record has been checked against the standard here: an invalid
record or an unreadable file stops the run before anything is published, unless `--partial`
asks for the valid records to go anyway. Run again after an interruption, it publishes nothing
twice (each chunk's `Idempotency-Key` comes from its content, and a record whose id is found
taken by itself counts as already published). `--dry-run` has the server check every record,
the right to publish for its service included, and store nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from care_exchange_client.profiles import DEFAULT_PROFILE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

    from care_exchange_client.auth import Credentials
    from care_exchange_client.publishing import Tally
    from care_exchange_standard.inputs import Located
    from care_exchange_standard.sources import Input
    from care_exchange_standard.validator import Report

EXIT_DONE, EXIT_NOT_ALL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SENDER_SWITCH_SECONDS = 0.0002


def publish(
    paths: Annotated[
        list[Path],
        typer.Argument(help="JSON, NDJSON, CSV or XLSX files, or folders holding them."),
    ],
    record_type: Annotated[
        str | None, typer.Option("--type", help="The record type of a spreadsheet made by hand.")
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="The sheet of an XLSX file to read.")] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Have the server check every record, and store nothing.")
    ] = False,
    partial: Annotated[
        bool,
        typer.Option(help="Publish the valid records even when others are invalid or unreadable."),
    ] = False,
    chunk_size: Annotated[
        int | None, typer.Option(min=1, help="Records per request (default: the server's most).")
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help=f"The login profile to use (default: {DEFAULT_PROFILE}).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="The server, overriding the profile.")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(help="The client, overriding the profile.")
    ] = None,
    private_key: Annotated[
        Path | None, typer.Option(help="A private_key_jwt client's key file (PEM or JWK).")
    ] = None,
) -> None:
    """Validate records here, then publish them in bulk, with a table of what became of each.

    The client's secret comes from CARE_EXCHANGE_CLIENT_SECRET or the profile that
    care-exchange login wrote. Exits 0 when every record was published (or already was).
    """
    from rich.console import Console

    from care_exchange_client.profiles import ProfileError, resolve
    from care_exchange_standard import load_standard
    from care_exchange_standard.report_text import print_report
    from care_exchange_standard.sources import STDIN, expand
    from care_exchange_standard.validator import validate_inputs

    out, err = Console(highlight=False, soft_wrap=True), Console(stderr=True, highlight=False)
    if any(str(path) == STDIN for path in paths):
        _usage(err, "publish reads files, not standard input: save it to a file first.")
    standard = load_standard()
    if record_type is not None and record_type not in standard.record_types:
        _usage(err, f"--type {record_type!r} is not a record type of the standard.")
    inputs = expand(paths)
    report = validate_inputs(standard, inputs, record_type=record_type, sheet=sheet)
    held_back = report.invalid + sum(item.records for item in report.unreadable)
    if not report.valid:
        print_report(report, out)
        if not partial:
            out.print(
                "Nothing was published: correct the records above, or publish the valid ones "
                "with --partial.",
                markup=False,
            )
            raise typer.Exit(EXIT_NOT_ALL)
    try:
        chosen = resolve(
            {
                "base_url": base_url,
                "client_id": client_id,
                "private_key_file": str(private_key) if private_key else None,
            },
            profile,
        )
        credentials = chosen.credentials()
    except ProfileError as error:
        _usage(err, str(error))
    tally = _publish(
        chosen.base_url,
        credentials,
        inputs,
        report,
        record_type,
        sheet,
        dry_run,
        chunk_size,
        out,
        err,
    )
    tally.not_sent = held_back
    _summary(out, tally)
    done = tally.refused == 0 and tally.not_sent == 0 and report.valid
    raise typer.Exit(EXIT_DONE if done else EXIT_NOT_ALL)


def _publish(
    base_url: str,
    credentials: Credentials,
    inputs: list[Input],
    report: Report,
    record_type: str | None,
    sheet: str | None,
    dry_run: bool,
    chunk_size: int | None,
    out: Console,
    err: Console,
) -> Tally:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from care_exchange_client.client import Client
    from care_exchange_client.errors import CareExchangeError
    from care_exchange_client.publishing import Tally, publish_located

    tally = Tally(dry_run=dry_run)
    total = report.records - report.invalid
    doing = "Checking with the server" if dry_run else "Publishing"
    switch = sys.getswitchinterval()
    # A chunk is sent by a thread of its own while this one reads records and files results
    # (walk.AheadWalk): the sender gets the interpreter back within this of the server's
    # answer or of a write, instead of the 5 ms this thread could hold it.
    sys.setswitchinterval(SENDER_SWITCH_SECONDS)
    try:
        with (
            Client(base_url, credentials) as client,
            Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task(doing, total=total)
            publish_located(
                client,
                _valid_records(inputs, report, record_type, sheet),
                tally,
                chunk_size=chunk_size,
                on_result=lambda verdict: progress.advance(task),
            )
    except KeyboardInterrupt:
        _summary(out, tally)
        out.print(
            "Interrupted. Run the same command again: nothing published is published twice.",
            markup=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except CareExchangeError as error:
        _summary(out, tally)
        err.print(f"care-exchange publish: the server stopped the run: {error}", markup=False)
        raise typer.Exit(EXIT_NOT_ALL) from None
    finally:
        sys.setswitchinterval(switch)
    return tally


def _valid_records(
    inputs: list[Input], report: Report, record_type: str | None, sheet: str | None
) -> Iterator[Located]:
    """The records the validator found valid, read again from the inputs it could read."""
    from care_exchange_standard.inputs import located_records

    read = {item.name for item in report.inputs if item.status == "read"}
    invalid = {(result.file, result.location) for result in report.results if not result.valid}
    for item in inputs:
        if item.name in read:
            for found in located_records(item, record_type=record_type, sheet=sheet):
                if (found.input, found.location) not in invalid:
                    yield found


def _summary(out: Console, tally: Tally) -> None:
    from rich.table import Table

    table = Table(title="Dry run: nothing was stored" if tally.dry_run else None)
    table.add_column("records")
    table.add_column("how many", justify="right")
    accepted = "would be accepted" if tally.dry_run else "accepted"
    table.add_row(accepted, str(tally.accepted))
    if not tally.dry_run:
        table.add_row("already published (an earlier run)", str(tally.already))
    table.add_row("refused by the server", str(tally.refused))
    table.add_row("not sent (invalid or unreadable here)", str(tally.not_sent))
    out.print(table)
    for refusal in tally.refusals:
        out.print(f"refused ({refusal.status}): {refusal.where}", markup=False)
        for reason in refusal.reasons:
            out.print(f"  {reason}", markup=False)
    hidden = tally.refused - len(tally.refusals)
    if hidden > 0:
        out.print(f"... and {hidden} more refused records.", markup=False)


def _usage(err: Console, message: str) -> NoReturn:
    err.print(f"care-exchange publish: {message}", markup=False)
    raise typer.Exit(EXIT_USAGE)
