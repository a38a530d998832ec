"""Subscriptions over HTTP, on both databases: their rules, their numbered events, replay.

Delivery to webhooks is tested in tests/api/test_worker.py; here events are read back through
`GET /v1/subscriptions/{id}/events`, which is the pull channel and the replay of both.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from care_exchange_server.app import create_app, dispose
from care_exchange_server.services import events as events_service
from care_exchange_server.services import paging
from care_exchange_server.services.receipt_book import ReceiptBook
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.migrate import upgrade
from care_exchange_server.storage.models import SubscriptionEvent
from care_exchange_server.storage.types import utcnow
from tests.api.world import World, example_record, published_example

TYPE = "capacity-snapshot"
PULL = {"type": "pull"}


def subscribe(world: World, party: str = "subscriber", **body: Any) -> dict[str, Any]:
    made = world.call(
        party, "POST", "/v1/subscriptions", json={"types": [TYPE], "channel": PULL, **body}
    )
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def events(world: World, subscription: dict[str, Any], party: str = "subscriber") -> Any:
    page = world.call(party, "GET", f"/v1/subscriptions/{subscription['id']}/events")
    assert page.status_code == 200, page.text
    return page.json()


def events_path(subscription: dict[str, Any]) -> str:
    return f"/v1/subscriptions/{subscription['id']}/events"


def pages(world: World, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a list from `params` on, passing each `nextPageToken` back until null."""
    found: list[dict[str, Any]] = []
    while True:
        answer = world.call("subscriber", "GET", path, params=params)
        assert answer.status_code == 200, answer.text
        found.append(answer.json())
        if found[-1]["nextPageToken"] is None:
            return found
        assert len(found) < 100, f"{path} did not end"
        params = {**params, "page_token": found[-1]["nextPageToken"]}


def sequences(items: list[dict[str, Any]]) -> list[int]:
    return [int(item["sequence"]) for item in items]


def refused_query(answer: Any, parameter: str) -> None:
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_query"), answer.text
    assert [error["parameter"] for error in answer.json()["errors"]] == [parameter]


def record_ids(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["type"].rsplit(".", 1)[1], item["data"]["id"]) for item in page["items"]]


def test_a_webhook_subscription_shows_its_secret_once(world: World) -> None:
    channel = {"type": "webhook", "url": "http://127.0.0.1:9/hook"}
    made = subscribe(world, channel=channel)
    assert made["secret"].startswith("whsec_")
    assert (made["status"], made["content"], made["latestSequence"]) == ("active", "id-only", 0)
    shown = world.call("subscriber", "GET", f"/v1/subscriptions/{made['id']}").json()
    assert "secret" not in shown
    assert shown == {key: value for key, value in made.items() if key != "secret"}
    listed = world.call("subscriber", "GET", "/v1/subscriptions").json()
    assert [item["id"] for item in listed["items"]] == [made["id"]]


def test_an_idempotent_replay_does_not_show_the_secret_again(world: World) -> None:
    body = {"types": [TYPE], "channel": {"type": "webhook", "url": "http://127.0.0.1:9/h"}}
    headers = {"Idempotency-Key": "sub-once"}
    first = world.call("subscriber", "POST", "/v1/subscriptions", json=body, headers=headers)
    again = world.call("subscriber", "POST", "/v1/subscriptions", json=body, headers=headers)
    assert first.json()["secret"].startswith("whsec_")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["secret"] is None


def test_every_change_the_feed_takes_is_an_event_numbered_from_one(world: World) -> None:
    subscription = subscribe(world)
    first = published_example(world)
    second = published_example(world, "svc-p2")
    retract = world.call(
        "provider", "DELETE", f"/v1/records/{TYPE}/{first['id']}", headers={"If-Match": '"1"'}
    )
    assert retract.status_code == 204, retract.text
    page = events(world, subscription)
    assert [item["sequence"] for item in page["items"]] == [
        "0000000000000000001",
        "0000000000000000002",
        "0000000000000000003",
    ]
    assert record_ids(page) == [
        ("updated", first["id"]),
        ("updated", second["id"]),
        ("deleted", first["id"]),
    ]
    event = page["items"][0]
    assert event["specversion"] == "1.0" and event["source"] == "https://care-exchange.test/v1"
    assert (
        event["subject"] == f"{TYPE}/{first['id']}" and event["subscription"] == subscription["id"]
    )
    assert event["data"]["href"] == f"https://care-exchange.test/v1/records/{TYPE}/{first['id']}"
    assert "record" not in event["data"]
    assert (page["latestSequence"], page["nextPageToken"]) == (3, None)
    polled = pages(world, events_path(subscription), after=3)
    assert [(p["items"], p["latestSequence"]) for p in polled] == [([], 3)]


def test_every_event_is_read_once_through_page_tokens(world: World) -> None:
    subscription = subscribe(world)
    for _ in range(7):
        published_example(world)
    walked = pages(world, events_path(subscription), page_size=3)
    assert [len(page["items"]) for page in walked] == [3, 3, 1]
    assert sequences([item for page in walked for item in page["items"]]) == list(range(1, 8))


def test_after_is_where_a_replay_starts(world: World) -> None:
    subscription = subscribe(world)
    published = [published_example(world)["id"] for _ in range(5)]
    walked = pages(world, events_path(subscription), after=2, page_size=2)
    assert [[item["data"]["id"] for item in page["items"]] for page in walked] == [
        published[2:4],
        published[4:],
    ]


def test_a_page_token_continues_only_the_replay_it_came_from(world: World) -> None:
    ours, another = subscribe(world), subscribe(world)
    for _ in range(3):
        published_example(world)
    first = world.call("subscriber", "GET", events_path(ours), params={"page_size": 1}).json()
    token = first["nextPageToken"]
    assert sequences(first["items"]) == [1] and token is not None
    for path, params in (
        (events_path(another), {"page_token": token}),
        (events_path(ours), {"page_token": token, "after": 1}),
        ("/v1/subscriptions", {"page_token": token}),
    ):
        refused_query(world.call("subscriber", "GET", path, params=params), "page_token")
    listing = world.call("subscriber", "GET", "/v1/subscriptions", params={"page_size": 1})
    foreign = listing.json()["nextPageToken"]
    assert foreign is not None
    refused = world.call("subscriber", "GET", events_path(ours), params={"page_token": foreign})
    refused_query(refused, "page_token")
    same = world.call("subscriber", "GET", events_path(ours), params={"page_token": token})
    assert sequences(same.json()["items"]) == [2, 3]


def test_an_events_page_size_outside_the_bounds_is_a_bad_query(
    world: World, settings: Settings
) -> None:
    subscription = subscribe(world)
    published_example(world)
    path = events_path(subscription)
    for size in (0, settings.page_size_max + 1):
        refused_query(
            world.call("subscriber", "GET", path, params={"page_size": size}), "page_size"
        )
    for size in (1, settings.page_size_max):
        page = world.call("subscriber", "GET", path, params={"page_size": size}).json()
        assert (sequences(page["items"]), page["nextPageToken"]) == ([1], None)


def test_filters_narrow_what_a_subscription_hears(world: World) -> None:
    by_service = subscribe(world, filter={"services": ["svc-p2"]})
    by_area = subscribe(world, filter={"areas": ["S12000036"]})
    elsewhere = subscribe(world, filter={"areas": ["S12000049"]})
    other_type = subscribe(world, types=["workforce-snapshot"])
    in_p1 = published_example(world, "svc-p1")
    in_p2 = published_example(world, "svc-p2")
    assert [i["data"]["id"] for i in events(world, by_service)["items"]] == [in_p2["id"]]
    assert [i["data"]["id"] for i in events(world, by_area)["items"]] == [in_p1["id"], in_p2["id"]]
    assert events(world, elsewhere)["items"] == []
    assert events(world, other_type)["items"] == []


def test_a_subscription_hears_only_what_the_feed_shows(world: World) -> None:
    theirs = subscribe(world, "other_subscriber")
    ours = subscribe(world)
    published_example(world, "svc-q1", party="other_provider")
    mine = published_example(world)
    assert events(world, theirs, "other_subscriber")["items"] == []
    assert [i["data"]["id"] for i in events(world, ours)["items"]] == [mine["id"]]


def test_revoking_an_agreement_sends_deleted_events_and_stops_record_data(
    world: World,
) -> None:
    subscription = subscribe(world, content="full")
    record = published_example(world)
    revoked = world.call("provider", "POST", "/v1/agreements/agr-subscriber/revoke")
    assert revoked.status_code == 200, revoked.text
    published_example(world)
    page = events(world, subscription)
    assert record_ids(page) == [("updated", record["id"]), ("deleted", record["id"])]
    assert "record" not in page["items"][0]["data"], "data went out after the revocation"


def test_full_content_carries_the_version_and_leaves_a_receipt(world: World, app: FastAPI) -> None:
    subscription = subscribe(world, content="full")
    record = published_example(world)
    changed = {**record, "registeredPlaces": record["registeredPlaces"]}
    replaced = world.call(
        "provider",
        "PUT",
        f"/v1/records/{TYPE}/{record['id']}",
        json=changed,
        headers={"If-Match": '"1"'},
    )
    assert replaced.status_code == 200, replaced.text
    page = events(world, subscription)
    versions = [item["data"]["record"]["version"] for item in page["items"]]
    assert versions == [1, 2]
    assert page["items"][0]["data"]["record"]["data"]["id"] == record["id"]
    book: ReceiptBook = app.state.receipt_book
    book.flush()
    receipts = world.call("provider", "GET", "/v1/access-receipts").json()["items"]
    assert sorted((r["channel"], r["version"]) for r in receipts) == [("events", 1), ("events", 2)]


def test_a_pull_subscription_counts_what_it_has_read(world: World) -> None:
    subscription = subscribe(world)
    for _ in range(3):
        published_example(world)
    path = f"/v1/subscriptions/{subscription['id']}"
    before = world.call("subscriber", "GET", f"{path}/status").json()
    assert (before["latestSequence"], before["deliveredSequence"], before["backlog"]) == (3, 0, 3)
    world.call("subscriber", "GET", f"{path}/events", params={"page_size": 2})
    after = world.call("subscriber", "GET", f"{path}/status").json()
    assert (after["deliveredSequence"], after["backlog"]) == (2, 1)


def test_providers_subscribe_to_the_feedback_they_receive(world: World) -> None:
    subscription = subscribe(world, "provider", types=["feedback"], content="full")
    record = published_example(world)
    sent = world.call(
        "subscriber",
        "POST",
        "/v1/feedback",
        json={
            "kind": "impact",
            "text": "Two discharges.",
            "recordType": TYPE,
            "recordId": record["id"],
        },
    )
    assert sent.status_code == 201, sent.text
    page = events(world, subscription, "provider")
    assert [item["type"] for item in page["items"]] == ["org.careexchange.feedback.created"]
    data = page["items"][0]["data"]
    assert data["feedbackId"] == sent.json()["id"] and data["feedback"]["text"] == "Two discharges."


def test_pausing_keeps_numbering_and_resuming_clears_the_error(world: World) -> None:
    subscription = subscribe(world)
    path = f"/v1/subscriptions/{subscription['id']}"
    paused = world.call("subscriber", "PATCH", path, json={"status": "paused"})
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    published_example(world)
    assert events(world, subscription)["latestSequence"] == 1
    resumed = world.call("subscriber", "PATCH", path, json={"status": "active"})
    assert resumed.json()["status"] == "active"


def test_an_update_keeps_what_it_does_not_name(world: World) -> None:
    subscription = subscribe(world, filter={"services": ["svc-p1"]}, content="full")
    path = f"/v1/subscriptions/{subscription['id']}"
    changed = world.call("subscriber", "PATCH", path, json={"types": [TYPE, "achievement"]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["types"] == [TYPE, "achievement"] and body["content"] == "full"
    assert body["filter"] == {"services": ["svc-p1"]}
    cleared = world.call("subscriber", "PATCH", path, json={"filter": None}).json()
    assert cleared["filter"] is None


BAD_UPDATES = [
    ({}, ""),
    ({"channel": None}, "/channel"),
    ({"status": "disabled"}, "/status"),
    ({"channel": {"type": "webhook", "url": "https://93.184.216.34/h"}}, "/channel"),
    ({"filter": {"areas": []}}, "/filter/areas"),
    ({"secret": "whsec_x"}, "/secret"),
]


def test_bad_updates_are_refused_and_change_nothing(world: World) -> None:
    """Each case against one subscription: none may change it."""
    subscription = subscribe(world)
    path = f"/v1/subscriptions/{subscription['id']}"
    for body, pointer in BAD_UPDATES:
        answer = world.call("subscriber", "PATCH", path, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert pointer in [error["pointer"] for error in answer.json()["errors"]], body
    assert world.call("subscriber", "GET", path).json() == {
        key: value for key, value in subscription.items() if key != "secret"
    }


def test_deleting_a_subscription_stops_its_events(world: World) -> None:
    subscription = subscribe(world)
    published_example(world)
    path = f"/v1/subscriptions/{subscription['id']}"
    assert world.call("subscriber", "DELETE", path).status_code == 204
    published_example(world)
    assert world.call("subscriber", "GET", path).status_code == 404
    assert world.call("subscriber", "GET", f"{path}/events").status_code == 404


def test_rotation_returns_a_new_secret_with_an_overlap(world: World) -> None:
    made = subscribe(world, channel={"type": "webhook", "url": "http://127.0.0.1:9/h"})
    path = f"/v1/subscriptions/{made['id']}/rotate-secret"
    rotated = world.call("subscriber", "POST", path)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != made["secret"]
    assert rotated.json()["previousSecretExpiresAt"].endswith("Z")
    pull = subscribe(world)
    refused = world.call("subscriber", "POST", f"/v1/subscriptions/{pull['id']}/rotate-secret")
    assert refused.status_code == 409


def test_another_organisation_cannot_see_or_touch_a_subscription(world: World) -> None:
    subscription = subscribe(world)
    path = f"/v1/subscriptions/{subscription['id']}"
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"status": "paused"}),
        ("DELETE", "", None),
        ("GET", "/status", None),
        ("GET", "/events", None),
        ("POST", "/rotate-secret", None),
    ):
        answer = world.call("other_subscriber", method, path + suffix, json=body)
        assert answer.status_code == 404, (method, suffix, answer.text)
    assert world.call("subscriber", "GET", path).json()["status"] == "active"


BAD_SUBSCRIPTIONS = [
    ({"types": ["not-a-type"], "channel": PULL}, "/types/0"),
    ({"types": [TYPE, TYPE], "channel": PULL}, "/types"),
    ({"types": [TYPE], "channel": {"type": "webhook"}}, "/channel/url"),
    (
        {"types": [TYPE], "channel": {"type": "pull", "url": "https://a.example/"}},
        "/channel/url",
    ),
    ({"types": [TYPE], "channel": {"type": "email"}}, "/channel/type"),
    ({"types": [TYPE], "channel": PULL, "filter": {}}, "/filter"),
    ({"types": [TYPE], "channel": PULL, "filter": {"areas": ["X1"]}}, "/filter/areas/0"),
    (
        {"types": [TYPE], "channel": PULL, "filter": {"services": ["svc-nope"]}},
        "/filter/services/0",
    ),
    ({"types": [TYPE], "channel": PULL, "content": "some"}, "/content"),
    ({"types": ["feedback"], "channel": PULL}, "/types/0"),
    ({"types": [], "channel": PULL}, "/types"),
]


def test_bad_subscriptions_are_refused_with_a_pointer(world: World) -> None:
    for body, pointer in BAD_SUBSCRIPTIONS:
        answer = world.call("subscriber", "POST", "/v1/subscriptions", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert pointer in [error["pointer"] for error in answer.json()["errors"]], body
    assert world.call("subscriber", "GET", "/v1/subscriptions").json()["items"] == []


def test_webhook_urls_to_private_addresses_are_refused(world: World) -> None:
    """Over HTTP for two cases; every rule is in tests/api/services/test_webhook_urls.py."""
    for url in ("https://169.254.169.254/latest/meta-data", "http://93.184.216.34/hook"):
        body = {"types": [TYPE], "channel": {"type": "webhook", "url": url}}
        answer = world.call("subscriber", "POST", "/v1/subscriptions", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["pointer"] == "/channel/url"


def test_a_type_without_its_scope_is_forbidden(world: World) -> None:
    body = {"types": [TYPE], "channel": PULL}
    assert world.call("no_scope", "POST", "/v1/subscriptions", json=body).status_code == 403
    vendor = world.call("vendor", "POST", "/v1/subscriptions", json=body)
    assert vendor.status_code == 403 and vendor.json()["code"] == "insufficient_scope"


def test_a_failed_publish_leaves_no_event_and_no_gap(world: World) -> None:
    subscription = subscribe(world)
    bad = example_record(TYPE, "svc-p1")
    bad["registeredPlaces"] = "many"
    assert world.call("provider", "POST", f"/v1/records/{TYPE}", json=bad).status_code == 422
    good = published_example(world)
    page = events(world, subscription)
    assert [(i["sequence"], i["data"]["id"]) for i in page["items"]] == [
        ("0000000000000000001", good["id"])
    ]


def test_the_capability_document_states_how_events_are_delivered(
    world: World, settings: Settings
) -> None:
    found = world.call(None, "GET", "/.well-known/care-exchange").json()["subscriptions"]
    assert found["retryDelaysSeconds"] == settings.webhook_retry_delays_seconds
    assert found["channels"] == ["webhook", "pull"] and found["signatureSchemes"] == ["v1"]
    # The tests allow a loopback receiver, so plain http is offered for it.
    assert settings.webhook_allowed_hosts and found["webhookUrlSchemes"] == ["https", "http"]


def test_without_allowed_hosts_webhooks_are_https_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    upgrade(url)
    app = create_app(Settings(database_url=url))
    try:
        with TestClient(app) as client:
            found = client.get("/.well-known/care-exchange").json()["subscriptions"]
    finally:
        dispose(app)
    assert found["webhookUrlSchemes"] == ["https"]


@pytest.mark.parametrize("position", [2**64, -1])
def test_a_page_token_out_of_range_is_a_bad_query(world: World, position: int) -> None:
    forged = paging.encode_token({"after": position, "of": "subscriptions"})
    answer = world.call("subscriber", "GET", "/v1/subscriptions", params={"page_token": forged})
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["parameter"] == "page_token"


def test_subscriptions_are_listed_page_by_page(world: World) -> None:
    made = [subscribe(world)["id"] for _ in range(3)]
    walked = pages(world, "/v1/subscriptions", page_size=2)
    assert [item["id"] for page in walked for item in page["items"]] == made


def test_delivered_events_past_retention_are_pruned_and_replay_says_so(
    world: World, app: FastAPI
) -> None:
    subscription = subscribe(world)
    for _ in range(3):
        published_example(world)
    path = events_path(subscription)
    paused = world.call("subscriber", "GET", path, params={"page_size": 1}).json()["nextPageToken"]
    read = world.call("subscriber", "GET", path, params={"page_size": 2}).json()
    assert sequences(read["items"]) == [1, 2]
    with transaction(app.state.sessions) as session:
        session.execute(update(SubscriptionEvent).values(created_at=utcnow() - timedelta(days=31)))
        assert events_service.prune(session, timedelta(days=30)) == 2
    pruned = world.call("subscriber", "GET", path)
    assert (pruned.status_code, pruned.json()["code"]) == (410, "events_pruned")
    assert pruned.json()["errors"][0] == {
        "parameter": "after",
        "keyword": "minimum",
        "message": "must be at least 2.",
    }
    continued = world.call("subscriber", "GET", path, params={"page_token": paused})
    assert (continued.status_code, continued.json()["code"]) == (410, "events_pruned")
    assert continued.json()["errors"][0] == {
        "parameter": "page_token",
        "keyword": "invalid",
        "message": "continues from before event 3, the oldest kept; start again with after=2.",
    }
    kept = world.call("subscriber", "GET", path, params={"after": 2}).json()
    assert (sequences(kept["items"]), kept["nextPageToken"]) == ([3], None)
    rest = world.call("subscriber", "GET", path, params={"page_token": read["nextPageToken"]})
    assert sequences(rest.json()["items"]) == [3], "a token past the pruned events goes on"


def test_reading_events_needs_the_scopes_of_what_they_carry(world: World) -> None:
    """A client of the same organisation without a type's read scope reads none of its events,
    though another client with the scope made the subscription."""
    made = world.call(
        "subscriber",
        "POST",
        "/v1/subscriptions",
        json={"types": ["capacity-snapshot"], "channel": {"type": "pull"}, "content": "full"},
    ).json()
    published_example(world)
    registered = world.call(
        "admin",
        "POST",
        "/v1/admin/clients",
        json={
            "organisationId": "org-subscriber",
            "name": "events only",
            "scopes": ["subscriptions"],
            "authMethod": "client_secret_basic",
        },
    ).json()
    token = world.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(registered["clientId"], registered["clientSecret"]),
    ).json()["access_token"]
    path = f"/v1/subscriptions/{made['id']}/events"
    refused = world.client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    allowed = world.call("subscriber", "GET", path).json()["items"]
    assert allowed and "data" in allowed[0]
