"""The change feed and subscription events as iterators, resumed from a saved position."""

from __future__ import annotations

import asyncio
import itertools
from typing import Final

import pytest

from care_exchange_client import (
    AsyncClient,
    Client,
    ClientSecret,
    Conflict,
    EventPosition,
    FeedPosition,
    NotFound,
)
from care_exchange_client.types import SubscriptionRequest
from tests.clients.conftest import Reference, new_record

TYPE: Final = "capacity-snapshot"


def test_the_feed_walks_every_page_and_resumes_from_a_saved_position(
    reference: Reference, publisher: Client, subscriber: Client
) -> None:
    mine = [new_record(reference.service_id) for _ in range(5)]
    for record in mine:
        publisher.publish_record(TYPE, record)
    whole = [(item["id"], item["modified"]) for item in subscriber.feed(TYPE, page_size=2)]
    modified = [m for _, m in whole]
    assert modified == sorted(modified) and len(set(modified)) == len(modified)
    assert {r["id"] for r in mine} <= {i for i, _ in whole}

    cursor = subscriber.feed(TYPE, page_size=2)
    head = [(item["id"], item["modified"]) for item in itertools.islice(cursor, 3)]
    saved = cursor.position.to_json()
    assert cursor.position == FeedPosition(TYPE, after=head[-1][1])

    resumed = subscriber.feed(TYPE, FeedPosition.from_json(saved), page_size=2)
    rest = [(item["id"], item["modified"]) for item in resumed]
    assert head + rest == whole
    assert resumed.position.after == whole[-1][1]

    # A later change appears after the saved end; a retraction as `deleted`, without data.
    envelope = publisher.get_record(TYPE, mine[0]["id"])
    publisher.retract_record(TYPE, mine[0]["id"], if_match=envelope)
    later = list(subscriber.feed(TYPE, resumed.position))
    assert [(i["id"], i["state"], "data" in i) for i in later] == [
        (mine[0]["id"], "deleted", False)
    ]


def test_one_feed_page(reference: Reference, publisher: Client) -> None:
    publisher.publish_record(TYPE, new_record(reference.service_id))
    page = publisher.get_feed(TYPE, page_size=1)
    assert len(page["items"]) == 1 and "after=" in page["next"]


def test_a_position_from_another_feed_is_refused(subscriber: Client) -> None:
    with pytest.raises(ValueError, match="feed"):
        subscriber.feed(TYPE, FeedPosition("achievement"))


def test_pull_subscription_events_resume_from_the_last_sequence(
    reference: Reference, publisher: Client, subscriber: Client
) -> None:
    request: SubscriptionRequest = {"types": [TYPE], "channel": {"type": "pull"}}
    created = subscriber.create_subscription(request)
    assert created["secret"] is None
    subscription = created["id"]
    records = [new_record(reference.service_id) for _ in range(3)]
    for record in records:
        publisher.publish_record(TYPE, record)

    events = subscriber.events(subscription, page_size=2)
    first = next(events)
    assert first["type"] == "org.careexchange.record.updated"
    assert first["subject"] == f"{TYPE}/{records[0]['id']}"
    saved = events.position.to_json()
    assert EventPosition.from_json(saved) == EventPosition(subscription, after=1)

    rest = list(subscriber.events(subscription, EventPosition.from_json(saved), page_size=2))
    assert [int(e["sequence"]) for e in rest] == [2, 3]
    assert [e["data"]["id"] for e in rest] == [r["id"] for r in records[1:]]

    page = subscriber.list_subscription_events(subscription, after=2)
    assert [int(e["sequence"]) for e in page["items"]] == [3]
    assert page["latestSequence"] == 3

    status = subscriber.get_subscription_status(subscription)
    assert status["latestSequence"] == 3
    assert subscriber.get_subscription(subscription)["channel"] == {"type": "pull"}
    assert subscription in [s["id"] for s in subscriber.list_subscriptions.all()]
    paused = subscriber.update_subscription(subscription, {"status": "paused"})
    assert paused["status"] == "paused"
    with pytest.raises(Conflict):  # a pull subscription has no secret to rotate
        subscriber.rotate_subscription_secret(subscription)
    subscriber.delete_subscription(subscription)
    with pytest.raises(NotFound):
        subscriber.get_subscription(subscription)


def test_async_feed_and_events(reference: Reference, publisher: Client) -> None:
    party = reference.party("subscriber")
    record = new_record(reference.service_id)

    async def run() -> tuple[bool, list[str]]:
        credentials = ClientSecret(party.client_id, party.client_secret)
        async with AsyncClient(reference.base_url, credentials) as client:
            created = await client.create_subscription(
                {"types": [TYPE], "channel": {"type": "pull"}, "content": "full"}
            )
            publisher.publish_record(TYPE, record)
            seen = [item["id"] async for item in client.feed(TYPE, page_size=50)]
            events = [e async for e in client.events(created["id"])]
            await client.delete_subscription(created["id"])
            return record["id"] in seen, [e["data"]["record"]["data"]["id"] for e in events]

    in_feed, event_ids = asyncio.run(run())
    assert in_feed and event_ids == [record["id"]]
