"""The worker as its own process, killed with SIGKILL mid-batch and started again.

Nothing the dead worker claimed may be lost: once its leases are taken over (at once on
PostgreSQL, where they die with the worker's connection; when they run out on SQLite), the new
worker delivers every event again from the first one not recorded as delivered. Receivers may
see an event twice (the same `webhook-id`); they must see every sequence, first in order.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from care_exchange_server.settings import Settings
from care_exchange_server.storage.migrate import upgrade
from care_exchange_testing.receiver import Answer, Receiver, verify
from tests.api.world import World, published_example

SUBSCRIPTIONS, EVENTS = 3, 20
LEASE_SECONDS = 2.0


@contextmanager
def worker_process(
    settings: Settings, log_level: str = "WARNING", lease_seconds: float = LEASE_SECONDS
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "CARE_EXCHANGE_DATABASE_URL": settings.database_url,
        "CARE_EXCHANGE_ISSUER": settings.issuer,
        "CARE_EXCHANGE_WEBHOOK_ALLOWED_HOSTS": json.dumps(settings.webhook_allowed_hosts),
        "CARE_EXCHANGE_WEBHOOK_TIMEOUT_SECONDS": "1",
        # A POST slower than the timeout on a loaded machine is retried within seconds, not the
        # default schedule's five minutes.
        "CARE_EXCHANGE_WEBHOOK_RETRY_DELAYS_SECONDS": json.dumps([0] + [1] * 20),
        "CARE_EXCHANGE_WORKER_LEASE_SECONDS": str(lease_seconds),
        "CARE_EXCHANGE_WORKER_POLL_SECONDS": "0.05",
        "CARE_EXCHANGE_LOG_LEVEL": log_level,
    }
    command = [sys.executable, "-m", "care_exchange_standard", "worker"]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=10)


def backlog(world: World, subscriptions: list[dict[str, Any]]) -> int:
    return sum(
        world.call("subscriber", "GET", f"/v1/subscriptions/{s['id']}/status").json()["backlog"]
        for s in subscriptions
    )


def webhook_subscription(world: World, url: str) -> dict[str, Any]:
    """The subscriber's subscription to capacity snapshots, POSTed to `url`."""
    made: dict[str, Any] = world.call(
        "subscriber",
        "POST",
        "/v1/subscriptions",
        json={"types": ["capacity-snapshot"], "channel": {"type": "webhook", "url": url}},
    ).json()
    return made


def test_a_worker_killed_mid_batch_loses_nothing_and_leaves_no_gap(
    world: World, settings: Settings
) -> None:
    receiver = Receiver()
    receiver.start()
    receiver.answer(*[Answer(204, delay=0.05)] * (SUBSCRIPTIONS * EVENTS * 2))
    try:
        made = [webhook_subscription(world, receiver.url) for _ in range(SUBSCRIPTIONS)]
        for _ in range(EVENTS):
            published_example(world)
        with worker_process(settings) as first:
            receiver.wait_for(SUBSCRIPTIONS * 2, timeout=120)  # the process starts first
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        killed_at = len(receiver.received)
        assert 0 < killed_at < SUBSCRIPTIONS * EVENTS, "the kill did not land mid-batch"
        with worker_process(settings):
            deadline = time.monotonic() + 60
            while backlog(world, made) and time.monotonic() < deadline:
                time.sleep(0.1)
        assert backlog(world, made) == 0
    finally:
        receiver.stop()
    secrets = {s["id"]: s["secret"] for s in made}
    arrived: dict[str, list[int]] = {s["id"]: [] for s in made}
    for request in receiver.received:
        event = verify(secrets[json.loads(request.body)["subscription"]], request)
        arrived[event["subscription"]].append(int(event["sequence"]))
    for subscription_id, seen in arrived.items():
        first_seen = list(dict.fromkeys(seen))
        assert first_seen == list(range(1, EVENTS + 1)), subscription_id
    assert len(receiver.received) > SUBSCRIPTIONS * EVENTS, "nothing was delivered twice"


# PostgreSQL only: SQLite has no witness of a worker's life, so there its leases run out.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_killed_workers_leases_are_taken_over_at_once_on_postgresql(
    world: World, settings: Settings
) -> None:
    """Its advisory lock died with its connection: no waiting for a ten-minute lease."""
    lease = 600.0
    receiver = Receiver()
    receiver.start()
    receiver.answer(*[Answer(204, delay=0.05)] * (EVENTS * 2))
    try:
        made = webhook_subscription(world, receiver.url)
        for _ in range(EVENTS):
            published_example(world)
        with worker_process(settings, lease_seconds=lease) as first:
            receiver.wait_for(2, timeout=120)  # the process starts first
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        killed_at = time.monotonic()
        assert backlog(world, [made]) > 0, "the kill did not land mid-batch"
        with worker_process(settings, lease_seconds=lease):
            while backlog(world, [made]) and time.monotonic() < killed_at + lease / 5:
                time.sleep(0.1)
        took = time.monotonic() - killed_at
    finally:
        receiver.stop()
    assert backlog(world, [made]) == 0, f"still leased {took:.1f} s after the kill"
    first_seen = list(dict.fromkeys(int(e["sequence"]) for e in receiver.events()))
    assert first_seen == list(range(1, EVENTS + 1))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_stops_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    """How it stops does not depend on the database, so one (SQLite) will do."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'worker.sqlite3'}")
    upgrade(settings.database_url)
    with worker_process(settings, "INFO") as process:
        assert process.stderr is not None
        ready, _, _ = select.select([process.stderr], [], [], 30)
        assert ready, "the worker did not say it had started"
        started = process.stderr.readline()
        assert b"delivery worker started" in started, started
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
