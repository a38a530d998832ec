"""The offline data validator: records from files in, a report of what is valid and why not out."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from care_exchange_standard import Issue, Severity, Standard
from care_exchange_standard.sources import Located, expand, read_records

UNKNOWN_TYPE = "(unknown type)"


@dataclass(frozen=True)
class RecordResult:
    """The verdict on one record."""

    source: Located
    type_name: str | None
    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity is Severity.WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass
class Report:
    """All verdicts of one run, with the tallies a summary needs."""

    files: list[Path] = field(default_factory=list)
    results: list[RecordResult] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return all(result.valid for result in self.results)

    def by_type(self) -> dict[str, Counter[str]]:
        """Valid and invalid counts per type, types in alphabetical order."""
        tally: dict[str, Counter[str]] = defaultdict(Counter)
        for result in self.results:
            tally[result.type_name or UNKNOWN_TYPE]["valid" if result.valid else "invalid"] += 1
        return dict(sorted(tally.items()))

    def grouped(
        self, severity: Severity
    ) -> dict[tuple[str, str], list[tuple[RecordResult, Issue]]]:
        """Issues of one severity grouped by type and field.

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
        invalid = sum(1 for result in self.results if not result.valid)
        return {
            "files": len(self.files),
            "records": len(self.results),
            "valid": len(self.results) - invalid,
            "invalid": invalid,
            "errors": sum(len(result.errors) for result in self.results),
            "warnings": sum(len(result.warnings) for result in self.results),
            "byType": {name: dict(counts) for name, counts in self.by_type().items()},
        }

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable report printed by `--format json`."""
        return {
            "valid": self.valid,
            "summary": self.summary(),
            "records": [
                {
                    "file": str(result.source.file),
                    "location": result.source.location,
                    "recordType": result.type_name,
                    "valid": result.valid,
                    "errors": [issue.as_dict() for issue in result.errors],
                    "warnings": [issue.as_dict() for issue in result.warnings],
                }
                for result in self.results
            ],
        }


def validate_paths(standard: Standard, paths: list[Path]) -> Report:
    """Validate every record in the given files and folders.

    Raises `InputError` before validating anything when a path is missing or not JSON, so a
    typo in a file name is never mistaken for a clean run.
    """
    files = expand(paths)
    sources = [located for path in files for located in read_records(path)]
    report = Report(files=files)
    for source in sources:
        type_name, issues = standard.validate(source.record)
        report.results.append(RecordResult(source, type_name, issues))
    return report
