"""Delivery under faults, on both databases: a retry budget kept in time, one subscription's slow
receiver delaying nobody else, leases renewed while delivering, and settings that cannot work
together refused at start.

The worker runs as in production (`Worker.run`, in a thread of its own) against real HTTP
receivers on loopback; bounds on time are generous, meant to tell "prompt" from "waits for
someone else", not to measure speed. A killed worker taken over at once is in
test_worker_process.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from care_exchange_server.services import delivery
from care_exchange_server.services.delivery import Failure
from care_exchange_server.settings import Settings
from care_exchange_server.storage.models import Subscription
from care_exchange_server.worker import Worker
from care_exchange_testing.receiver import Answer, Receiver
from tests.api.test_worker import sequences, status, subscribe
from tests.api.world import World, published_example


@contextmanager
def running(app: FastAPI, settings: Settings) -> Iterator[Worker]:
    """`Worker.run` in a thread, as `care-exchange worker` runs it, until the block ends."""
    worker = Worker(settings, app.state.sessions, app.state.read_sessions)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(worker.run(stop),))
    thread.start()
    try:
        yield worker
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
        loop.close()
    assert not thread.is_alive(), "the worker did not stop"


@contextmanager
def receiving(*answers: Answer) -> Iterator[Receiver]:
    found = Receiver()
    found.answer(*answers)
    found.start()
    try:
        yield found
    finally:
        found.stop()


def wait_until(done: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.02)


BUSY = (("Retry-After", "0"),)


def test_quick_retry_after_answers_do_not_spend_the_retry_budget(
    world: World, app: FastAPI, settings: Settings
) -> None:
    """Three times as many attempts as the schedule has, all inside its span: still active.

    The span is long (15 s) so that a loaded machine's slow attempts stay inside it; the test
    ends as soon as the event is delivered, so the span costs no time.
    """
    quick = settings.model_copy(update={"webhook_retry_delays_seconds": [0, 5, 5, 5]})
    outage = 3 * len(quick.webhook_retry_delays_seconds)
    with receiving(*[Answer(503, headers=BUSY)] * outage) as receiver, running(app, quick):
        subscription = subscribe(world, receiver)
        published_example(world)
        wait_until(lambda: status(world, subscription)["deliveredSequence"] == 1, 30)
    assert sequences(receiver) == [1] * (outage + 1)
    found = status(world, subscription)
    assert (found["status"], found["attempts"], found["nextAttemptAt"]) == ("active", 0, None)


def test_a_failing_streak_ends_in_error_only_once_it_has_lasted_the_schedule(
    world: World, app: FastAPI, settings: Settings
) -> None:
    """More attempts than the schedule has entries, yet no error until the streak lasts its span.

    An idle machine makes an attempt every 20-40 ms; the 3 s span and a 0.1 s poll leave room
    for attempts ten times slower before four of them could fill it (CI once saw four fill 1.5 s).
    """
    span = 3.0
    budget = settings.model_copy(
        update={"webhook_retry_delays_seconds": [0, 1, 1, 1], "worker_poll_seconds": 0.1}
    )
    with receiving(*[Answer(503, headers=BUSY)] * 10_000) as receiver, running(app, budget):
        subscription = subscribe(world, receiver)
        published_example(world)
        wait_until(lambda: status(world, subscription)["status"] != "active", 15)
        seen_at = time.time()
    failed = status(world, subscription)
    attempts = len(receiver.received)
    assert failed["status"] == "error" and f"failed {attempts} times over" in failed["statusReason"]
    assert attempts > len(budget.webhook_retry_delays_seconds)
    lasted = re.search(r"times over ([0-9.]+) s", failed["statusReason"])
    assert lasted is not None and float(lasted.group(1)) >= span  # as the server timed it
    assert seen_at - receiver.received[0].at >= span  # the error came no sooner, from outside
    assert (failed["backlog"], failed["nextAttemptAt"]) == (1, None)


def failed(subscription: Subscription, now: datetime, wait: float | None) -> None:
    failure = Failure("The receiver answered 503.", 503, wait)
    delivery._failed(subscription, failure, Settings(), now)


def test_the_default_schedule_is_a_timeline_that_retry_after_moves_within() -> None:
    """The issue's case: 503 with `Retry-After: 1` for 20 s, on the default schedule."""
    start = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    subscription = Subscription(status="active", attempts=0, delivered_sequence=0)
    for second in range(20):
        failed(subscription, start + timedelta(seconds=second), 1.0)
        assert subscription.status == "active"
    assert subscription.attempts == 20 and subscription.failing_since == start
    failed(subscription, start + timedelta(seconds=21), None)
    assert subscription.next_attempt_at == start + timedelta(seconds=305)
    day = sum(Settings().webhook_retry_delays_seconds[1:])
    failed(subscription, start + timedelta(seconds=day - 1), None)
    assert subscription.next_attempt_at == start + timedelta(seconds=day)
    failed(subscription, start + timedelta(seconds=day), None)
    assert subscription.status == "error" and subscription.next_attempt_at is None


def test_a_slow_receiver_does_not_hold_up_another_subscription(
    world: World, app: FastAPI, settings: Settings
) -> None:
    """The fast subscription's events go out while the slow one is still on its first.

    The slow receiver's pace leaves room for a loaded machine (3 s, then 5 s, failed under
    load); it costs no time, as the worker cuts the slow request short when it stops.
    """
    pace = 12.0
    patient = settings.model_copy(
        update={"webhook_timeout_seconds": pace + 1, "worker_lease_seconds": 2 * (pace + 1)}
    )
    with (
        receiving(*[Answer(204, delay=pace)] * 10) as slow_receiver,
        receiving() as fast_receiver,
    ):
        fast = subscribe(world, fast_receiver)
        slow = subscribe(world, slow_receiver)
        published_example(world)
        with running(app, patient):
            slow_receiver.wait_for(1)
            fast_receiver.wait_for(1)
            published_example(world)
            published_example(world)
            arrived = fast_receiver.wait_for(3)
            assert arrived[-1].at < slow_receiver.received[0].at + pace, "they waited for it"
            # recorded once the receiver's answer is back, a moment after the request arrived
            wait_until(lambda: status(world, fast)["deliveredSequence"] == 3, pace)
            assert len(slow_receiver.received) == 1, "the slow receiver was not still busy"
    assert sequences(fast_receiver) == [1, 2, 3]
    assert status(world, slow)["status"] == "active"


def test_a_batch_longer_than_the_lease_goes_out_in_order_with_two_workers(
    world: World, app: FastAPI, settings: Settings
) -> None:
    """The lease is renewed while it is delivered, and no request outlives the lease it started
    under, so a second worker never sends alongside the first (on PostgreSQL, each with its own
    advisory lock: a live holder's leases are not taken over). The timeout is well above the
    receiver's pace: on a loaded machine an answer later than the timeout is sent again, which
    at-least-once delivery allows but this test would take for a second sender."""
    events, pace = 7, 0.6
    short = settings.model_copy(update={"webhook_timeout_seconds": 2, "worker_lease_seconds": 4})
    assert events * pace > short.worker_lease_seconds
    with receiving(*[Answer(204, delay=pace)] * events) as receiver:
        subscription = subscribe(world, receiver)
        for _ in range(events):
            published_example(world)
        with running(app, short), running(app, short):
            wait_until(lambda: status(world, subscription)["backlog"] == 0, 60)
    assert sequences(receiver) == list(range(1, events + 1))
    for earlier, later in zip(receiver.received, receiver.received[1:], strict=False):
        assert later.at - earlier.at >= pace - 0.05, "two requests overlapped"


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"worker_lease_seconds": 10}, "CARE_EXCHANGE_WORKER_LEASE_SECONDS (10) must be at"),
        ({"worker_poll_seconds": 0}, "CARE_EXCHANGE_WORKER_POLL_SECONDS must be greater than 0"),
        ({"webhook_retry_delays_seconds": []}, "RETRY_DELAYS_SECONDS must list at least one"),
        ({"webhook_retry_delays_seconds": [0, 5, 1]}, "RETRY_DELAYS_SECONDS must be ascending"),
        ({"webhook_timeout_seconds": 0}, "WEBHOOK_TIMEOUT_SECONDS must be greater than 0"),
    ],
)
def test_settings_that_cannot_work_together_are_refused(
    given: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError, match=named.replace("(", r"\(").replace(")", r"\)")):
        Settings.model_validate(given)


def test_the_worker_refuses_to_start_with_a_lease_not_longer_than_the_timeout() -> None:
    """The issue's case: a 10 s lease with the 15 s default timeout delivered nothing, busily."""
    env = {**os.environ, "CARE_EXCHANGE_WORKER_LEASE_SECONDS": "10"}
    done = subprocess.run(
        [sys.executable, "-m", "care_exchange_standard", "worker"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.decode().startswith(
        "care-exchange: bad settings: CARE_EXCHANGE_WORKER_LEASE_SECONDS (10) must be at least"
    )
    assert b"Traceback" not in done.stderr
