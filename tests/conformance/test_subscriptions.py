"""The subscription checks pass against the reference server and catch webhook mistakes."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Report, Status, run
from care_exchange_server import worker
from care_exchange_server.services import signatures
from care_exchange_server.settings import Settings
from care_exchange_testing import reference
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import rewrite_json

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


def _without_event_2(page: Any) -> None:
    if isinstance(page, dict) and "items" in page:
        page["items"] = [item for item in page["items"] if int(item["sequence"]) != 2]


# The events endpoint loses the event numbered 2: a replay has a gap.
skip_second_event = rewrite_json(EVENTS_PATH.pattern, _without_event_2)


def test_a_gap_in_the_replayed_events_fails_the_replay_check(serve_reference: Serve) -> None:
    assert _failed(_run(serve_reference, skip_second_event)) == ["CX-SUB-004"]
