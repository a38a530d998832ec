"""Every dimension of entitlement, on every path that hands out record data, on both databases.

A subscriber receives a record only with the read scope for its type and an agreement in force
that covers its provider, service and type (docs: ARCHITECTURE.md, principle 3). Each dimension
below is a pair of sights of one record each: one the subscriber is entitled to (the positive
control) and one that lacks exactly that dimension. Every path (a single read and the versions,
listings, the feed, subscription events, access receipts, feedback) must hand out the first and
withhold the second.

The subscribers and their agreements are those of the entitlement world (`ENTITLEMENT_PARTIES`
and `ENTITLEMENT_AGREEMENTS` in tests/api/world.py), built once per backend for this module and
copied for each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Agreement
from tests.api import templates
from tests.api.conftest import ISSUER
from tests.api.templates import Template
from tests.api.world import CAPACITY, WORKFORCE, World, published_example, walk_feed

PULL = {"type": "pull"}
CHANNELS = ("read", "list", "feed", "events")
REFUSAL_CODES = {403: "insufficient_scope", 404: "not_found"}


@dataclass(frozen=True)
class Sight:
    """A party looking at one record of a type in a service (published by `provider`)."""

    party: str
    record_type: str
    service_id: str


@dataclass(frozen=True)
class Dimension:
    """A record the party may see (`seen`) and one it lacks one dimension of entitlement to."""

    seen: Sight
    hidden: Sight
    # The agreement `seen` is received under: what its access receipts must name.
    agreement: str
    # A single read of `hidden`: 403 without the read scope, else 404 (its existence is hidden).
    refusal: int
    # Whether an agreement in force of `hidden.party` covers `hidden.service_id` for any type,
    # which is what feedback on a service and period needs.
    covers_hidden_service: bool


DIMENSIONS = {
    "scope-per-type": Dimension(
        Sight("narrow_subscriber", WORKFORCE, "svc-p1"),
        Sight("narrow_subscriber", CAPACITY, "svc-p1"),
        "agr-narrow",
        403,
        True,
    ),
    "agreement-per-type": Dimension(
        Sight("typed_subscriber", WORKFORCE, "svc-p1"),
        Sight("typed_subscriber", CAPACITY, "svc-p1"),
        "agr-typed",
        404,
        True,
    ),
    "agreement-per-service": Dimension(
        Sight("service_subscriber", CAPACITY, "svc-p2"),
        Sight("service_subscriber", CAPACITY, "svc-p1"),
        "agr-service",
        404,
        False,
    ),
    # The boundary: an agreement ending today is still in force; one that ended yesterday is not.
    "end-date": Dimension(
        Sight("ending_subscriber", CAPACITY, "svc-p1"),
        Sight("lapsed_subscriber", CAPACITY, "svc-p1"),
        "agr-ending",
        404,
        False,
    ),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Template]:
    admin_url = "" if request.param == "sqlite" else request.getfixturevalue("postgres_server")
    folder = tmp_path_factory.mktemp("entitlement")
    yield from templates.built(request.param, folder, ISSUER, admin_url, entitlement=True)


@dataclass(frozen=True)
class Scene:
    world: World
    app: FastAPI


@pytest.fixture
def scene(template: Template, tmp_path: Path) -> Iterator[Scene]:
    """A fresh copy of the entitlement world and its app."""
    for world, app in templates.copied_world(template, tmp_path, ISSUER):
        yield Scene(world, app)


@pytest.fixture(params=sorted(DIMENSIONS))
def dimension(request: pytest.FixtureRequest) -> Dimension:
    return DIMENSIONS[request.param]


def publish(world: World, sight: Sight) -> str:
    """The id of a new record of the sight's type and service, published by the provider."""
    record = published_example(world, sight.service_id, "provider", sight.record_type)
    return str(record["id"])


def publish_both(world: World, dimension: Dimension) -> tuple[str, str]:
    return publish(world, dimension.seen), publish(world, dimension.hidden)


def record_path(sight: Sight, record_id: str, suffix: str = "") -> str:
    return f"/v1/records/{sight.record_type}/{record_id}{suffix}"


def listed_ids(world: World, sight: Sight, query: str = "") -> set[str]:
    response = world.call(sight.party, "GET", f"/v1/records/{sight.record_type}{query}")
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def feed_states(world: World, sight: Sight) -> dict[str, dict[str, Any]]:
    """The latest item of each id in the party's feed of the sight's type."""
    items, _ = walk_feed(world, sight.party, f"/v1/feed/{sight.record_type}")
    return {item["id"]: item for item in items}


def subscribe(world: World, sight: Sight) -> Any:
    """The party's pull subscription with full content to the sight's type (the response)."""
    body = {"types": [sight.record_type], "channel": PULL, "content": "full"}
    return world.call(sight.party, "POST", "/v1/subscriptions", json=body)


def subscription_events(world: World, party: str, subscription_id: str) -> list[dict[str, Any]]:
    response = world.call(party, "GET", f"/v1/subscriptions/{subscription_id}/events")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def about(events: list[dict[str, Any]], record_id: str) -> list[dict[str, Any]]:
    return [event for event in events if event["data"]["id"] == record_id]


def assert_refused(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == REFUSAL_CODES[status], response.text


def feedback_on_record(world: World, sight: Sight, record_id: str) -> Any:
    body = {"kind": "impact", "text": "It changed our plans.", "recordType": sight.record_type}
    return world.call(sight.party, "POST", "/v1/feedback", json={**body, "recordId": record_id})


def feedback_on_service(world: World, sight: Sight) -> Any:
    body = {
        "kind": "question",
        "text": "Why did occupancy fall?",
        "serviceId": sight.service_id,
        "period": {"start": "2026-10-01", "end": "2026-10-31"},
    }
    return world.call(sight.party, "POST", "/v1/feedback", json=body)


def assert_field_error(response: Any, pointer: str) -> None:
    assert response.status_code == 422, response.text
    assert [error["pointer"] for error in response.json()["errors"]] == [pointer]


# --------------------------------------------------------------------------------------------
# One test per path, each over every dimension.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/versions"], ids=["record", "versions"])
def test_single_reads(scene: Scene, dimension: Dimension, suffix: str) -> None:
    world = scene.world
    seen_id, hidden_id = publish_both(world, dimension)
    seen = world.call(dimension.seen.party, "GET", record_path(dimension.seen, seen_id, suffix))
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert (body["items"][0] if suffix else body)["id"] == seen_id
    hidden_path = record_path(dimension.hidden, hidden_id, suffix)
    assert_refused(world.call(dimension.hidden.party, "GET", hidden_path), dimension.refusal)


def test_listings(scene: Scene, dimension: Dimension) -> None:
    world = scene.world
    seen_id, hidden_id = publish_both(world, dimension)
    assert seen_id in listed_ids(world, dimension.seen)
    assert seen_id in listed_ids(world, dimension.seen, f"?serviceId={dimension.seen.service_id}")
    hidden = dimension.hidden
    for query in ("", f"?serviceId={hidden.service_id}"):
        if dimension.refusal == 403:
            path = f"/v1/records/{hidden.record_type}{query}"
            assert_refused(world.call(hidden.party, "GET", path), 403)
        else:
            assert hidden_id not in listed_ids(world, hidden, query)


def test_the_feed(scene: Scene, dimension: Dimension) -> None:
    world = scene.world
    seen_id, hidden_id = publish_both(world, dimension)
    seen = feed_states(world, dimension.seen)
    assert seen[seen_id]["state"] == "updated" and seen[seen_id]["data"]["id"] == seen_id
    hidden = dimension.hidden
    if dimension.refusal == 403:
        path = f"/v1/feed/{hidden.record_type}"
        assert_refused(world.call(hidden.party, "GET", path), 403)
    else:
        assert hidden_id not in feed_states(world, hidden)


def test_subscription_events(scene: Scene, dimension: Dimension) -> None:
    world = scene.world
    seen_subscription = subscribe(world, dimension.seen)
    assert seen_subscription.status_code == 201, seen_subscription.text
    hidden_subscription = subscribe(world, dimension.hidden)
    if dimension.refusal == 403:
        # Without the read scope a subscription to the type is refused outright.
        assert_refused(hidden_subscription, 403)
    else:
        assert hidden_subscription.status_code == 201, hidden_subscription.text
    seen_id, hidden_id = publish_both(world, dimension)
    events = subscription_events(world, dimension.seen.party, seen_subscription.json()["id"])
    (event,) = about(events, seen_id)
    assert event["type"] == "org.careexchange.record.updated"
    assert event["data"]["record"]["id"] == seen_id
    if hidden_subscription.status_code == 201:
        made = hidden_subscription.json()["id"]
        assert about(subscription_events(world, dimension.hidden.party, made), hidden_id) == []


def test_access_receipts(scene: Scene, dimension: Dimension) -> None:
    """Each channel that carries the seen record leaves a receipt naming the agreement that
    covers it (not a decoy covering another type or provider); the hidden one leaves none."""
    world = scene.world
    subscriptions = {sight: subscribe(world, sight) for sight in (dimension.seen, dimension.hidden)}
    seen_id, hidden_id = publish_both(world, dimension)
    for sight, record_id in ((dimension.seen, seen_id), (dimension.hidden, hidden_id)):
        world.call(sight.party, "GET", record_path(sight, record_id))
        world.call(sight.party, "GET", f"/v1/records/{sight.record_type}")
        world.call(sight.party, "GET", f"/v1/feed/{sight.record_type}")
        if subscriptions[sight].status_code == 201:
            subscription_events(world, sight.party, subscriptions[sight].json()["id"])
    response = world.call("provider", "GET", "/v1/access-receipts")
    assert response.status_code == 200, response.text
    found = {
        (item["subscriberId"], item["recordId"], item["channel"], item["agreementId"])
        for item in response.json()["items"]
    }
    seen, hidden = f"org-{dimension.seen.party}", f"org-{dimension.hidden.party}"
    assert {receipt for receipt in found if receipt[:2] == (seen, seen_id)} == {
        (seen, seen_id, channel, dimension.agreement) for channel in CHANNELS
    }
    assert [receipt for receipt in found if receipt[:2] == (hidden, hidden_id)] == []


def test_feedback(scene: Scene, dimension: Dimension) -> None:
    world = scene.world
    seen_id, hidden_id = publish_both(world, dimension)
    sent = feedback_on_record(world, dimension.seen, seen_id)
    assert sent.status_code == 201, sent.text
    assert (sent.json()["recordId"], sent.json()["serviceId"]) == (
        seen_id,
        dimension.seen.service_id,
    )
    assert_field_error(feedback_on_record(world, dimension.hidden, hidden_id), "/recordId")
    on_service = feedback_on_service(world, dimension.seen)
    assert on_service.status_code == 201, on_service.text
    on_hidden_service = feedback_on_service(world, dimension.hidden)
    if dimension.covers_hidden_service:
        assert on_hidden_service.status_code == 201, on_hidden_service.text
    else:
        assert_field_error(on_hidden_service, "/serviceId")


# --------------------------------------------------------------------------------------------
# An agreement reaching its end date after its records reached the subscriber.
# --------------------------------------------------------------------------------------------


def test_records_leave_every_path_when_the_agreement_passes_its_end_date(scene: Scene) -> None:
    world, sight = scene.world, DIMENSIONS["end-date"].seen
    subscription = subscribe(world, sight)
    assert subscription.status_code == 201, subscription.text
    record_id = publish(world, sight)
    assert feed_states(world, sight)[record_id]["state"] == "updated"
    with transaction(scene.app.state.sessions) as session:
        session.execute(
            update(Agreement)
            .where(Agreement.id == "agr-ending")
            .values(end_date=date.today() - timedelta(days=1))
        )
    assert_refused(world.call(sight.party, "GET", record_path(sight, record_id)), 404)
    assert record_id not in listed_ids(world, sight)
    gone = feed_states(world, sight)[record_id]
    assert gone["state"] == "deleted" and "data" not in gone
    # The update was written while the agreement was in force; sent now, it carries no data.
    updated, deleted = about(
        subscription_events(world, sight.party, subscription.json()["id"]), record_id
    )
    assert "record" not in updated["data"]
    assert deleted["type"] == "org.careexchange.record.deleted" and "record" not in deleted["data"]
    assert_field_error(feedback_on_record(world, sight, record_id), "/recordId")
    assert_field_error(feedback_on_service(world, sight), "/serviceId")
    shown = world.call("provider", "GET", "/v1/agreements/agr-ending").json()
    assert shown["status"] == "expired"


@pytest.mark.parametrize(
    ("agreement", "status"),
    [("agr-lapsed", "expired"), ("agr-ending", "active"), ("agr-narrow", "active")],
)
def test_agreements_show_whether_they_are_in_force(
    scene: Scene, agreement: str, status: str
) -> None:
    """Before anything closes a lapsed agreement, its provider already sees it as expired."""
    response = scene.world.call("provider", "GET", f"/v1/agreements/{agreement}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status
