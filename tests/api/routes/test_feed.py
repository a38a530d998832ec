"""The change feed over HTTP, on both databases: each record once at its latest state, deletions
for retractions and for entitlements that end, and a last page that points at itself."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Agreement
from tests.api.world import World, published_example, walk_feed

TYPE = "capacity-snapshot"
FEED = f"/v1/feed/{TYPE}"


def read_all(world: World, party: str, url: str = FEED) -> tuple[list[dict[str, Any]], str]:
    """Every item from `url` on, following `next` until a page is empty; and that last URL."""
    return walk_feed(world, party, url)


def states(items: list[dict[str, Any]]) -> dict[str, str]:
    """The latest state of each id, as a client applying the feed in order would hold it."""
    held: dict[str, str] = {}
    for item in items:
        held[item["id"]] = item["state"]
    return held


def test_each_record_once_at_its_latest_version_in_change_order(world: World) -> None:
    first, second = published_example(world), published_example(world, "svc-p2")
    replaced = {**first, "registeredPlaces": first["registeredPlaces"] + 1}
    put = world.call(
        "provider",
        "PUT",
        f"/v1/records/{TYPE}/{first['id']}",
        json=replaced,
        headers={"If-Match": '"1"'},
    )
    assert put.status_code == 200, put.text
    items, _ = read_all(world, "provider")
    assert [item["id"] for item in items] == [second["id"], first["id"]]
    latest = items[-1]
    assert (latest["kind"], latest["state"], latest["data"]["version"]) == (TYPE, "updated", 2)
    assert latest["data"]["data"] == replaced


def test_pages_follow_next_with_the_page_size(world: World) -> None:
    published = [published_example(world)["id"] for _ in range(5)]
    response = world.call("provider", "GET", f"{FEED}?page_size=2")
    page = response.json()
    assert len(page["items"]) == 2
    assert "page_size=2" in page["next"] and page["next"].startswith("http")
    items, last = read_all(world, "provider", page["next"])
    assert [item["id"] for item in page["items"] + items] == published
    assert "after=" in last


def test_a_retraction_is_a_deletion_without_data(world: World) -> None:
    record = published_example(world)
    items, last = read_all(world, "subscriber")
    assert states(items) == {record["id"]: "updated"}
    gone = world.call(
        "provider", "DELETE", f"/v1/records/{TYPE}/{record['id']}", headers={"If-Match": '"1"'}
    )
    assert gone.status_code == 204
    later, _ = read_all(world, "subscriber", last)
    assert later == [
        {"id": record["id"], "kind": TYPE, "state": "deleted", "modified": later[0]["modified"]}
    ]


def test_only_entitled_organisations_see_records(world: World) -> None:
    mine, theirs = published_example(world), published_example(world, "svc-q1", "other_provider")
    assert states(read_all(world, "subscriber")[0]) == {mine["id"]: "updated"}
    assert states(read_all(world, "vendor")[0]) == {mine["id"]: "updated"}
    assert states(read_all(world, "other_provider")[0]) == {theirs["id"]: "updated"}
    for outsider in ("other_subscriber", "other_vendor"):
        assert read_all(world, outsider)[0] == []


def test_revoking_the_agreement_deletes_from_the_feed_at_once(world: World) -> None:
    record = published_example(world)
    _, last = read_all(world, "subscriber")
    revoked = world.call("provider", "POST", "/v1/agreements/agr-subscriber/revoke")
    assert revoked.status_code == 200, revoked.text
    later, last = read_all(world, "subscriber", last)
    assert states(later) == {record["id"]: "deleted"}
    published_example(world)
    assert read_all(world, "subscriber", last)[0] == []


def test_a_new_agreement_brings_earlier_records_into_the_feed(world: World) -> None:
    record = published_example(world)
    assert read_all(world, "other_subscriber")[0] == []
    granted = world.call(
        "provider",
        "POST",
        "/v1/agreements",
        json={
            "subscriberId": "org-other_subscriber",
            "recordTypes": [TYPE],
            "serviceIds": None,
            "purpose": "Market oversight.",
            "legalBasis": "Public task.",
        },
    )
    assert granted.status_code == 201, granted.text
    items, _ = read_all(world, "other_subscriber")
    assert states(items) == {record["id"]: "updated"}
    assert items[0]["data"]["data"] == record


def test_an_agreement_past_its_end_date_deletes_and_shows_expired(
    app: FastAPI, world: World
) -> None:
    record = published_example(world)
    _, last = read_all(world, "subscriber")
    with transaction(app.state.sessions) as session:
        session.execute(
            update(Agreement)
            .where(Agreement.id == "agr-subscriber")
            .values(end_date=date.today() - timedelta(days=1))
        )
    later, _ = read_all(world, "subscriber", last)
    assert states(later) == {record["id"]: "deleted"}
    shown = world.call("provider", "GET", "/v1/agreements/agr-subscriber")
    assert shown.json()["status"] == "expired"


def test_revoking_a_delegation_deletes_from_the_vendors_feed(world: World) -> None:
    record = published_example(world)
    _, last = read_all(world, "vendor")
    assert world.call("provider", "DELETE", "/v1/delegations/dlg-vendor").status_code == 204
    later, _ = read_all(world, "vendor", last)
    assert states(later) == {record["id"]: "deleted"}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("after=-1", "after"),
        ("after=abc", "after"),
        ("after=9223372036854775808", "after"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
    ],
)
def test_bad_positions_are_400_naming_the_parameter(
    world: World, query: str, parameter: str
) -> None:
    response = world.call("provider", "GET", f"{FEED}?{query}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_query"
    assert body["errors"][0]["parameter"] == parameter


def test_scope_and_type_are_checked(world: World) -> None:
    assert world.call(None, "GET", FEED).status_code == 401
    refused = world.call("no_scope", "GET", FEED)
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    unknown = world.call("provider", "GET", "/v1/feed/not-a-type")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_record_type")


def test_the_capability_document_offers_the_feed(world: World) -> None:
    features = world.call(None, "GET", "/.well-known/care-exchange").json()["features"]
    assert features == {
        "subscriptions": True,
        "feed": True,
        "feedback": True,
        "returnTemplates": True,
    }


def test_a_bad_token_is_refused_before_the_query_is_judged(world: World) -> None:
    forged = world.client.get(f"{FEED}?page_size=0", headers={"Authorization": "Bearer a.b.c"})
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_token")
