"""Races over real HTTP: duplicate idempotent POSTs and competing PUTs, on both databases.

A real uvicorn server (several event loops in threads accepting on one socket, so requests really
overlap) serves the test's app; 20 client threads, each with its own keep-alive connection opened
beforehand, are released together by a barrier.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from care_exchange_server.storage.models import Record, RecordVersion
from care_exchange_testing.live_server import live_server
from tests.api.world import World, example_record

TYPE = "capacity-snapshot"
BASE = f"/v1/records/{TYPE}"
CALLERS = 20
SERVER_LOOPS = 4


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    with live_server(app, loops=SERVER_LOOPS) as url:
        yield url


def race(base_url: str, send: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """Run `send` from CALLERS threads at once; every response, or the first exception raised."""
    barrier = threading.Barrier(CALLERS, timeout=30)
    responses: list[httpx.Response | None] = [None] * CALLERS
    errors: list[BaseException] = []

    def caller(index: int) -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=60) as client:
                client.get("/.well-known/care-exchange").raise_for_status()  # connect first
                barrier.wait()
                responses[index] = send(client)
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [response for response in responses if response is not None]


def stored_counts(app: FastAPI, record_id: str) -> tuple[int, int, list[int]]:
    """Rows in `records` and `record_versions` for the id, and the versions stored."""
    with app.state.sessions() as session:
        records = session.scalar(
            select(func.count()).select_from(Record).where(Record.record_id == record_id)
        )
        versions = list(
            session.scalars(
                select(RecordVersion.version)
                .join(Record, Record.pk == RecordVersion.record_pk)
                .where(Record.record_id == record_id)
                .order_by(RecordVersion.version)
            )
        )
    return int(records or 0), len(versions), versions


def describe(responses: list[httpx.Response]) -> str:
    """Statuses counted, and the first body of each status, for a readable failure."""
    counts = Counter(response.status_code for response in responses)
    firsts = {r.status_code: r.text[:160] for r in reversed(responses)}
    return f"statuses {dict(counts)}; first bodies {firsts}"


def test_duplicate_posts_with_one_idempotency_key_store_one_record(
    app: FastAPI, world: World, base_url: str
) -> None:
    record = example_record(TYPE, "svc-p1")
    headers = {**world["provider"].auth, "Idempotency-Key": "race-post-1"}

    responses = race(base_url, lambda client: client.post(BASE, json=record, headers=headers))

    assert len(responses) == CALLERS
    assert all(r.status_code in (201, 409) for r in responses), describe(responses)
    created = [r for r in responses if r.status_code == 201]
    assert created, describe(responses)
    assert len({r.content for r in created}) == 1, "replays must repeat the first response"
    assert sum(1 for r in created if "idempotent-replayed" not in r.headers) == 1
    body: dict[str, Any] = created[0].json()
    assert (body["id"], body["version"], body["data"]) == (record["id"], 1, record)
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["code"] == "idempotency_in_progress", refused.text
    assert stored_counts(app, record["id"]) == (1, 1, [1])


def test_competing_puts_with_one_if_match_make_exactly_one_new_version(
    app: FastAPI, world: World, base_url: str
) -> None:
    record = example_record(TYPE, "svc-p1")
    published = world.call("provider", "POST", BASE, json=record)
    assert published.status_code == 201, published.text
    changed = {**record, "registeredPlaces": record["registeredPlaces"] + 1}
    headers = {**world["provider"].auth, "If-Match": published.headers["etag"]}

    responses = race(
        base_url, lambda client: client.put(f"{BASE}/{record['id']}", json=changed, headers=headers)
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (CALLERS - 1), describe(responses)
    winner = next(r for r in responses if r.status_code == 200)
    assert winner.headers["etag"] == '"2"' and winner.json()["data"] == changed
    for loser in (r for r in responses if r.status_code == 412):
        assert loser.json()["code"] == "precondition_failed", loser.text
    assert stored_counts(app, record["id"]) == (1, 2, [1, 2])
    latest = world.call("provider", "GET", f"{BASE}/{record['id']}")
    assert latest.json()["version"] == 2 and latest.json()["data"] == changed
