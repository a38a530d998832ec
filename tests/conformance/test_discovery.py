"""The discovery checks pass against the reference server and catch what they are for."""

from __future__ import annotations

import json

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from tests.conformance.conftest import Serve

DISCOVERY = select(all_checks(), only=["CX-DISC-*"])


def test_the_reference_server_passes_every_discovery_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, DISCOVERY, seed=1)
    assert [(r.check.id, r.status, r.failures) for r in report.results] == [
        (found.id, Status.PASSED, ()) for found in DISCOVERY
    ]
    assert report.conforms and len(DISCOVERY) == 5


class LeakPrivateKey:
    """A broken variant: the JWKS carries each key's private exponent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/jwks.json":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start, *chunks = held
        document = json.loads(b"".join(chunk.get("body", b"") for chunk in chunks))
        for key in document["keys"]:
            key["d"] = "c2VjcmV0"
        body = json.dumps(document).encode()
        headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def leak_private_key(app: FastAPI) -> None:
    app.add_middleware(LeakPrivateKey)


def test_a_jwks_leaking_private_keys_fails_cx_disc_004(serve_reference: Serve) -> None:
    with serve_reference(leak_private_key) as config:
        report = run(config, DISCOVERY, seed=1)
    failed = {r.check.id: r for r in report.results if r.status is not Status.PASSED}
    assert list(failed) == ["CX-DISC-004"]
    (failure,) = failed["CX-DISC-004"].failures
    assert "private key members ['d']" in failure.message
    assert failure.exchange is not None and failure.exchange.status == 200
    assert not report.conforms
