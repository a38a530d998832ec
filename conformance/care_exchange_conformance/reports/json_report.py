"""The JSON report: every result with its evidence, valid against `report.schema.json`."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema

from care_exchange_conformance.registry import Failure
from care_exchange_conformance.runner import Report, Result, Status

FORMAT = "care-exchange-conformance-report/1"


@cache
def _validator() -> jsonschema.Draft202012Validator:
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    return jsonschema.Draft202012Validator(report_schema(), format_checker=checker)


def report_schema() -> dict[str, Any]:
    """The JSON Schema every JSON report is valid against, shipped with the suite."""
    text = files("care_exchange_conformance").joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _failure(failure: Failure) -> dict[str, Any]:
    return {
        "message": failure.message,
        "expected": failure.expected,
        "exchange": failure.exchange.as_dict() if failure.exchange is not None else None,
    }


def _result(result: Result) -> dict[str, Any]:
    return {
        "id": result.check.id,
        "title": result.check.title,
        "area": result.check.area,
        "level": int(result.check.level),
        "clause": result.check.clause,
        "status": str(result.status),
        "seconds": round(result.seconds, 3),
        "note": result.note,
        "failures": [_failure(failure) for failure in result.failures],
    }


def as_dict(report: Report, suite_version: str) -> dict[str, Any]:
    assert report.finished_at is not None
    return {
        "format": FORMAT,
        "suite": {"name": "care-exchange-conformance", "version": suite_version},
        "target": report.base_url,
        "seed": report.seed,
        "startedAt": report.started_at.isoformat().replace("+00:00", "Z"),
        "finishedAt": report.finished_at.isoformat().replace("+00:00", "Z"),
        "conforms": report.conforms,
        "summary": {status.value: report.count(status) for status in Status},
        "results": [_result(result) for result in report.results],
        "notCleanedUp": report.not_cleaned_up,
    }


def schema_errors(data: Any, limit: int = 3) -> list[str]:
    """Where `data` is not valid against the report schema (the first `limit` places)."""
    errors = list(_validator().iter_errors(data))
    return [
        f"at '/{'/'.join(map(str, error.path))}': {error.message[:160]}" for error in errors[:limit]
    ]


def write(data: dict[str, Any], path: Path) -> None:
    """Write the report made by `as_dict`, in the same bytes on every system.

    UTF-8 with LF line ends: a signature covers these exact bytes.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False)
    path.write_bytes((text + "\n").encode("utf-8"))
