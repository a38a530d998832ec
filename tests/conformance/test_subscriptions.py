"""The subscription checks pass against the reference server and catch webhook mistakes."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence

import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Report, Status, run
from care_exchange_server import worker
from care_exchange_server.services import signatures
from care_exchange_server.settings import Settings
from care_exchange_testing import reference
from tests.conformance.conftest import Serve, Variant

SUBSCRIPTIONS = select(all_checks(), only=["CX-SUB-*"])
EVENTS_PATH = re.compile(r"/v1/subscriptions/[^/]+/events")
DEADLINE_SECONDS = 6.0


def _run(serve_reference: Serve, variant: Variant | None = None) -> Report:
    with serve_reference(variant) as config:
        return run(
            dataclasses.replace(config, delivery_seconds=DEADLINE_SECONDS), SUBSCRIPTIONS, 17
        )


def _failed(report: Report) -> list[str]:
    failed = [r for r in report.results if r.status is not Status.PASSED]
    assert all(r.status is Status.FAILED for r in failed), [(r.check.id, r.note) for r in failed]
    return [r.check.id for r in failed]


def test_the_reference_server_passes_every_subscription_check(serve_reference: Serve) -> None:
    report = _run(serve_reference)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in SUBSCRIPTIONS
    ]
    assert len(SUBSCRIPTIONS) == 8
    assert report.not_cleaned_up == []


def test_signatures_made_with_another_secret_fail_the_signature_checks(
    serve_reference: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker signs every delivery with a secret of its own instead of the subscription's:
    the deliveries arrive, but no signature verifies with the secret the subscriber was given."""
    wrong, original = signatures.new_secret(), signatures.headers

    def headers(
        used: Sequence[str], message_id: str, timestamp: int, body: bytes
    ) -> dict[str, str]:
        return original([wrong] * len(used), message_id, timestamp, body)

    monkeypatch.setattr(signatures, "headers", headers)
    assert _failed(_run(serve_reference)) == ["CX-SUB-002", "CX-SUB-008"]


def test_a_worker_that_never_retries_fails_the_retry_check(
    serve_reference: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The capability document declares retries, but the worker gives up after one attempt:
    it runs with a one-delay schedule, so a failed event's subscription goes to `error`."""
    start = worker.start_in_thread

    def one_attempt(settings: Settings) -> Callable[[], None]:
        return start(settings.model_copy(update={"webhook_retry_delays_seconds": [0]}))

    monkeypatch.setattr(reference, "start_in_thread", one_attempt)
    assert _failed(_run(serve_reference)) == ["CX-SUB-005"]


def skip_second_event(app: FastAPI) -> None:
    """The events endpoint loses the event numbered 2: a replay has a gap."""

    class Drop:
        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or not EVENTS_PATH.fullmatch(scope["path"]):
                await self.inner(scope, receive, send)
                return
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.inner(scope, receive, hold)
            start, *chunks = held
            page = json.loads(b"".join(chunk.get("body", b"") for chunk in chunks))
            if start["status"] == 200:
                page["items"] = [i for i in page["items"] if int(i["sequence"]) != 2]
            body = json.dumps(page).encode()
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    app.add_middleware(Drop)


def test_a_gap_in_the_replayed_events_fails_the_replay_check(serve_reference: Serve) -> None:
    assert _failed(_run(serve_reference, skip_second_event)) == ["CX-SUB-004"]
