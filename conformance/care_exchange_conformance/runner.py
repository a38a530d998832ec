"""A run: the selected checks in id order, each one's outcome, and the verdict."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import httpx

from care_exchange_conformance.config import Config
from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import (
    Check,
    CheckFailedError,
    Failure,
    Level,
    NotApplicableError,
)
from care_exchange_conformance.sender import Sender


class Status(StrEnum):
    """A check's outcome; `not-applicable` when the implementation does not offer its subject."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class Result:
    """One check's outcome, with the failure that ended it."""

    check: Check
    status: Status
    seconds: float
    failures: tuple[Failure, ...] = ()
    note: str | None = None


@dataclass
class Report:
    """Everything a run found, in the order the checks ran."""

    base_url: str
    seed: int
    started_at: datetime
    finished_at: datetime | None = None
    results: list[Result] = field(default_factory=list)
    not_cleaned_up: list[str] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        """Every selected level-1 check passed; one that does not apply neither passes nor fails."""
        return all(
            result.status in (Status.PASSED, Status.NOT_APPLICABLE)
            for result in self.results
            if result.check.level is Level.REQUIRED
        )

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status is status)


def run_check(found: Check, context: Context | Sender) -> Result:
    started = time.perf_counter()

    def done(status: Status, *failures: Failure, note: str | None = None) -> Result:
        return Result(found, status, time.perf_counter() - started, failures, note)

    try:
        found.run(context)
    except CheckFailedError as failed:
        return done(Status.FAILED, failed.failure)
    except NotApplicableError as reason:
        return done(Status.NOT_APPLICABLE, note=str(reason))
    except Exception as error:  # a bug in the suite must not hide the other checks' results
        last = traceback.extract_tb(error.__traceback__)[-1]
        return done(Status.ERROR, note=f"{error!r} at {last.filename}:{last.lineno}")
    return done(Status.PASSED)


def _run_each(
    report: Report,
    checks: Sequence[Check],
    context: Context | Sender,
    on_result: Callable[[Result], None],
) -> None:
    for found in checks:
        result = run_check(found, context)
        report.results.append(result)
        on_result(result)


def run(
    config: Config,
    checks: Sequence[Check],
    seed: int,
    on_result: Callable[[Result], None] = lambda result: None,
    transport: httpx.BaseTransport | None = None,
    keep_data: bool = False,
) -> Report:
    """Run `checks` against the configured implementation, then retract what they published."""
    report = Report(config.base_url, seed, datetime.now(UTC))
    context = Context(config, seed, transport)
    try:
        _run_each(report, checks, context, on_result)
        if not keep_data:
            report.not_cleaned_up = context.clean_up()
    finally:
        context.close()
    report.finished_at = datetime.now(UTC)
    return report


def run_receiver(
    url: str,
    secret: str,
    checks: Sequence[Check],
    seed: int,
    on_result: Callable[[Result], None] = lambda result: None,
    transport: httpx.BaseTransport | None = None,
) -> Report:
    """Run a subscriber's webhook endpoint's checks (`CX-RECV-*`) against `url`."""
    report = Report(url, seed, datetime.now(UTC))
    sender = Sender(url, secret, seed, transport=transport)
    try:
        _run_each(report, checks, sender, on_result)
    finally:
        sender.close()
    report.finished_at = datetime.now(UTC)
    return report
