"""The records checks pass against the reference server and catch what they are for."""

from __future__ import annotations

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Report, Status, run
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import PlainJsonErrors, middleware

RECORDS = select(all_checks(), only=["CX-REC-*"])


def _run(serve_reference: Serve, variant: Variant | None = None) -> Report:
    with serve_reference(variant) as config:
        return run(config, RECORDS, seed=3)


def _failed(report: Report) -> list[str]:
    return [r.check.id for r in report.results if r.status is not Status.PASSED]


def test_the_reference_server_passes_every_records_check_and_cleans_up(
    serve_reference: Serve,
) -> None:
    report = _run(serve_reference)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in RECORDS
    ]
    assert len(RECORDS) == 8 and report.not_cleaned_up == []


class CurrentETag:
    """A broken variant: `If-Match` is ignored, as if every request carried the current ETag."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("PUT", "DELETE"):
            etag = await self._current(scope)
            headers = [(k, v) for k, v in scope["headers"] if k != b"if-match"]
            scope = {**scope, "headers": [*headers, (b"if-match", etag)]}
        await self.app(scope, receive, send)

    async def _current(self, scope: Scope) -> bytes:
        found: list[bytes] = []

        async def nothing() -> dict[str, object]:
            return {"type": "http.request", "body": b""}

        async def keep(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = message["headers"]
                assert isinstance(headers, list)
                found.extend(value for name, value in headers if name == b"etag")

        await self.app({**scope, "method": "GET"}, nothing, keep)  # type: ignore[arg-type]
        return found[0] if found else b'"0"'


class NoDryRun:
    """A broken variant: `dry_run` is dropped from bulk requests, so a dry run publishes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/bulk":
            scope = {**scope, "query_string": b""}
        await self.app(scope, receive, send)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (CurrentETag, ["CX-REC-003", "CX-REC-005"]),
        (PlainJsonErrors, ["CX-REC-003", "CX-REC-005"]),
        (NoDryRun, ["CX-REC-008"]),
    ],
    ids=["if-match-ignored", "errors-as-plain-json", "dry-run-publishes"],
)
def test_a_broken_variant_fails_exactly_its_checks(
    serve_reference: Serve, variant: type, expected: list[str]
) -> None:
    report = _run(serve_reference, middleware(variant))
    assert _failed(report) == expected
    assert all(r.status is Status.FAILED for r in report.results if r.check.id in expected)
