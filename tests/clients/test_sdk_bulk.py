"""Bulk publishing: chunks within the server's limits, per-item results in input order, and a
re-run after an interruption that replays instead of publishing again."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, Final

import pytest

from care_exchange_client import AsyncClient, Client, NotFound
from care_exchange_client.bulk import BulkWalker, canonical, chunks
from care_exchange_client.types import Limits
from tests.clients.conftest import Reference, new_record

TYPE: Final = "capacity-snapshot"


def _input(reference: Reference, count: int, bad: int) -> list[dict[str, Any]]:
    records = [new_record(reference.service_id) for _ in range(count)]
    del records[bad]["registeredPlaces"]
    return records


def test_results_come_back_per_item_in_input_order(reference: Reference, publisher: Client) -> None:
    records = _input(reference, 7, bad=4)
    walk = publisher.publish_many(records, chunk_size=3)
    results = list(walk)
    assert [r.index for r in results] == list(range(7))
    assert walk.position == 7
    assert [r.published for r in results] == [True] * 4 + [False] + [True] * 2
    assert [r.id for r in results if r.published] == [
        rec["id"] for i, rec in enumerate(records) if i != 4
    ]
    failed = results[4]
    assert failed.status == 422 and failed.problem is not None
    assert failed.problem["code"] == "validation_failed"
    assert any(e.get("pointer") == "/registeredPlaces" for e in failed.problem["errors"])
    assert not any(r.replayed for r in results)


def test_a_rerun_replays_and_publishes_nothing_twice(
    reference: Reference, publisher: Client
) -> None:
    records = _input(reference, 7, bad=1)
    first = list(itertools.islice(publisher.publish_many(records, chunk_size=2), 3))
    # "Interrupted" after two of the four chunks were answered; the third was sent as the second
    # was answered (the next chunk goes out while the last one's results are handed out).
    assert len(first) == 3

    again = list(publisher.publish_many(records, chunk_size=2))
    assert [r.status for r in again] == [201, 422, 201, 201, 201, 201, 201]
    assert [r.replayed for r in again] == [True] * 6 + [False]
    for record in records[:1] + records[2:]:
        versions = publisher.list_record_versions(TYPE, record["id"])["items"]
        assert [v["version"] for v in versions] == [1]

    # Other chunk boundaries give other keys: already published items are refused, not doubled.
    regrouped = list(publisher.publish_many(records, chunk_size=7))
    assert [r.status for r in regrouped] == [409, 422, 409, 409, 409, 409, 409]


def test_the_namespace_keeps_deliberate_runs_apart(reference: Reference, publisher: Client) -> None:
    records = [new_record(reference.service_id)]
    assert [r.status for r in publisher.publish_many(records)] == [201]
    assert [r.status for r in publisher.publish_many(records, namespace="second")] == [409]


def test_one_raw_bulk_call(reference: Reference, publisher: Client) -> None:
    records = [new_record(reference.service_id), {"recordType": TYPE}]
    answer = publisher.publish_bulk(records)
    assert [item["status"] for item in answer["results"]] == [201, 422]


def test_a_record_too_large_for_any_request_is_reported_in_its_place(
    reference: Reference, publisher: Client
) -> None:
    small = [new_record(reference.service_id) for _ in range(2)]
    huge = new_record(reference.service_id, notes="x" * 4000)
    limits = Limits(maxBodyBytes=3000, pageSizeDefault=50, pageSizeMax=200, bulkMaxItems=500)
    results = list(publisher.publish_many([small[0], huge, small[1]], limits=limits))
    assert [(r.index, r.status) for r in results] == [(0, 201), (1, 413), (2, 201)]
    assert results[1].problem is not None and results[1].problem["code"] == "payload_too_large"


def test_chunks_keep_to_count_and_bytes_and_their_keys_depend_on_content_only() -> None:
    records = [{"id": str(i), "b": "y" * 50, "a": i} for i in range(10)]
    size = len(canonical(records[0]))
    planned = list(chunks(records, max_items=4, max_bytes=3 * size + 20))
    assert [c.offset for c in planned] == [0, 3, 6, 9]
    assert all(len(c.content) <= 3 * size + 20 for c in planned)
    assert json.loads(planned[0].content)["records"] == records[:3]
    reordered_keys = [{"a": r["a"], "b": r["b"], "id": r["id"]} for r in records]
    again = list(chunks(reordered_keys, max_items=4, max_bytes=3 * size + 20))
    assert [c.key for c in again] == [c.key for c in planned]
    assert len({c.key for c in planned}) == 4
    assert planned[0].key.startswith("cx-bulk-")
    assert [c.key for c in chunks(records, 4, 3 * size + 20, "ns")] != [c.key for c in planned]


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        BulkWalker([], chunk_size=0)


def test_async_publish_many(reference: Reference) -> None:
    party = reference.party("publisher")
    records = _input(reference, 3, bad=0)

    async def run() -> list[int]:
        from care_exchange_client import ClientSecret

        credentials = ClientSecret(party.client_id, party.client_secret)
        async with AsyncClient(reference.base_url, credentials) as client:
            return [r.status async for r in client.publish_many(records, chunk_size=2)]

    assert asyncio.run(run()) == [422, 201, 201]


def test_a_dry_run_checks_every_item_and_stores_nothing(
    reference: Reference, publisher: Client
) -> None:
    records = _input(reference, 3, bad=1)
    checked = list(publisher.publish_many(records, dry_run=True))
    assert [(r.status, r.dry_run) for r in checked] == [(201, True), (422, True), (201, True)]
    with pytest.raises(NotFound):
        publisher.get_record(TYPE, records[0]["id"])
    published = list(publisher.publish_many(records))
    assert [(r.status, r.dry_run, r.replayed) for r in published] == [
        (201, False, False),
        (422, False, False),
        (201, False, False),
    ]
    assert publisher.publish_bulk([new_record(reference.service_id)], dry_run=True)["dryRun"]
