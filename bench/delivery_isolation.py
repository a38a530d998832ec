"""Delivery isolation: how long a fast webhook waits when another subscription's receiver is slow.

Two subscriptions hear the same records: one POSTs to a receiver that answers at once, the other
to one that takes `--slow-seconds` to answer each event (inside the webhook timeout, so nothing
fails). A record is published every `--interval` seconds; the fast subscription's latency is the
time from the publish's commit to the fast receiver getting the event. It is measured twice, on a
fresh database each: with the slow subscription paused (alone), and active (a slow neighbour).
The worker is the production one (`start_in_thread`, default settings: poll, lease, timeout),
and the receivers are real HTTP servers on loopback. A worker that lets each subscription
progress on its own shows about the same latency in both; one that works in rounds makes the
fast subscription wait for the slow one's batch.
Run: `.venv/bin/python -m bench.delivery_isolation [--backend sqlite|postgresql|both]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

from sqlalchemy import update

from bench.api import ISSUER, fresh_database, reachable_backends
from bench.fanout import publish, seed
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import make_engine, session_factory, transaction
from care_exchange_server.storage.enums import SubscriptionStatus
from care_exchange_server.storage.models import Subscription
from care_exchange_server.worker import start_in_thread
from care_exchange_testing.receiver import Answer, Receiver

DRAIN_SECONDS = 120.0


@dataclass(frozen=True)
class Latencies:
    median: float
    maximum: float


def measure(
    backend: str, events: int, interval: float, slow_seconds: float, slow: bool
) -> Latencies:
    """The fast subscription's delivery latencies, with its neighbour slow or paused."""
    fast_receiver, slow_receiver = Receiver(), Receiver()
    slow_receiver.answer(*[Answer(204, delay=slow_seconds)] * (events * 2))
    fast_receiver.start()
    slow_receiver.start()
    halt = None
    try:
        with fresh_database(backend) as database_url:
            settings = Settings(
                database_url=database_url,
                issuer=ISSUER,
                webhook_allowed_hosts=["127.0.0.1/32"],
                webhook_heartbeat_seconds=86_400,
            )
            engine = make_engine(database_url)
            sessions = session_factory(engine)
            try:
                principal = seed(sessions, 2, fast_receiver.url)
                with transaction(sessions) as session:
                    session.execute(
                        update(Subscription)
                        .where(Subscription.id == "sub-fanout-0001")
                        .values(
                            url=slow_receiver.url,
                            status=SubscriptionStatus.ACTIVE if slow else SubscriptionStatus.PAUSED,
                        )
                    )
                halt = start_in_thread(settings)
                published: list[float] = []
                for number in range(events):
                    started = time.monotonic()
                    publish(sessions, principal, f"isolation-{number:04d}")
                    published.append(time.time())
                    time.sleep(max(0.0, interval - (time.monotonic() - started)))
                arrived = fast_receiver.wait_for(events, DRAIN_SECONDS)
            finally:
                slow_receiver.script.clear()
                if halt is not None:
                    halt()
                engine.dispose()
    finally:
        fast_receiver.stop()
        slow_receiver.stop()
    first: dict[int, float] = {}
    for request in arrived:
        first.setdefault(int(request.event["sequence"]), request.at)
    latencies = [first[number + 1] - published[number] for number in range(events)]
    return Latencies(statistics.median(latencies), max(latencies))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=40, help="records published, one by one")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between publishes")
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="the slow receiver's pace")
    args = parser.parse_args(argv)
    backends = reachable_backends(args.backend)
    if backends is None:
        return 1
    for backend in backends:
        alone, beside = (
            measure(backend, args.events, args.interval, args.slow_seconds, slow)
            for slow in (False, True)
        )
        for label, found in (("alone", alone), ("with a slow neighbour", beside)):
            sys.stdout.write(
                f"{backend:<10} fast subscription {label:<22} median {found.median:6.2f} s"
                f"  max {found.maximum:6.2f} s\n"
            )
        sys.stdout.write(
            f"{backend:<10} slow neighbour / alone: median {beside.median / alone.median:.1f}x,"
            f" max {beside.maximum / alone.maximum:.1f}x\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
