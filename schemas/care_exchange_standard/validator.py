"""The offline data validator: inputs in, a report of what is valid and why not out.

Every input gets a line in the report: read (with its counts), unreadable (with the reason), or
skipped (a file in a folder that is not a format the validator reads). Records are counted, and
only those with something to say are kept, so memory does not grow with the number of valid
records. Large JSON inputs are judged by worker processes, a block of lines or items at a time.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import compress
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol

import orjson

from care_exchange_standard.fields import field_path
from care_exchange_standard.sources import (
    SKIPPED,
    FileItems,
    FileLines,
    Input,
    InputError,
    Items,
    Lines,
    MustRereadError,
    Records,
    Unit,
    array_items_from,
    expand,
    first_bytes,
    item_batches,
    json_units,
    not_json,
    open_stream,
)
from care_exchange_standard.validation import BatchCheck, Issue, Severity, docs_link, pointer_parts
from care_exchange_standard.worker_memory import keep_freed_memory

if TYPE_CHECKING:
    from care_exchange_standard.standard import Standard

UNKNOWN_TYPE = "(unknown type)"
# Inputs smaller than this in all are judged in this process: workers would cost more than save.
POOL_THRESHOLD = 8 << 20
MAX_JOBS = 8
_PENDING_PER_WORKER = 4

Status = Literal["read", "unreadable", "skipped"]
# An input that holds no record is refused as an empty file is: nothing in it was checked.
NO_ROWS = "no records: it has headings but no rows of data under them"
NO_ITEMS = "no records: the list is empty"


@dataclass(frozen=True)
class RecordResult:
    """The verdict on one record that has errors or warnings, and where it is."""

    file: str
    location: str
    type_name: str | None
    issues: list[Issue]
    cells: list[str | None] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity is Severity.WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def where(self) -> str:
        """The file and the record's place in it, counted from 1.

        `a.json[3]`, `a.ndjson:7`, `a.xlsx Capacity!row 7`.
        """
        if not self.location or self.location[0] in "[:":
            return f"{self.file}{self.location}"
        return f"{self.file} {self.location}"

    def place(self, issue: Issue) -> str:
        """Where one issue is: its cell for a spreadsheet row, else the record's place."""
        for candidate, cell in zip(self.issues, self.cells, strict=False):
            if candidate is issue and cell:
                return f"{self.file} {cell}"
        return self.where

    def as_dict(self) -> dict[str, Any]:
        def entry(issue: Issue, cell: str | None) -> dict[str, Any]:
            found = issue.as_dict()
            if cell:
                found["cell"] = cell
            return found

        cells = self.cells or [None] * len(self.issues)
        return {
            "file": self.file,
            "location": self.location,
            "recordType": self.type_name,
            "valid": self.valid,
            "errors": [
                entry(i, c) for i, c in zip(self.issues, cells, strict=True) if i in self.errors
            ],
            "warnings": [
                entry(i, c) for i, c in zip(self.issues, cells, strict=True) if i in self.warnings
            ],
        }


@dataclass
class InputResult:
    """What became of one input."""

    name: str
    status: Status = "read"
    message: str | None = None
    records: int = 0
    invalid: int = 0

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "status": self.status}
        if self.message:
            found["message"] = self.message
        found.update(records=self.records, valid=self.records - self.invalid, invalid=self.invalid)
        return found


@dataclass
class Report:
    """All verdicts of one run: counts of everything, and the records with issues.

    `keep` caps how many records with issues are held (None: all); `omitted` counts the rest.
    `listener`, when set, hears each record with issues as it is found (the JSON report streams
    them that way).
    """

    inputs: list[InputResult] = field(default_factory=list)
    results: list[RecordResult] = field(default_factory=list)
    keep: int | None = None
    omitted: int = 0
    listener: Callable[[RecordResult], None] | None = None
    tally: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: int = 0
    warnings: int = 0

    @property
    def files(self) -> list[str]:
        """The inputs that were read."""
        return [item.name for item in self.inputs if item.status == "read"]

    @property
    def unreadable(self) -> list[InputResult]:
        return [item for item in self.inputs if item.status == "unreadable"]

    @property
    def skipped(self) -> list[InputResult]:
        return [item for item in self.inputs if item.status == "skipped"]

    @property
    def records(self) -> int:
        return sum(item.records for item in self.inputs)

    @property
    def invalid(self) -> int:
        return sum(item.invalid for item in self.inputs)

    @property
    def valid(self) -> bool:
        """True when every record is valid and every input could be read."""
        return not self.invalid and not self.unreadable

    def count(self, item: InputResult, type_name: str | None, valid: bool, times: int = 1) -> None:
        item.records += times
        item.invalid += 0 if valid else times
        self.tally[type_name or UNKNOWN_TYPE]["valid" if valid else "invalid"] += times

    def add(self, item: InputResult, result: RecordResult) -> None:
        """A record with issues (its count is taken by `count`)."""
        self.errors += len(result.errors)
        self.warnings += len(result.warnings)
        if self.listener is not None:
            self.listener(result)
        if self.keep is None or len(self.results) < self.keep:
            self.results.append(result)
        else:
            self.omitted += 1

    def by_type(self) -> dict[str, Counter[str]]:
        """Valid and invalid counts per type, types in alphabetical order."""
        return dict(sorted(self.tally.items()))

    def grouped(
        self, severity: Severity
    ) -> dict[tuple[str, str], list[tuple[RecordResult, Issue]]]:
        """Kept issues of one severity grouped by type and field.

        One mistake made in many records then reads as one finding with many places.
        """
        groups: dict[tuple[str, str], list[tuple[RecordResult, Issue]]] = defaultdict(list)
        for result in self.results:
            for issue in result.issues:
                if issue.severity is severity:
                    key = (result.type_name or UNKNOWN_TYPE, issue.field or issue.pointer or "/")
                    groups[key].append((result, issue))
        return dict(sorted(groups.items()))

    def summary(self) -> dict[str, Any]:
        return {
            "inputs": len(self.inputs),
            "files": len(self.files),
            "unreadable": len(self.unreadable),
            "skipped": len(self.skipped),
            "records": self.records,
            "valid": self.records - self.invalid,
            "invalid": self.invalid,
            "errors": self.errors,
            "warnings": self.warnings,
            "byType": {name: dict(counts) for name, counts in self.by_type().items()},
        }

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable report printed by `--format json` (records with issues only)."""
        return {
            "valid": self.valid,
            "summary": self.summary(),
            "inputs": [item.as_dict() for item in self.inputs],
            "records": [result.as_dict() for result in self.results],
        }


@dataclass
class Outcome:
    """What a worker found in one unit of work."""

    count: int = 0
    tally: dict[str | None, list[int]] = field(default_factory=dict)
    findings: list[tuple[str | int, str | None, list[Issue]]] = field(default_factory=list)
    failed: bool = False


def judge(standard: Standard, unit: Unit) -> Outcome:
    """Parse and validate one unit of work; only records with issues are described.

    Records are judged a batch at a time (see `_unclean`): each record's bare verdict first,
    and only the records that fail it are explained.
    """
    outcome = Outcome()
    checks = standard.clean_checks()
    clean: Counter[str] = Counter()
    if isinstance(unit, FileLines):
        unit = unit.lines()
    elif isinstance(unit, FileItems):
        unit = unit.items()
    if isinstance(unit, Lines):
        loads, first = orjson.loads, unit.first
        lines = unit.data.split(b"\n")
        for start in range(0, len(lines), BATCH):
            batch: list[tuple[str | int, Any]] = []
            for index, line in enumerate(lines[start : start + BATCH], first + start):
                try:
                    batch.append((f":{index}", loads(line)))
                except orjson.JSONDecodeError as error:
                    if line.strip():
                        batch.append((index, error))
            _judge_batch(standard, checks, outcome, clean, batch)
    elif isinstance(unit, Items):
        index = 0
        try:
            for items in item_batches(unit):  # about BATCH items a piece
                _judge_batch(standard, checks, outcome, clean, list(enumerate(items, index)))
                index += len(items)
        except MustRereadError:
            return Outcome(failed=True)
    else:
        records = unit.records
        for start in range(0, len(records), BATCH):
            _judge_batch(standard, checks, outcome, clean, list(records[start : start + BATCH]))
    for name, times in clean.items():
        outcome.count += times
        outcome.tally.setdefault(name, [0, 0])[0] += times
    return outcome


_MISSING = object()
_NO_CHECKS: dict[str, tuple[BatchCheck, ...]] = {}
_NO_STEPS: tuple[BatchCheck, ...] = ()
BATCH = 32  # records judged together, a step of their verdict at a time


def _judge_batch(
    standard: Standard,
    checks: dict[str, dict[str, tuple[BatchCheck, ...]]],
    outcome: Outcome,
    clean: Counter[str],
    batch: list[tuple[str | int, Any]],
) -> None:
    """Records (or lines that are not JSON: a line number and the error) judged in order."""
    for index in _unclean(checks, [record for _, record in batch], clean):
        location, record = batch[index]
        if isinstance(record, orjson.JSONDecodeError):
            _bad_line(outcome, int(location), record)
        else:
            _note(outcome, location, *standard.validate(record))


def _unclean(
    checks: dict[str, dict[str, tuple[BatchCheck, ...]]], records: list[Any], clean: Counter[str]
) -> list[int]:
    """The places of the records that have something to report, in order; the rest counted.

    The records with nothing to report are counted by type in `clean`, from their bare
    verdict: the records of each type are asked their verdict's steps (see
    `TypeValidator.clean_steps`) a step at a time, each step of those that passed the one
    before. A batch of one type (the commonest) is found in one pass.
    """
    by_type: dict[str, tuple[tuple[BatchCheck, ...], list[int]]] = {}
    first = records[0] if records else None
    declared = first.get("recordType") if type(first) is dict else None
    if type(declared) is str and all(
        type(record) is dict and record.get("recordType") == declared for record in records
    ):
        name, steps = _declared(checks, first)
        if name is not None:
            by_type[name] = (steps, list(range(len(records))))
    else:
        for index, record in enumerate(records):
            name, steps = _declared(checks, record)
            if name is not None:
                by_type.setdefault(name, (steps, []))[1].append(index)
    kept: set[int] = set()
    for name, (steps, indices) in by_type.items():
        for step in steps:
            if not indices:
                break
            indices = list(compress(indices, step([records[index] for index in indices])))
        if indices:
            clean[name] += len(indices)
            kept.update(indices)
    if len(kept) == len(records):
        return []
    return [index for index in range(len(records)) if index not in kept]


def _declared(
    checks: dict[str, dict[str, tuple[BatchCheck, ...]]], record: Any
) -> tuple[str | None, tuple[BatchCheck, ...]]:
    """The type a record declares and its verdict's steps, or None when it declares none known."""
    if type(record) is not dict:
        return None, _NO_STEPS
    declared = record.get("recordType", _MISSING)
    if declared is _MISSING:
        declared, checks_of = record.get("directoryType"), checks.get("directoryType", _NO_CHECKS)
    else:
        checks_of = checks.get("recordType", _NO_CHECKS)
    if type(declared) is not str:
        return None, _NO_STEPS
    try:
        return declared, checks_of[declared]  # made when first looked up
    except KeyError:
        return None, _NO_STEPS


def _bad_line(outcome: Outcome, number: int, error: orjson.JSONDecodeError) -> None:
    message = not_json(error, f"line {number} is ").replace(
        f"line {error.lineno}, column", "column"
    )
    _note(outcome, f":{number}", None, [Issue("", "json", message)])


def _note(
    outcome: Outcome, location: str | int, type_name: str | None, issues: list[Issue]
) -> None:
    valid = not any(issue.severity is Severity.ERROR for issue in issues)
    outcome.count += 1
    counts = outcome.tally.setdefault(type_name, [0, 0])
    counts[0 if valid else 1] += 1
    if issues:
        outcome.findings.append((location, type_name, issues))


_worker_standard: Standard | None = None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cycle collector off while a worker judges a part of an input.

    Judging makes and drops many small objects without cycles, which counting references frees;
    the collector, counting allocations, would stop to look through them every few hundred
    (about 2.5% of a worker's time). Whatever cycles are made meanwhile, a part's worth at
    most, it collects when it runs again.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _fork_workers(jobs: int) -> Pool:
    """Worker processes forked from this one (which set `_worker_standard` first)."""
    return multiprocessing.get_context("fork").Pool(jobs, initializer=keep_freed_memory)


def _judge_in_worker(unit: Unit) -> Outcome:
    assert _worker_standard is not None  # set before the workers are forked
    with _collector_paused():
        return judge(_worker_standard, unit)


class _Engine:
    """Runs units in order, in this process or in forked workers, and files what they find."""

    def __init__(self, standard: Standard, report: Report, jobs: int) -> None:
        self.standard = standard
        self.report = report
        self.jobs = jobs if "fork" in multiprocessing.get_all_start_methods() else 1
        self.pool: Pool | None = None
        self.pending: deque[tuple[InputResult, Unit, AsyncResult[Outcome] | Outcome]] = deque()
        self.items_seen = 0
        self.restart: int | None = None
        self.window = _PENDING_PER_WORKER * max(self.jobs, 1)

    def workers(self) -> Pool:
        """The worker processes, forked when a unit first needs them (a CSV file needs none)."""
        if self.pool is None:
            global _worker_standard  # handed to the forked workers
            _worker_standard = self.standard
            self.pool = _fork_workers(self.jobs)
        return self.pool

    def close(self, finished: bool) -> None:
        """Let the workers finish, or (after an error or an interrupt) stop them at once."""
        if self.pool is not None:
            if finished:
                self.pool.close()
            else:
                self.pool.terminate()
            self.pool.join()

    def submit(self, item: InputResult, unit: Unit) -> None:
        if self.jobs <= 1:
            self.pending.append((item, unit, judge(self.standard, unit)))
        else:
            waiting = self.workers().apply_async(_judge_in_worker, (unit,))
            self.pending.append((item, unit, waiting))
        while len(self.pending) > self.window:
            self.settle()

    def drain(self) -> None:
        while self.pending:
            self.settle()

    def discard(self) -> None:
        """Forget the units still out: they belong to an input given up on."""
        self.pending.clear()

    def settle(self) -> None:
        item, unit, waiting = self.pending.popleft()
        outcome = waiting if isinstance(waiting, Outcome) else waiting.get()
        if self.restart is not None:
            return  # a unit after one that must be read again: it will be
        if outcome.failed:
            assert isinstance(unit, Items | FileItems)
            self.restart = unit.offset
            return
        for type_name, (valid, invalid) in outcome.tally.items():
            if valid:
                self.report.count(item, type_name, True, valid)
            if invalid:
                self.report.count(item, type_name, False, invalid)
        for location, type_name, issues in outcome.findings:
            if isinstance(location, int):
                location = f"[{self.items_seen + location + 1}]"
            self.report.add(item, RecordResult(item.name, location, type_name, issues))
        if isinstance(unit, Items | FileItems):
            self.items_seen += outcome.count

    def run_json(
        self, item: InputResult, handle: IO[bytes], kind: Any, path: Path | None = None
    ) -> None:
        """Every unit of a JSON or NDJSON input; workers read a file's units themselves."""
        self.items_seen, self.restart = 0, None
        spans = str(path) if path is not None and self.jobs > 1 else None
        units: Generator[Unit, None, None] = json_units(handle, kind, path=spans)
        try:
            for unit in units:
                self.submit(item, unit)
                if self.restart is not None:
                    break
            self.drain()
        finally:
            units.close()
        if self.restart is not None:
            self._read_exactly(item, handle, self.restart)
        if not item.records:
            raise InputError(NO_ITEMS)

    def _read_exactly(self, item: InputResult, handle: IO[bytes], offset: int) -> None:
        """The rest of an array whose quick cut went wrong, item by item with an exact parser."""
        self.restart = None
        batch: list[tuple[str, Any]] = []
        number = self.items_seen
        try:
            for record in array_items_from(handle, offset):
                number += 1
                batch.append((f"[{number}]", record))
                if len(batch) >= 1000:
                    self.submit(item, Records(batch))
                    batch = []
        except InputError as error:
            self.submit(item, Records(batch))
            self.drain()
            raise InputError(f"after item {number}: {error}") from None
        self.submit(item, Records(batch))
        self.drain()


class _CellProblem(Protocol):
    cell: str
    pointer: str
    message: str


class _TableRow(Protocol):
    """A row as `care_exchange_standard.tables.read_table` yields it (the package's contract)."""

    location: str
    record: dict[str, Any]
    problems: tuple[_CellProblem, ...]

    def cell_for(self, pointer: str) -> str | None: ...


class _RowBatch(Protocol):
    """Records of rows as `care_exchange_standard.tables` batches them (`RowBatch`)."""

    records: list[dict[str, Any] | None]

    def row(self, index: int) -> _TableRow: ...


def _table_issues(
    standard: Standard, row: _TableRow
) -> tuple[str | None, list[Issue], list[str | None]]:
    """A row's issues, its cells' problems first, each with its cell."""
    type_name, issues = standard.validate(row.record)
    found: list[Issue] = []
    cells: list[str | None] = []
    info = standard.types.get(type_name or "")
    for problem in row.problems:
        field = info.fields.get(field_path(pointer_parts(problem.pointer))) if info else None
        found.append(
            Issue(
                pointer=problem.pointer,
                keyword="cell",
                message=problem.message,
                field=field.name if field else None,
                docs=docs_link(type_name, field) if type_name else None,
            )
        )
        cells.append(problem.cell)
    blamed = {problem.pointer for problem in row.problems}
    for issue in issues:
        if issue.keyword == "required" and issue.pointer in blamed:
            continue  # missing because its cell could not be read: said once, above
        found.append(issue)
        cells.append(row.cell_for(issue.pointer))
    return type_name, found, cells


@dataclass
class _TableOutcome:
    """What was found in some rows of a spreadsheet: counts, and the rows with issues."""

    tally: dict[str | None, list[int]] = field(default_factory=dict)
    findings: list[tuple[str, str | None, list[Issue], list[str | None]]] = field(
        default_factory=list
    )
    error: str | None = None  # the reader gave up here (TableError)
    in_order: bool = False  # the part must be read in order from its start (NotPlainError)


def _each_row(
    standard: Standard,
    rows: Iterator[_TableRow],
    clean: Counter[str],
    explain: Callable[[_TableRow], None],
) -> None:
    """Rows judged in order, a batch at a time (see `_unclean`).

    Rows with nothing to report are counted by type in `clean`; the others go to `explain`.

    The rows read before the reader gives up (TableError) are judged before its error goes on.
    """
    checks = standard.clean_checks()
    batch: list[_TableRow] = []

    def judged() -> None:
        rows_now = list(batch)
        batch.clear()
        records = [None if row.problems else row.record for row in rows_now]
        for index in _unclean(checks, records, clean):
            explain(rows_now[index])

    try:
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                judged()
    finally:
        judged()


def _judge_batches(
    standard: Standard, batches: Iterator[_RowBatch], outcome: _TableOutcome
) -> None:
    """As `judge`, the bare verdict first, counted apart; the rest explained."""
    checks = standard.clean_checks()
    clean: Counter[str] = Counter()
    try:
        for batch in batches:
            for index in _unclean(checks, batch.records, clean):
                row = batch.row(index)
                type_name, issues, cells = _table_issues(standard, row)
                valid = not any(issue.severity is Severity.ERROR for issue in issues)
                outcome.tally.setdefault(type_name, [0, 0])[0 if valid else 1] += 1
                if issues:
                    outcome.findings.append((row.location, type_name, issues, cells))
    finally:  # the rows read before the reader gave up count too
        for name, times in clean.items():
            outcome.tally.setdefault(name, [0, 0])[0] += times


def _file_rows(
    standard: Standard, report: Report, item: InputResult, rows: Iterator[_TableRow]
) -> None:
    """Rows judged here, those with issues filed as they come."""

    def explain(row: _TableRow) -> None:
        type_name, issues, cells = _table_issues(standard, row)
        valid = not any(issue.severity is Severity.ERROR for issue in issues)
        report.count(item, type_name, valid)
        if issues:
            report.add(item, RecordResult(item.name, row.location, type_name, issues, cells))

    clean: Counter[str] = Counter()
    try:
        _each_row(standard, rows, clean, explain)
    finally:
        for name, times in clean.items():
            report.count(item, name, True, times)


def _judge_part(part: Any, path: Path) -> _TableOutcome:
    """One part of a large CSV file, read and judged in a worker process."""
    assert _worker_standard is not None  # set before the workers are forked
    tables = importlib.import_module("care_exchange_standard.tables")
    outcome = _TableOutcome()
    try:
        with _collector_paused():
            _judge_batches(_worker_standard, tables.read_part_batches(part, path, BATCH), outcome)
    except tables.TableError as error:
        outcome.error = str(error)
    except tables.NotPlainError:
        outcome.in_order = True
    return outcome


def _file(report: Report, item: InputResult, outcome: _TableOutcome) -> None:
    for type_name, (valid, invalid) in outcome.tally.items():
        if valid:
            report.count(item, type_name, True, valid)
        if invalid:
            report.count(item, type_name, False, invalid)
    for location, type_name, issues, cells in outcome.findings:
        report.add(item, RecordResult(item.name, location, type_name, issues, cells))
    if outcome.error is not None:
        raise InputError(outcome.error)


def _in_parts(source: Path | IO[bytes], name: str, sheet: str | None) -> Path | None:
    """The path of a CSV file large enough to be read in parts by worker processes, else None."""
    if not isinstance(source, Path) or sheet is not None or not name.casefold().endswith(".csv"):
        return None
    if _cpus() < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    try:
        return source if source.stat().st_size >= POOL_THRESHOLD else None
    except OSError:
        return None


def _run_parts(
    standard: Standard, report: Report, item: InputResult, path: Path, parts: Iterator[Any]
) -> None:
    """Parts of a CSV file judged by forked workers, their findings filed in order.

    The first part is judged here before the workers are forked, so they start with the sheet's
    layout, its line builder and the type's checks made (`csv_parts` makes it small). From a
    part that must be read in order, the rest of the file is read here.
    """
    global _worker_standard  # handed to the forked workers
    _worker_standard = standard
    first = next(parts, None)
    if first is None:
        return
    judged = None if first.rest is not None else _judge_part(first, path)
    start_over = _settle(report, item, first, judged)
    if start_over is None:
        start_over = _run_pool(report, item, path, parts)
    if start_over is not None:
        _file_rows(standard, report, item, _part_rows(start_over, path))


def _run_pool(report: Report, item: InputResult, path: Path, parts: Iterator[Any]) -> Any:
    """The parts judged by workers, filed in order up to one that must be read in order."""
    jobs = min(_cpus(), MAX_JOBS)
    pool: Pool | None = None
    pending: deque[tuple[Any, AsyncResult[_TableOutcome] | None]] = deque()
    start_over: Any = None
    try:
        for part in parts:
            judged = None
            if part.rest is None:
                pool = pool or _fork_workers(jobs)
                judged = pool.apply_async(_judge_part, (part, path))
            pending.append((part, judged))
            while len(pending) > _PENDING_PER_WORKER * jobs and start_over is None:
                start_over = _settle(report, item, *pending.popleft())
            if start_over is not None:
                break
        while pending and start_over is None:
            start_over = _settle(report, item, *pending.popleft())
    finally:
        if pool is not None:
            if start_over is None and not pending:
                pool.close()
            else:  # an error, an interrupt, or parts judged in vain before one read in order
                pool.terminate()
            pool.join()
    return start_over


def _settle(
    report: Report,
    item: InputResult,
    part: Any,
    judged: AsyncResult[_TableOutcome] | _TableOutcome | None,
) -> Any:
    """A part's findings filed; or, when it must be read in order, the part that reads so.

    `judged` is its outcome, or a worker's to wait for, or None for a part that reads the rest
    of the file in order.
    """
    if judged is None:
        return part
    outcome = judged.get() if isinstance(judged, AsyncResult) else judged
    if outcome.in_order:
        tables = importlib.import_module("care_exchange_standard.tables")
        return tables.in_order(part)
    _file(report, item, outcome)
    return None


def _part_rows(part: Any, path: Path) -> Iterator[_TableRow]:
    tables = importlib.import_module("care_exchange_standard.tables")
    rows: Iterator[_TableRow] = tables.read_part(part, path)
    return rows


def _run_table(
    standard: Standard,
    report: Report,
    item: InputResult,
    source: Path | IO[bytes],
    name: str,
    record_type: str | None,
    sheet: str | None,
) -> None:
    try:
        # Imported here, so that only a spreadsheet brings in the spreadsheet reader.
        tables = importlib.import_module("care_exchange_standard.tables")
    except ImportError:
        raise InputError("reading spreadsheets is not available in this installation") from None
    table_error: type[Exception] = tables.TableError
    large = _in_parts(source, name, sheet)
    parts_of = getattr(tables, "csv_parts", None)
    try:
        if large is not None and parts_of is not None:
            _run_parts(standard, report, item, large, parts_of(large, record_type))
        else:
            rows: Iterator[_TableRow] = tables.read_table(
                source, name=name, record_type=record_type, sheet=sheet
            )
            _file_rows(standard, report, item, rows)
    except table_error as error:
        raise InputError(str(error)) from None
    if not item.records:
        raise InputError(NO_ROWS)


def internal_error(error: Exception) -> str:
    """The one line an input gets when reading it failed by a fault of this program.

    The rest of the run goes on, and the line says what to report, so a bug costs the user
    one input, not the run and a traceback.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = f" {version('care-exchange-standard')}"
    except PackageNotFoundError:
        release = ""
    return (
        f"an internal error stopped reading it ({type(error).__name__}: {error}); this is a "
        f"bug in care-exchange{release}, not in the file: please report it with this line"
    )


def _cpus() -> int:
    """The CPUs this process may run on (fewer than the machine's in a container)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def _size(inputs: list[Input]) -> int:
    total = 0
    for item in inputs:
        if item.path is not None and item.problem is None and not item.skipped:
            try:
                total += item.path.stat().st_size
            except OSError:
                continue
    return total


def validate_inputs(
    standard: Standard,
    inputs: list[Input],
    *,
    record_type: str | None = None,
    sheet: str | None = None,
    keep: int | None = None,
    listener: Callable[[RecordResult], None] | None = None,
    jobs: int | None = None,
) -> Report:
    """Validate every record of every input; an input that cannot be read is reported, not fatal.

    `jobs` is the number of worker processes (default: the CPUs, when the inputs are large).
    """
    report = Report(keep=keep, listener=listener)
    if jobs is None:
        jobs = min(_cpus(), MAX_JOBS) if _size(inputs) >= POOL_THRESHOLD else 1
    engine = _Engine(standard, report, jobs)
    finished = False
    try:
        for source in inputs:
            item = InputResult(source.name)
            report.inputs.append(item)
            if source.skipped:
                item.status, item.message = "skipped", SKIPPED
                continue
            try:
                if source.problem:
                    raise InputError(source.problem)
                _read(standard, report, engine, source, item, record_type, sheet)
            except InputError as error:
                engine.drain()
                item.status, item.message = "unreadable", str(error)
            except Exception as error:  # a bug of ours: one line for this input, not the end
                engine.discard()
                item.status, item.message = "unreadable", internal_error(error)
        finished = True
    finally:
        engine.close(finished)
    return report


def _read(
    standard: Standard,
    report: Report,
    engine: _Engine,
    source: Input,
    item: InputResult,
    record_type: str | None,
    sheet: str | None,
) -> None:
    kind = source.kind
    if kind == "table" and source.path is not None:
        _run_table(standard, report, item, source.path, source.path.name, record_type, sheet)
        return
    with open_stream(source) as handle:
        if kind == "unknown":
            head = first_bytes(handle)
            if head.startswith(b"PK"):
                _run_table(standard, report, item, handle, "input.xlsx", record_type, sheet)
                return
            if head[:1] not in (b"[", b"{", b"") and source.path is None:
                _run_table(standard, report, item, handle, "input.csv", record_type, sheet)
                return
        engine.run_json(item, handle, kind, source.path)


def validate_paths(
    standard: Standard,
    paths: list[Path],
    *,
    record_type: str | None = None,
    sheet: str | None = None,
    keep: int | None = None,
    listener: Callable[[RecordResult], None] | None = None,
    jobs: int | None = None,
) -> Report:
    """Validate every record in the given files and folders (`-` is standard input).

    A missing path, an unreadable file or a file of another format in a folder is one entry in
    `report.inputs`, and the rest are still validated; `report.valid` is False for any of them
    but a skipped file.
    """
    return validate_inputs(
        standard,
        expand(paths),
        record_type=record_type,
        sheet=sheet,
        keep=keep,
        listener=listener,
        jobs=jobs,
    )
