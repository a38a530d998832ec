"""The subscription checks pass against the reference server and catch webhook mistakes."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Report, Status, run
from care_exchange_server import worker
from care_exchange_server.services import signatures
from care_exchange_server.services.delivery import Failure
from care_exchange_server.settings import Settings
from care_exchange_testing import reference
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import rewrite_json

SUBSCRIPTIONS = select(all_checks(), only=["CX-SUB-*"])
EVENTS_PATH = re.compile(r"/v1/subscriptions/[^/]+/events")
DEADLINE_SECONDS = 6.0
Attempt = Callable[[], Awaitable["Failure | None"]]
Post = Callable[[Attempt, bytes], Awaitable["Failure | None"]]


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
    assert len(SUBSCRIPTIONS) == 11
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
    assert _failed(_run(serve_reference)) == ["CX-SUB-002", "CX-SUB-008", "CX-SUB-011"]


def test_events_sent_as_plain_json_fail_the_delivery_check(
    serve_reference: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A structured CloudEvent labelled application/json: a CloudEvents reader takes it for data."""
    monkeypatch.setattr(worker, "CLOUDEVENTS_JSON", "application/json")
    assert _failed(_run(serve_reference)) == ["CX-SUB-002"]


def test_a_worker_that_never_retries_fails_the_retry_check(
    serve_reference: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The capability document declares retries, but the worker gives up after one attempt:
    it runs with a one-delay schedule, so a failed event's subscription goes to `error`."""
    _worker_settings(monkeypatch, webhook_retry_delays_seconds=[0])
    assert _failed(_run(serve_reference)) == ["CX-SUB-005", "CX-SUB-009", "CX-SUB-010"]


def _worker_settings(monkeypatch: pytest.MonkeyPatch, **changed: Any) -> None:
    """The delivery worker runs with `changed` settings; the server declares its own."""
    start = worker.start_in_thread

    def changed_worker(settings: Settings) -> Callable[[], None]:
        return start(settings.model_copy(update=changed))

    monkeypatch.setattr(reference, "start_in_thread", changed_worker)


def _posting(monkeypatch: pytest.MonkeyPatch, post: Post) -> None:
    """The worker's one attempt at a delivery becomes `post(original, ...)`."""
    original = worker.Worker._post

    async def changed(
        self: worker.Worker, client: Any, work: Any, target: Any, message_id: str, body: bytes
    ) -> Failure | None:
        async def attempt() -> Failure | None:
            return await original(self, client, work, target, message_id, body)

        return await post(attempt, body)

    monkeypatch.setattr(worker.Worker, "_post", changed)


def test_a_worker_that_skips_an_event_fails_the_sequence_check(
    serve_reference: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker marks every event numbered 2 delivered without sending it: a gap."""

    async def skip_second(attempt: Attempt, body: bytes) -> Failure | None:
        if json.loads(body).get("sequence") == "2".zfill(19):
            return None
        return await attempt()

    _posting(monkeypatch, skip_second)
    assert _failed(_run(serve_reference)) == ["CX-SUB-003"]


def test_a_worker_that_counts_no_answer_as_delivered_fails_the_fault_checks(
    serve_reference: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timeout or a dropped connection is taken for an acknowledgement, so never retried."""

    async def no_answer_is_fine(attempt: Attempt, body: bytes) -> Failure | None:
        failure = await attempt()
        return failure if failure is None or failure.status is not None else None

    _posting(monkeypatch, no_answer_is_fine)
    assert _failed(_run(serve_reference)) == ["CX-SUB-009", "CX-SUB-010"]


def test_a_worker_that_sends_no_heartbeat_fails_the_heartbeat_check(
    serve_reference: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server declares a heartbeat each second of idleness; its worker sends one an hour."""
    _worker_settings(monkeypatch, webhook_heartbeat_seconds=3600.0)
    assert _failed(_run(serve_reference)) == ["CX-SUB-011"]


def _without_event_2(page: Any) -> None:
    if isinstance(page, dict) and "items" in page:
        page["items"] = [item for item in page["items"] if int(item["sequence"]) != 2]


# The events endpoint loses the event numbered 2: a replay has a gap.
skip_second_event = rewrite_json(EVENTS_PATH.pattern, _without_event_2)


def test_a_gap_in_the_replayed_events_fails_the_replay_check(serve_reference: Serve) -> None:
    assert _failed(_run(serve_reference, skip_second_event)) == ["CX-SUB-004"]
