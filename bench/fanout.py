"""Webhook fan-out: one publish to 200 subscriptions, delivered, against a plain httpx loop.

Both contenders POST to the same local receiver (a bare ASGI app in its own uvicorn process).
Each round publishes one record, which the publish transaction turns into one event for each of
the 200 subscriptions (one per subscriber organisation, each holding an agreement), then times:

- the worker: `Worker.run_once` rounds until nothing is due, which claims the events with
  leases, renders their CloudEvents bodies, checks each URL against the SSRF rules, signs every
  delivery, POSTs them concurrently and records what was delivered;
- the baseline: an async httpx loop POSTing the same 200 bodies to the same receiver, unsigned,
  with nothing read or written anywhere.

Rounds alternate between the two and each keeps its best, so the noise of a shared machine
hits both alike. The publish itself is not timed. Target: at least 0.5x the baseline's rate.
Run: `.venv/bin/python -m bench.fanout [--backend sqlite|postgresql|both] [--subscriptions N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench.api import (
    ISSUER,
    ORGANISATION,
    RECORD_TYPE,
    Result,
    bench_terms,
    fresh_database,
    payloads,
    reachable_backends,
    report,
    service_of,
)
from care_exchange_server.auth.principal import Principal
from care_exchange_server.services import (
    directory,
    entitlements,
    event_bodies,
    records,
    signatures,
)
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import make_engine, session_factory, transaction
from care_exchange_server.storage.enums import (
    OrganisationKind,
    SubscriptionChannel,
    SubscriptionContent,
    SubscriptionStatus,
)
from care_exchange_server.storage.models import Subscription, SubscriptionEvent
from care_exchange_server.storage.types import utcnow
from care_exchange_server.worker import Worker

STARTUP_SECONDS = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def receiver() -> Iterator[str]:
    """The receiver's URL, served by uvicorn in a child process for as long as it is needed."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.receiver:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with subprocess.Popen(command) as process:
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise SystemExit("the receiver did not start") from None
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/hook"
        finally:
            process.terminate()
            process.wait(timeout=10)


def seed(sessions: sessionmaker[Session], subscriptions: int, url: str) -> Principal:
    """A provider, and `subscriptions` commissioners each with an agreement and a webhook."""
    now = utcnow()
    with transaction(sessions) as session:
        directory.create_organisation(
            session, "Bench provider", OrganisationKind.PROVIDER, ORGANISATION
        )
        session.add(service_of(ORGANISATION))
        for number in range(subscriptions):
            organisation = f"org-fanout-{number:04d}"
            directory.create_organisation(
                session, organisation, OrganisationKind.COMMISSIONER, organisation
            )
            session.flush()
            entitlements.grant(
                session,
                ORGANISATION,
                organisation,
                bench_terms(),
                agreement_id=f"agr-fanout-{number:04d}",
            )
            session.add(
                Subscription(
                    id=f"sub-fanout-{number:04d}",
                    organisation_id=organisation,
                    types=[RECORD_TYPE],
                    channel=SubscriptionChannel.WEBHOOK,
                    url=url,
                    content=SubscriptionContent.ID_ONLY,
                    status=SubscriptionStatus.ACTIVE,
                    secret=signatures.new_secret(),
                    last_sequence=0,
                    delivered_sequence=0,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
            )
    return Principal(
        client_id="bench",
        organisation_id=ORGANISATION,
        organisation_kind=OrganisationKind.PROVIDER,
        scopes=frozenset({f"{RECORD_TYPE}:publish"}),
        jti="bench",
        expires_at=now + timedelta(days=1),
    )


def publish(sessions: sessionmaker[Session], principal: Principal, record_id: str) -> None:
    with transaction(sessions) as session:
        records.publish(session, principal, RECORD_TYPE, payloads(1, record_id)[0])


def latest_bodies(settings: Settings, sessions: sessionmaker[Session]) -> list[bytes]:
    """The bodies of each subscription's latest event, rendered as the worker renders them."""
    with sessions() as session:
        latest = session.execute(
            select(Subscription, SubscriptionEvent)
            .join(SubscriptionEvent, SubscriptionEvent.subscription_pk == Subscription.pk)
            .where(SubscriptionEvent.sequence == Subscription.last_sequence)
        ).all()
        batch = {subscription: [event] for subscription, event in latest}
        rendered = event_bodies.render(session, settings.issuer, batch, utcnow().date())
    return [event.encoded() for events in rendered.values() for event in events]


async def worker_seconds(worker: Worker, client: httpx.AsyncClient) -> float:
    start = time.perf_counter()
    while await worker.run_once(client):
        pass
    return time.perf_counter() - start


async def baseline_seconds(client: httpx.AsyncClient, url: str, bodies: list[bytes]) -> float:
    headers = {"content-type": "application/json"}
    start = time.perf_counter()
    answers = await asyncio.gather(
        *(client.post(url, content=body, headers=headers) for body in bodies)
    )
    elapsed = time.perf_counter() - start
    if any(answer.status_code != 204 for answer in answers):
        raise SystemExit("the receiver refused a baseline POST: the comparison is moot")
    return elapsed


def run_backend(backend: str, subscriptions: int, rounds: int) -> tuple[Result, Result]:
    with fresh_database(backend) as database_url, receiver() as url:
        settings = Settings(
            database_url=database_url,
            issuer=ISSUER,
            webhook_allowed_hosts=["127.0.0.1/32"],
            worker_claim_size=subscriptions,
            webhook_heartbeat_seconds=86_400,
        )
        engine = make_engine(database_url)
        read_engine = make_engine(database_url, reading=True)
        sessions = session_factory(engine)
        read_sessions = session_factory(read_engine)
        try:
            principal = seed(sessions, subscriptions, url)
            worker = Worker(settings, sessions, read_sessions)

            async def race() -> tuple[float, float]:
                limits = httpx.Limits(max_connections=subscriptions)
                best_worker = best_baseline = float("inf")
                async with httpx.AsyncClient(limits=limits) as client:
                    for number in range(rounds + 1):
                        publish(sessions, principal, f"fanout-{number:04d}")
                        bodies = latest_bodies(settings, sessions)
                        if len(bodies) != subscriptions:
                            raise SystemExit("not every subscription got the event")
                        took = await worker_seconds(worker, client)
                        plain = await baseline_seconds(client, url, bodies)
                        if number:  # the first round warms connections and caches
                            best_worker = min(best_worker, took)
                            best_baseline = min(best_baseline, plain)
                return best_worker, best_baseline

            took, plain = asyncio.run(race())
            with sessions() as session:
                behind = session.scalars(
                    select(Subscription.id).where(
                        Subscription.delivered_sequence != Subscription.last_sequence
                    )
                ).all()
            if behind:
                raise SystemExit(f"{len(behind)} subscriptions were not delivered everything")
        finally:
            engine.dispose()
            read_engine.dispose()
    return (
        Result("worker: claim, sign, POST, record", subscriptions / took, "deliveries/s"),
        Result("plain async httpx loop", subscriptions / plain, "deliveries/s"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--subscriptions", type=int, default=200, help="webhooks per publish")
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds; the best counts")
    args = parser.parse_args(argv)
    backends = reachable_backends(args.backend)
    if backends is None:
        return 1
    for backend in backends:
        report(backend, "fan-out", run_backend(backend, args.subscriptions, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
