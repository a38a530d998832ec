"""The validator's report for people: summary, then errors, then warnings, grouped by field."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from care_exchange_standard import STANDARD_VERSION, Severity
from care_exchange_standard.validator import Report


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def print_report(report: Report, console: Console) -> None:
    """Write the report; colour is decoration only, every line says what it is in words."""
    summary = report.summary()
    verdict = "[bold green]all valid[/]" if report.valid else "[bold red]INVALID[/]"
    console.print(
        f"Care Exchange {STANDARD_VERSION} validation: {verdict} - "
        f"{_plural(summary['records'], 'record')} in {_plural(summary['files'], 'file')}: "
        f"{summary['valid']} valid, {summary['invalid']} invalid "
        f"({_plural(summary['errors'], 'error')}, {_plural(summary['warnings'], 'warning')})"
    )
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("type")
    table.add_column("valid", justify="right")
    table.add_column("invalid", justify="right")
    for name, counts in report.by_type().items():
        table.add_row(name, str(counts["valid"]), str(counts["invalid"]))
    if summary["records"]:
        console.print(table)
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
                console.print(
                    f"  [{style}]{label}[/] {escape(result.source.where)} "
                    f"{escape(issue.pointer or '/')}: {escape(issue.message)}"
                )
