"""Access receipts over HTTP, on both databases: every response carrying a provider's record to
a subscriber leaves one, and only the provider sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.world import World, published_example

TYPE = "capacity-snapshot"


def receipts(world: World, query: str = "") -> list[dict[str, Any]]:
    response = world.call("provider", "GET", f"/v1/access-receipts{query}")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_each_channel_leaves_a_receipt_under_the_agreement(world: World) -> None:
    record = published_example(world)
    assert world.call("subscriber", "GET", f"/v1/records/{TYPE}/{record['id']}").status_code == 200
    assert world.call("subscriber", "GET", f"/v1/records/{TYPE}").status_code == 200
    assert world.call("subscriber", "GET", f"/v1/feed/{TYPE}").status_code == 200
    found = receipts(world)
    assert [r["channel"] for r in found] == ["feed", "list", "read"]
    assert {
        (r["subscriberId"], r["agreementId"], r["recordId"], r["version"], r["serviceId"])
        for r in found
    } == {("org-subscriber", "agr-subscriber", record["id"], 1, "svc-p1")}


def test_the_provider_and_its_vendor_leave_no_receipts(world: World) -> None:
    record = published_example(world)
    for reader in ("provider", "vendor"):
        assert world.call(reader, "GET", f"/v1/records/{TYPE}/{record['id']}").status_code == 200
        assert world.call(reader, "GET", f"/v1/feed/{TYPE}").status_code == 200
    assert receipts(world) == []


def test_refused_reads_leave_no_receipts(world: World) -> None:
    record = published_example(world)
    assert (
        world.call("other_subscriber", "GET", f"/v1/records/{TYPE}/{record['id']}").status_code
        == 404
    )
    assert world.call("subscriber", "GET", f"/v1/records/{TYPE}/no-such-record").status_code == 404
    assert receipts(world) == []


def test_summary_counts_distinct_records_per_subscriber(world: World) -> None:
    first, second = published_example(world), published_example(world, "svc-p2")
    world.call("subscriber", "GET", f"/v1/feed/{TYPE}")
    world.call("subscriber", "GET", f"/v1/feed/{TYPE}")
    world.call("subscriber", "GET", f"/v1/records/{TYPE}/{first['id']}")
    summary = world.call("provider", "GET", "/v1/access-receipts/summary").json()["subscribers"]
    counts = [
        (s["subscriberId"], s["recordsReceived"], s["recordsRead"], s["recordsInReturns"])
        for s in summary
    ]
    assert counts == [("org-subscriber", 2, 1, 0)]
    assert summary[0]["lastReadAt"].endswith("Z")
    only_p2 = world.call("provider", "GET", "/v1/access-receipts/summary?serviceId=svc-p2").json()
    assert only_p2["subscribers"][0]["recordsReceived"] == 1
    assert {r["recordId"] for r in receipts(world, "?serviceId=svc-p2")} == {second["id"]}


def test_filters_by_subscriber_and_period_and_pages(world: World) -> None:
    record = published_example(world)
    for _ in range(3):
        world.call("subscriber", "GET", f"/v1/records/{TYPE}/{record['id']}")
    assert receipts(world, "?subscriberId=org-other_subscriber") == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert receipts(world, f"?since={future}") == []
    first = world.call("provider", "GET", "/v1/access-receipts?page_size=2").json()
    assert len(first["items"]) == 2 and first["nextPageToken"]
    rest = world.call(
        "provider", "GET", f"/v1/access-receipts?page_size=2&page_token={first['nextPageToken']}"
    ).json()
    assert len(rest["items"]) == 1 and rest["nextPageToken"] is None


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("since=2026-11-01T00:00:00", "since"),
        ("since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "until"),
        ("since=yesterday", "since"),
    ],
)
def test_bad_periods_are_400(world: World, query: str, parameter: str) -> None:
    response = world.call("provider", "GET", f"/v1/access-receipts?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["parameter"] == parameter


def test_only_providers_see_receipts_and_only_their_own(world: World) -> None:
    record = published_example(world)
    world.call("subscriber", "GET", f"/v1/records/{TYPE}/{record['id']}")
    assert world.call("other_provider", "GET", "/v1/access-receipts").json()["items"] == []
    refused = world.call("subscriber", "GET", "/v1/access-receipts")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
