"""Webhook delivery over real sockets, on both databases: signatures, order, retries, status.

The worker runs in the test's thread (`Worker.run_once`), the receiver is a real HTTP server on
loopback, and every delivered request is checked with the `standardwebhooks` package, an
implementation of the signature scheme independent of ours. The worker as a separate process,
killed mid-batch, is in test_worker_process.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from fastapi import FastAPI
from sqlalchemy import update
from standardwebhooks.webhooks import WebhookVerificationError

from care_exchange_server.services import signatures
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Agreement, Subscription
from care_exchange_server.worker import Worker, retry_after, start_in_thread
from care_exchange_testing.receiver import Answer, Receiver, verify
from tests.api.world import World, published_example

TYPE = "capacity-snapshot"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.start()
    yield found
    found.stop()


def subscribe(world: World, receiver: Receiver, **body: Any) -> dict[str, Any]:
    channel = {"type": "webhook", "url": receiver.url}
    made = world.call(
        "subscriber",
        "POST",
        "/v1/subscriptions",
        json={"types": [TYPE], "channel": channel, **body},
    )
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def status(world: World, subscription: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = world.call(
        "subscriber", "GET", f"/v1/subscriptions/{subscription['id']}/status"
    ).json()
    return found


def deliver_until(
    app: FastAPI, settings: Settings, done: Callable[[], bool], timeout: float = 15.0
) -> None:
    """Run delivery rounds until `done()`, failing after `timeout` seconds."""

    async def rounds() -> None:
        worker = Worker(settings, app.state.sessions, app.state.read_sessions)
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + timeout
            while not done():
                if time.monotonic() > deadline:
                    raise AssertionError("delivery did not finish in time")
                await worker.run_once(client)
                await asyncio.sleep(0.02)

    asyncio.run(rounds())


def sequences(receiver: Receiver) -> list[int]:
    return [int(event["sequence"]) for event in receiver.events() if "sequence" in event]


def test_the_cloudevents_sdk_reads_a_delivery_as_the_event_it_carries(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    """Structured mode, as the CloudEvents HTTP binding defines it, read by its own SDK."""
    subscribe(world, receiver)
    record = published_example(world)
    deliver_until(app, settings, lambda: len(receiver.received) >= 1)
    (request,) = receiver.received[:1]
    assert request.headers["content-type"] == JSONFormat.CONTENT_TYPE
    parsed = from_http(HTTPMessage(request.headers, request.body), JSONFormat())
    sent = json.loads(request.body)
    assert parsed.get_id() == sent["id"] == request.headers["webhook-id"]
    assert (parsed.get_type(), parsed.get_source()) == (sent["type"], sent["source"])
    assert parsed.get_extension("sequence") == sent["sequence"]
    assert parsed.get_extension("subscription") == sent["subscription"]
    data = parsed.get_data()
    assert data == sent["data"] and isinstance(data, dict) and data["id"] == record["id"]


def test_events_arrive_signed_in_order_and_verify_independently(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    published = [published_example(world)["id"] for _ in range(3)]
    deliver_until(app, settings, lambda: len(receiver.received) >= 3)
    assert sequences(receiver) == [1, 2, 3]
    for request, record_id in zip(receiver.received, published, strict=True):
        event = verify(subscription["secret"], request)
        assert event["data"]["id"] == record_id
        assert request.headers["webhook-id"] == event["id"]
        assert request.headers["content-type"] == "application/cloudevents+json"
    found = status(world, subscription)
    assert (found["deliveredSequence"], found["backlog"], found["lastError"]) == (3, 0, None)


def test_a_tampered_body_or_an_old_timestamp_does_not_verify(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    published_example(world)
    deliver_until(app, settings, lambda: len(receiver.received) >= 1)
    request = receiver.received[0]
    verify(subscription["secret"], request)
    tampered = type(request)(request.headers, request.body.replace(b"updated", b"deleted"), 0)
    with pytest.raises(WebhookVerificationError):
        verify(subscription["secret"], tampered)
    old = int(time.time()) - 3600
    headers = signatures.headers(
        [subscription["secret"]], request.headers["webhook-id"], old, request.body
    )
    with pytest.raises(WebhookVerificationError):
        verify(subscription["secret"], type(request)(headers, request.body, 0))
    with pytest.raises(WebhookVerificationError):
        verify(signatures.new_secret(), request)


def test_a_receiver_down_then_failing_then_slow_recovers_with_nothing_lost(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    receiver.stop()
    published = [published_example(world)["id"] for _ in range(2)]
    deliver_until(app, settings, lambda: status(world, subscription)["attempts"] == 1)
    down = status(world, subscription)
    assert (
        down["lastError"]["statusCode"] is None and "ConnectError" in down["lastError"]["message"]
    )
    receiver.start()
    receiver.answer(Answer(500), Answer(204, delay=settings.webhook_timeout_seconds + 0.5))
    deliver_until(app, settings, lambda: status(world, subscription)["deliveredSequence"] == 2)
    arrived = [item.event for item in receiver.received]
    assert [event["data"]["id"] for event in arrived] == [published[0]] * 3 + published[1:]
    assert len({item.headers["webhook-id"] for item in receiver.received[:3]}) == 1
    final = status(world, subscription)
    assert (final["status"], final["attempts"], final["backlog"]) == ("active", 0, 0)
    assert final["lastError"]["message"].startswith("No answer within")


def test_a_410_disables_the_subscription_and_says_why(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    receiver.answer(Answer(410))
    published_example(world)
    deliver_until(app, settings, lambda: status(world, subscription)["status"] != "active")
    disabled = status(world, subscription)
    assert disabled["status"] == "disabled" and "410" in disabled["statusReason"]
    assert disabled["lastError"]["statusCode"] == 410
    published_example(world)
    assert status(world, subscription)["latestSequence"] == 2
    path = f"/v1/subscriptions/{subscription['id']}"
    assert world.call("subscriber", "PATCH", path, json={"status": "active"}).status_code == 200
    deliver_until(app, settings, lambda: status(world, subscription)["backlog"] == 0)
    assert sequences(receiver) == [1, 1, 2]


def test_after_the_last_retry_the_subscription_is_in_error_with_every_event_kept(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    attempts = len(settings.webhook_retry_delays_seconds)
    subscription = subscribe(world, receiver)
    receiver.answer(*[Answer(503)] * attempts)
    published_example(world)
    deliver_until(app, settings, lambda: status(world, subscription)["status"] == "error")
    failed = status(world, subscription)
    assert len(receiver.received) == attempts
    assert f"failed {attempts} times" in failed["statusReason"]
    assert (failed["backlog"], failed["nextAttemptAt"]) == (1, None)
    replay = world.call("subscriber", "GET", f"/v1/subscriptions/{subscription['id']}/events")
    assert len(replay.json()["items"]) == 1
    path = f"/v1/subscriptions/{subscription['id']}"
    world.call("subscriber", "PATCH", path, json={"status": "active"})
    deliver_until(app, settings, lambda: status(world, subscription)["backlog"] == 0)
    assert status(world, subscription)["status"] == "active"


def test_retry_after_sets_the_next_attempt(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    receiver.answer(Answer(503, headers=(("Retry-After", "30"),)))
    published_example(world)
    deliver_until(app, settings, lambda: status(world, subscription)["attempts"] == 1)
    found = status(world, subscription)
    failed_at = datetime.fromisoformat(found["lastError"]["at"])
    next_at = datetime.fromisoformat(found["nextAttemptAt"])
    assert 29 <= (next_at - failed_at).total_seconds() <= 31


def test_retry_after_takes_seconds_or_a_date() -> None:
    now = datetime.fromisoformat("2026-11-26T12:00:00+00:00")
    assert retry_after("120", now) == 120
    assert retry_after("Thu, 26 Nov 2026 12:01:00 GMT", now) == 60
    assert retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now) == 0
    assert retry_after("soon", now) is None
    assert retry_after("999999999", now) == 86_400
    assert retry_after("\u00b2", now) is None


def test_an_idle_webhook_gets_heartbeats_with_the_latest_sequence(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    published_example(world)
    quick = settings.model_copy(update={"webhook_heartbeat_seconds": 0.3})
    deliver_until(app, quick, lambda: len(receiver.received) >= 2)
    beat = verify(subscription["secret"], receiver.received[1])
    assert beat["type"] == "org.careexchange.heartbeat" and "sequence" not in beat
    assert beat["data"] == {"latestSequence": 1}


def test_after_rotation_both_secrets_verify_until_the_overlap_ends(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    path = f"/v1/subscriptions/{subscription['id']}/rotate-secret"
    new = world.call("subscriber", "POST", path).json()["secret"]
    published_example(world)
    deliver_until(app, settings, lambda: len(receiver.received) >= 1)
    verify(subscription["secret"], receiver.received[0])
    verify(new, receiver.received[0])
    assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2


def test_full_webhooks_carry_the_record_and_leave_receipts(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscribe(world, receiver, content="full")
    record = published_example(world)
    deliver_until(app, settings, lambda: len(receiver.received) >= 1)
    assert receiver.events()[0]["data"]["record"]["data"]["id"] == record["id"]
    receipts = world.call("provider", "GET", "/v1/access-receipts").json()["items"]
    assert [(r["channel"], r["recordId"], r["agreementId"]) for r in receipts] == [
        ("webhook", record["id"], "agr-subscriber")
    ]


def test_revoking_an_agreement_stops_record_data_at_once(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver, content="full")
    path = f"/v1/subscriptions/{subscription['id']}"
    world.call("subscriber", "PATCH", path, json={"status": "paused"})
    record = published_example(world)
    assert world.call("provider", "POST", "/v1/agreements/agr-subscriber/revoke").status_code == 200
    published_example(world)
    world.call("subscriber", "PATCH", path, json={"status": "active"})
    deliver_until(app, settings, lambda: status(world, subscription)["backlog"] == 0)
    arrived = receiver.events()
    assert [(e["type"], e["data"]["id"]) for e in arrived] == [
        ("org.careexchange.record.updated", record["id"]),
        ("org.careexchange.record.deleted", record["id"]),
    ]
    assert all("record" not in event["data"] for event in arrived)
    assert world.call("provider", "GET", "/v1/access-receipts").json()["items"] == []


def test_a_paused_subscription_is_not_delivered(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    other = subscribe(world, receiver)
    path = f"/v1/subscriptions/{subscription['id']}"
    world.call("subscriber", "PATCH", path, json={"status": "paused"})
    published_example(world)
    deliver_until(app, settings, lambda: status(world, other)["backlog"] == 0)
    assert [e["subscription"] for e in receiver.events()] == [other["id"]]
    assert status(world, subscription)["backlog"] == 1


def test_a_url_that_now_resolves_privately_is_not_called(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    published_example(world)
    strict = settings.model_copy(update={"webhook_allowed_hosts": []})
    deliver_until(app, strict, lambda: status(world, subscription)["attempts"] == 1)
    assert receiver.received == []
    assert "refused" in status(world, subscription)["lastError"]["message"]


def test_the_worker_closes_agreements_past_their_end_date(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    record = published_example(world)
    with transaction(app.state.sessions) as session:
        session.execute(
            update(Agreement)
            .where(Agreement.id == "agr-subscriber")
            .values(end_date=date.today() - timedelta(days=1))
        )
    deliver_until(app, settings, lambda: len(receiver.received) >= 2)
    assert [(e["type"], e["data"]["id"]) for e in receiver.events()] == [
        ("org.careexchange.record.updated", record["id"]),
        ("org.careexchange.record.deleted", record["id"]),
    ]
    agreement = world.call("provider", "GET", "/v1/agreements/agr-subscriber").json()
    assert agreement["status"] == "expired"
    assert status(world, subscription)["backlog"] == 0


def set_url(app: FastAPI, subscription: dict[str, Any], url: str) -> None:
    """What a stored URL may become: a name that stops resolving, or one never checked."""
    with transaction(app.state.sessions) as session:
        session.execute(
            update(Subscription).where(Subscription.id == subscription["id"]).values(url=url)
        )


def test_one_broken_subscription_does_not_hold_up_the_others(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    broken = subscribe(world, receiver)
    working = subscribe(world, receiver)
    set_url(app, broken, "http://127.0.0.1:1/ho\tok")
    published_example(world)
    deliver_until(app, settings, lambda: status(world, working)["backlog"] == 0)
    assert [event["subscription"] for event in receiver.events()] == [working["id"]]
    failed = status(world, broken)
    assert failed["attempts"] == 1 and "control characters" in failed["lastError"]["message"]


def test_a_subscription_can_be_paused_when_its_url_no_longer_resolves(
    world: World, app: FastAPI, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    set_url(app, subscription, "https://gone.invalid/hook")
    path = f"/v1/subscriptions/{subscription['id']}"
    paused = world.call("subscriber", "PATCH", path, json={"status": "paused"})
    assert paused.status_code == 200, paused.text
    moved = world.call(
        "subscriber",
        "PATCH",
        path,
        json={"channel": {"type": "webhook", "url": "https://gone.invalid/x"}},
    )
    assert moved.status_code == 422 and moved.json()["errors"][0]["pointer"] == "/channel/url"


def test_a_410_to_a_heartbeat_disables_the_subscription_too(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver)
    receiver.answer(Answer(410))
    quick = settings.model_copy(update={"webhook_heartbeat_seconds": 0.1})
    time.sleep(0.2)
    deliver_until(app, quick, lambda: status(world, subscription)["status"] != "active")
    assert status(world, subscription)["status"] == "disabled"
    assert receiver.events()[0]["type"] == "org.careexchange.heartbeat"


def test_a_record_retracted_before_delivery_goes_out_without_its_data(
    world: World, app: FastAPI, settings: Settings, receiver: Receiver
) -> None:
    subscription = subscribe(world, receiver, content="full")
    path = f"/v1/subscriptions/{subscription['id']}"
    world.call("subscriber", "PATCH", path, json={"status": "paused"})
    record = published_example(world)
    retracted = world.call(
        "provider", "DELETE", f"/v1/records/{TYPE}/{record['id']}", headers={"If-Match": '"1"'}
    )
    assert retracted.status_code == 204
    world.call("subscriber", "PATCH", path, json={"status": "active"})
    deliver_until(app, settings, lambda: status(world, subscription)["backlog"] == 0)
    assert [("record" in e["data"], e["type"]) for e in receiver.events()] == [
        (False, "org.careexchange.record.updated"),
        (False, "org.careexchange.record.deleted"),
    ]


def test_the_embedded_worker_delivers_from_a_thread_and_stops(
    world: World, settings: Settings, receiver: Receiver
) -> None:
    """What `care-exchange run` starts next to the server."""
    subscription = subscribe(world, receiver)
    published_example(world)
    halt = start_in_thread(settings)
    try:
        receiver.wait_for(1)
    finally:
        halt()
    assert verify(subscription["secret"], receiver.received[0])["sequence"].endswith("1")
    assert not any(thread.name == "care-exchange-worker" for thread in threading.enumerate())
