"""Agreements: grants, requests, decisions, statutory agreements, revocation and expiry."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI

from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Agreement
from tests.api.world import World, example_record

TYPE = "capacity-snapshot"


def terms(**extra: Any) -> dict[str, Any]:
    return {
        "recordTypes": [TYPE],
        "serviceIds": None,
        "purpose": "Contract monitoring.",
        "legalBasis": "Public task.",
        **extra,
    }


def test_a_subscriber_requests_and_the_provider_accepts(world: World) -> None:
    record = example_record(TYPE, "svc-p2")
    world.call("provider", "POST", f"/v1/records/{TYPE}", json=record)
    path = f"/v1/records/{TYPE}/{record['id']}"
    asked = world.call(
        "other_subscriber", "POST", "/v1/agreements", json=terms(providerId="org-provider")
    )
    assert asked.status_code == 201, asked.text
    agreement = asked.json()
    assert (agreement["status"], agreement["subscriberId"]) == ("requested", "org-other_subscriber")
    assert world.call("other_subscriber", "GET", path).status_code == 404
    refused = world.call("other_subscriber", "POST", f"/v1/agreements/{agreement['id']}/accept")
    assert refused.status_code == 403
    accepted = world.call("provider", "POST", f"/v1/agreements/{agreement['id']}/accept")
    assert accepted.json()["status"] == "active"
    assert world.call("other_subscriber", "GET", path).status_code == 200
    again = world.call("provider", "POST", f"/v1/agreements/{agreement['id']}/decline")
    assert again.status_code == 409


def test_an_agreement_covers_only_its_services_and_types(world: World) -> None:
    granted = world.call(
        "provider",
        "POST",
        "/v1/agreements",
        json=terms(subscriberId="org-other_subscriber", serviceIds=["svc-p1"]),
    )
    assert granted.status_code == 201, granted.text
    for service_id, expected in (("svc-p1", 200), ("svc-p2", 404)):
        record = example_record(TYPE, service_id)
        world.call("provider", "POST", f"/v1/records/{TYPE}", json=record)
        path = f"/v1/records/{TYPE}/{record['id']}"
        assert world.call("other_subscriber", "GET", path).status_code == expected
    other_type = example_record("achievement", "svc-p1")
    world.call("provider", "POST", "/v1/records/achievement", json=other_type)
    path = f"/v1/records/achievement/{other_type['id']}"
    assert world.call("other_subscriber", "GET", path).status_code == 404


def test_an_ended_agreement_stops_reads_and_shows_as_expired(app: FastAPI, world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    world.call("provider", "POST", f"/v1/records/{TYPE}", json=record)
    path = f"/v1/records/{TYPE}/{record['id']}"
    assert world.call("subscriber", "GET", path).status_code == 200
    with transaction(app.state.sessions) as session:
        session.get_one(Agreement, "agr-subscriber").end_date = date.today() - timedelta(days=1)
    assert world.call("subscriber", "GET", path).status_code == 404
    listed = world.call("subscriber", "GET", "/v1/agreements?status=expired").json()["items"]
    assert [a["id"] for a in listed] == ["agr-subscriber"]


def test_an_end_date_in_the_past_is_refused(world: World) -> None:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    body = terms(subscriberId="org-other_subscriber", endDate=yesterday)
    past = world.call("provider", "POST", "/v1/agreements", json=body)
    assert past.status_code == 422
    assert past.json()["errors"][0]["pointer"] == "/endDate"


def test_statutory_agreements_are_for_administrators(world: World) -> None:
    body = terms(providerId="org-provider", subscriberId="org-other_subscriber", statutory=True)
    assert world.call("provider", "POST", "/v1/agreements", json=body).status_code == 403
    made = world.call("admin", "POST", "/v1/agreements", json=body)
    assert made.status_code == 201, made.text
    agreement = made.json()
    assert (agreement["statutory"], agreement["status"]) == (True, "active")
    revoke = f"/v1/agreements/{agreement['id']}/revoke"
    assert world.call("provider", "POST", revoke).status_code == 403
    assert world.call("admin", "POST", revoke).json()["status"] == "revoked"


def test_both_sides_list_their_agreements_and_nobody_else_sees_them(world: World) -> None:
    mine = world.call("provider", "GET", "/v1/agreements").json()["items"]
    theirs = world.call("subscriber", "GET", "/v1/agreements").json()["items"]
    assert [a["id"] for a in mine] == [a["id"] for a in theirs] == ["agr-subscriber"]
    assert world.call("other_subscriber", "GET", "/v1/agreements").json()["items"] == []
    assert world.call("other_subscriber", "GET", "/v1/agreements/agr-subscriber").status_code == 404
    active = world.call("provider", "GET", "/v1/agreements?status=revoked").json()["items"]
    assert active == []


def test_invalid_terms_are_field_errors(world: World) -> None:
    body = terms(
        subscriberId="org-other_subscriber", recordTypes=["bed-count"], serviceIds=["svc-q1"]
    )
    response = world.call("provider", "POST", "/v1/agreements", json=body)
    assert response.status_code == 422
    assert {e["pointer"] for e in response.json()["errors"]} == {"/recordTypes/0"}
    body["recordTypes"] = ["capacity-snapshot"]
    response = world.call("provider", "POST", "/v1/agreements", json=body)
    assert response.status_code == 422
    assert {e["pointer"] for e in response.json()["errors"]} == {"/serviceIds/0"}
    unknown_field = world.call("provider", "POST", "/v1/agreements", json={**body, "colour": "red"})
    assert unknown_field.status_code == 422
    assert "/colour" in {e["pointer"] for e in unknown_field.json()["errors"]}


def missing_services(**parties: str) -> dict[str, Any]:
    return {name: value for name, value in terms(**parties).items() if name != "serviceIds"}


def test_a_missing_service_list_never_grants_every_service(world: World) -> None:
    """`serviceIds: null` (every service, present and future) is granted only when asked for."""
    record = example_record(TYPE, "svc-p1")
    assert world.call("provider", "POST", f"/v1/records/{TYPE}", json=record).status_code == 201
    path = f"/v1/records/{TYPE}/{record['id']}"
    before = world.call("other_subscriber", "GET", "/v1/agreements").json()["items"]
    for party, body in (
        ("provider", missing_services(subscriberId="org-other_subscriber")),
        ("other_subscriber", missing_services(providerId="org-provider")),
        (
            "admin",
            {
                **missing_services(providerId="org-provider", subscriberId="org-other_subscriber"),
                "statutory": True,
            },
        ),
    ):
        refused = world.call(party, "POST", "/v1/agreements", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [
            {"pointer": "/serviceIds", "keyword": "required", "message": "is required."}
        ]
    assert world.call("other_subscriber", "GET", "/v1/agreements").json()["items"] == before
    assert world.call("other_subscriber", "GET", path).status_code == 404
    asked = terms(subscriberId="org-other_subscriber")
    granted = world.call("provider", "POST", "/v1/agreements", json=asked)
    assert (granted.status_code, granted.json()["serviceIds"]) == (201, None)
    assert world.call("other_subscriber", "GET", path).status_code == 200


def test_agreements_page_and_filter_by_status_in_the_database(world: World) -> None:
    for subscriber in ("org-other_subscriber", "org-no_scope"):
        made = world.call("provider", "POST", "/v1/agreements", json=terms(subscriberId=subscriber))
        assert made.status_code == 201, made.text
    everything = world.call("provider", "GET", "/v1/agreements").json()["items"]
    assert len(everything) >= 3
    seen: list[str] = []
    url = "/v1/agreements?page_size=1"
    while url:
        page = world.call("provider", "GET", url).json()
        assert len(page["items"]) <= 1
        seen += [item["id"] for item in page["items"]]
        token = page["nextPageToken"]
        url = f"/v1/agreements?page_size=1&page_token={token}" if token else ""
    assert seen == [item["id"] for item in everything]
    active = world.call("provider", "GET", "/v1/agreements?status=active&page_size=1").json()
    token = active["nextPageToken"]
    assert token
    other_filter = world.call(
        "provider", "GET", f"/v1/agreements?status=revoked&page_token={token}"
    )
    assert (other_filter.status_code, other_filter.json()["code"]) == (400, "invalid_query")
