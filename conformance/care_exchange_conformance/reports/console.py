"""The console: a line per check as it finishes, then each failure with its evidence."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from care_exchange_conformance.runner import Report, Result, Status

MARKS = {
    Status.PASSED: "[green]pass[/]",
    Status.FAILED: "[red]FAIL[/]",
    Status.ERROR: "[magenta]ERROR[/]",
    Status.NOT_APPLICABLE: "[dim]n/a[/]",
}


def progress(console: Console, result: Result) -> None:
    level = f"L{int(result.check.level)}"
    console.print(
        f"{MARKS[result.status]}  {result.check.id}  {level}  {result.check.title}",
        highlight=False,
    )


def summary(console: Console, report: Report) -> None:
    for result in report.results:
        if result.status is Status.ERROR:
            console.print(f"\n[magenta]{result.check.id}[/]: the suite failed: {result.note}")
        for failure in result.failures:
            console.print(f"\n[red]{result.check.id}[/] {result.check.title}", highlight=False)
            console.print(f"  {failure.message}", markup=False, highlight=False)
            console.print(f"  expected: {failure.expected}", markup=False, highlight=False)
            console.print(f"  clause:   {result.check.clause}", markup=False, highlight=False)
            if failure.exchange is not None:
                exchange = failure.exchange
                console.print(
                    f"  request:  {exchange.method} {exchange.url} -> {exchange.status}",
                    markup=False,
                    highlight=False,
                )
                if exchange.response_body:
                    body = exchange.response_body[:500]
                    console.print(f"  response: {body}", markup=False, highlight=False)
    for left in report.not_cleaned_up:
        console.print(f"[yellow]not retracted[/]: {left}", highlight=False)
    table = Table(title=f"Conformance of {report.base_url}", show_edge=False)
    for status in Status:
        table.add_column(status.value, justify="right")
    table.add_row(*(str(report.count(status)) for status in Status))
    console.print()
    console.print(table)
    verdict = "[green]conforms[/]" if report.conforms else "[red]does not conform[/]"
    console.print(
        f"Verdict: {verdict} (every selected level-1 check must pass); seed {report.seed}"
    )
