"""The access-receipt checks pass against the reference server and catch lost or shown receipts."""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from care_exchange_server.demo import COMMISSIONER, PROVIDER
from tests.conformance.conftest import Serve, Variant
from tests.conformance.test_isolation import leak_on

RECEIPTS = select(all_checks(), only=["CX-RCPT-*"])


def test_the_reference_server_passes_every_receipt_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, RECEIPTS, seed=11)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in RECEIPTS
    ]
    assert [found.id for found in RECEIPTS] == ["CX-RCPT-001", "CX-RCPT-002", "CX-RCPT-003"]


def rewrite_json(path: str, change: Callable[[Any], None]) -> Variant:
    """A broken variant: the JSON body answered at `path` is changed in place by `change`."""

    def apply(app: FastAPI) -> None:
        class Rewrite:
            def __init__(self, inner: ASGIApp) -> None:
                self.inner = inner

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] != "http" or scope["path"] != path:
                    await self.inner(scope, receive, send)
                    return
                started: list[MutableMapping[str, Any]] = []

                async def changed(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        started.append(dict(message))
                        return
                    body = json.loads(message["body"])
                    change(body)
                    content = json.dumps(body).encode()
                    start = started[0]
                    start["headers"] = [
                        (name, str(len(content)).encode() if name == b"content-length" else value)
                        for name, value in start["headers"]
                    ]
                    await send(start)
                    await send({"type": "http.response.body", "body": content})

                await self.inner(scope, receive, changed)

        app.add_middleware(Rewrite)

    return apply


def hide_items(path: str) -> Variant:
    """A broken variant: the list at `path` has no items, as if nothing had been recorded."""

    def empty(body: Any) -> None:
        if isinstance(body, dict) and "items" in body:
            body["items"] = []

    return rewrite_json(path, empty)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (hide_items("/v1/access-receipts"), ["CX-RCPT-001"]),
        (leak_on(r"/v1/access-receipts(/summary)?", treated_as=PROVIDER), ["CX-RCPT-003"]),
        (
            leak_on(r"/v1/access-receipts(/summary)?", treated_as=PROVIDER, caller=COMMISSIONER),
            ["CX-RCPT-003"],
        ),
    ],
    ids=["receipts-not-recorded", "outsider-sees-receipts", "subscriber-sees-receipts"],
)
def test_a_broken_receipt_path_fails_exactly_its_check(
    serve_reference: Serve, variant: Variant, expected: list[str]
) -> None:
    with serve_reference(variant) as config:
        report = run(config, RECEIPTS, seed=11)
    assert [r.check.id for r in report.results if r.status is not Status.PASSED] == expected
