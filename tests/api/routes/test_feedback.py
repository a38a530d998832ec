"""Feedback over HTTP, on both databases: subscribers send it on what they may see, providers
read and reply, and nobody else sees it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.world import World, published_example

TYPE = "capacity-snapshot"


def send(world: World, party: str, body: dict[str, Any]) -> Any:
    return world.call(party, "POST", "/v1/feedback", json=body)


def test_impact_on_a_record_reaches_the_provider_who_replies(world: World) -> None:
    record = published_example(world)
    body = {"kind": "impact", "text": "Two discharges this week.", "recordType": TYPE}
    sent = send(world, "subscriber", {**body, "recordId": record["id"]})
    assert sent.status_code == 201, sent.text
    made = sent.json()
    assert sent.headers["location"] == f"/v1/feedback/{made['id']}"
    assert (made["providerId"], made["serviceId"], made["subscriberId"]) == (
        "org-provider",
        "svc-p1",
        "org-subscriber",
    )
    assert (made["recordId"], made["recordVersion"], made["period"]) == (record["id"], 1, None)
    received = world.call("provider", "GET", "/v1/feedback").json()["items"]
    assert [item["id"] for item in received] == [made["id"]]
    answered = world.call(
        "provider", "POST", f"/v1/feedback/{made['id']}/replies", json={"text": "Thank you."}
    )
    assert answered.status_code == 201, answered.text
    shown = world.call("subscriber", "GET", f"/v1/feedback/{made['id']}").json()
    assert [(r["text"], r["providerId"]) for r in shown["replies"]] == [
        ("Thank you.", "org-provider")
    ]


def test_feedback_on_a_service_and_period_needs_an_agreement_covering_it(world: World) -> None:
    body = {
        "kind": "question",
        "text": "Agency hours doubled in October?",
        "serviceId": "svc-p2",
        "period": {"start": "2026-10-01", "end": "2026-10-31"},
    }
    sent = send(world, "subscriber", body)
    assert sent.status_code == 201, sent.text
    assert sent.json()["period"] == body["period"] and sent.json()["recordId"] is None
    refused = send(world, "other_subscriber", body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/serviceId"


def test_a_record_the_subscriber_cannot_read_is_a_field_error(world: World) -> None:
    record = published_example(world)
    body = {"kind": "acknowledgement", "text": "Seen.", "recordType": TYPE}
    for record_id in (record["id"], "no-such-record"):
        refused = send(world, "other_subscriber", {**body, "recordId": record_id})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["pointer"] == "/recordId"
    assert world.call("other_subscriber", "GET", "/v1/feedback").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"kind": "impact", "text": "x"}, ""),
        ({"kind": "impact", "text": "x", "recordType": TYPE}, "/recordId"),
        ({"kind": "impact", "text": "x", "recordType": "nope", "recordId": "a"}, "/recordType"),
        ({"kind": "impact", "text": "x", "serviceId": "svc-p1"}, "/period"),
        (
            {
                "kind": "impact",
                "text": "x",
                "serviceId": "svc-p1",
                "period": {"start": "2026-10-31", "end": "2026-10-01"},
            },
            "/period/end",
        ),
        (
            {
                "kind": "impact",
                "text": "x",
                "recordType": TYPE,
                "recordId": "a",
                "serviceId": "svc-p1",
                "period": {"start": "2026-10-01", "end": "2026-10-31"},
            },
            "",
        ),
        ({"kind": "praise", "text": "x", "recordType": TYPE, "recordId": "a"}, "/kind"),
        ({"kind": "impact", "text": "", "recordType": TYPE, "recordId": "a"}, "/text"),
    ],
)
def test_bad_feedback_names_the_field(world: World, body: dict[str, Any], pointer: str) -> None:
    refused = send(world, "subscriber", body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["pointer"] == pointer


def test_only_the_two_parties_see_feedback_and_only_the_provider_replies(world: World) -> None:
    record = published_example(world)
    made = send(
        world,
        "subscriber",
        {"kind": "question", "text": "Why closed?", "recordType": TYPE, "recordId": record["id"]},
    ).json()
    path = f"/v1/feedback/{made['id']}"
    for outsider in ("other_provider", "other_subscriber"):
        assert world.call(outsider, "GET", path).status_code == 404
        assert world.call(outsider, "GET", "/v1/feedback").json()["items"] == []
    own = world.call("subscriber", "POST", f"{path}/replies", json={"text": "Me again."})
    assert (own.status_code, own.json()["code"]) == (403, "forbidden")
    body = {"kind": "impact", "text": "Self-praise.", "recordType": TYPE, "recordId": record["id"]}
    by_provider = send(world, "provider", body)
    assert (by_provider.status_code, by_provider.json()["code"]) == (403, "forbidden")


def test_listing_filters_and_pages_newest_first(world: World) -> None:
    record = published_example(world)
    base = {"text": "Noted.", "recordType": TYPE, "recordId": record["id"]}
    made = [
        send(world, "subscriber", {**base, "kind": kind}).json()["id"]
        for kind in (
            "acknowledgement",
            "question",
            "impact",
        )
    ]
    first = world.call("provider", "GET", "/v1/feedback?page_size=2").json()
    assert [item["id"] for item in first["items"]] == made[::-1][:2]
    rest = world.call(
        "provider", "GET", f"/v1/feedback?page_size=2&page_token={first['nextPageToken']}"
    ).json()
    assert [item["id"] for item in rest["items"]] == [made[0]] and rest["nextPageToken"] is None
    impacts = world.call("provider", "GET", "/v1/feedback?kind=impact").json()["items"]
    assert [item["id"] for item in impacts] == [made[2]]
    stale = world.call(
        "provider", "GET", f"/v1/feedback?kind=question&page_token={first['nextPageToken']}"
    )
    assert stale.status_code == 400
