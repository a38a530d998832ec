"""The idempotency checks pass against the reference server and catch ignored keys."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from tests.conformance.conftest import Serve

IDEMPOTENCY = select(all_checks(), only=["CX-IDEM-*"])


def test_the_reference_server_passes_every_idempotency_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, IDEMPOTENCY, seed=13)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in IDEMPOTENCY
    ]
    assert len(IDEMPOTENCY) == 3


def ignore_idempotency_keys(app: FastAPI) -> None:
    """A broken variant: the server never sees an `Idempotency-Key`."""

    class Strip:
        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                headers = [(k, v) for k, v in scope["headers"] if k != b"idempotency-key"]
                scope = {**scope, "headers": headers}
            await self.inner(scope, receive, send)

    app.add_middleware(Strip)


def test_ignored_keys_fail_every_idempotency_check(serve_reference: Serve) -> None:
    with serve_reference(ignore_idempotency_keys) as config:
        report = run(config, IDEMPOTENCY, seed=13)
    assert [r.status for r in report.results] == [Status.FAILED] * len(IDEMPOTENCY)
    assert report.results[0].failures[0].exchange is not None
    assert report.results[0].failures[0].exchange.status == 409
