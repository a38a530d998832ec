"""The validator's report for people: summary, inputs not read, errors, then warnings by field."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from care_exchange_standard.standard import STANDARD_VERSION
from care_exchange_standard.validation import Severity
from care_exchange_standard.validator import Report


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def print_report(report: Report, console: Console) -> None:
    """Write the report; colour is decoration only, every line says what it is in words."""
    summary = report.summary()
    verdict = "[bold green]all valid[/]" if report.valid else "[bold red]INVALID[/]"
    extra = ""
    if summary["unreadable"]:
        extra += f", {summary['unreadable']} could not be read"
    if summary["skipped"]:
        extra += f", {summary['skipped']} skipped"
    console.print(
        f"Care Exchange {STANDARD_VERSION} validation: {verdict} - "
        f"{_plural(summary['records'], 'record')} in {_plural(summary['files'], 'file')}: "
        f"{summary['valid']} valid, {summary['invalid']} invalid "
        f"({_plural(summary['errors'], 'error')}, {_plural(summary['warnings'], 'warning')})"
        f"{extra}"
    )
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("type")
    table.add_column("valid", justify="right")
    table.add_column("invalid", justify="right")
    for name, counts in report.by_type().items():
        table.add_row(name, str(counts["valid"]), str(counts["invalid"]))
    if summary["records"]:
        console.print(table)
    not_read = [item for item in report.inputs if item.status != "read"]
    if not_read:
        console.print("\n[bold]Inputs not validated[/]")
        for item in not_read:
            label = "[red]ERROR[/]" if item.status == "unreadable" else "[yellow]SKIPPED[/]"
            message = (item.message or "").removeprefix("skipped: ")
            console.print(f"  {label} {escape(item.name)}: {escape(message)}")
    for severity, label, style in (
        (Severity.ERROR, "ERROR", "red"),
        (Severity.WARNING, "WARNING", "yellow"),
    ):
        groups = report.grouped(severity)
        if not groups:
            continue
        heading = "Errors" if severity is Severity.ERROR else "Warnings (the records stay valid)"
        console.print(f"\n[bold]{heading}[/]")
        for (type_name, field), found in groups.items():
            docs = found[0][1].docs
            link = f"  see {escape(docs)}" if docs else ""
            console.print(f"\n[bold]{escape(type_name)} {escape(field)}[/] ({len(found)}){link}")
            for result, issue in found:
                place = result.place(issue)
                at = "" if place != result.where else f" {escape(issue.pointer or '/')}"
                console.print(f"  [{style}]{label}[/] {escape(place)}{at}: {escape(issue.message)}")
    if report.omitted:
        console.print(
            f"\n... and {_plural(report.omitted, 'more record')} with errors or warnings, "
            "not shown (counted above); use --format json to list them all."
        )
