"""Publishing and reading records, over HTTP, on both databases, with real tokens."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from care_exchange_server.auth.clients import disable_client
from care_exchange_server.services import records
from care_exchange_server.storage.db import transaction
from tests.api.world import World, example_record, published_example, table_digest

TYPE = "capacity-snapshot"
BASE = f"/v1/records/{TYPE}"


def publish(world: World, party: str, record: dict[str, Any], **kwargs: Any) -> Any:
    return world.call(party, "POST", BASE, json=record, **kwargs)


def stored(world: World, record_id: str) -> dict[str, Any]:
    response = world.call("provider", "GET", f"{BASE}/{record_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_publish_then_read_as_provider_and_entitled_subscriber(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    response = publish(world, "provider", record)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{BASE}/{record['id']}"
    assert response.headers["etag"] == '"1"'
    envelope = response.json()
    assert envelope["data"] == record
    assert (envelope["version"], envelope["state"], envelope["submittedBy"]) == (
        1,
        "active",
        "org-provider",
    )
    for reader in ("provider", "subscriber"):
        read = world.call(reader, "GET", f"{BASE}/{record['id']}")
        assert read.status_code == 200
        assert read.json()["data"] == record
        assert read.headers["etag"] == '"1"'


@pytest.mark.parametrize("reader", ["other_subscriber", "other_provider", "other_vendor", "admin"])
def test_not_entitled_readers_see_nothing(world: World, reader: str) -> None:
    record = example_record(TYPE, "svc-p1")
    assert publish(world, "provider", record).status_code == 201
    response = world.call(reader, "GET", f"{BASE}/{record['id']}")
    assert response.status_code in (403, 404)
    assert "data" not in response.json() and record["serviceId"] not in response.text
    listed = world.call(reader, "GET", BASE)
    assert record["id"] not in listed.text


def test_subscriber_without_read_scope_is_refused_with_insufficient_scope(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    publish(world, "provider", record)
    response = world.call("no_scope", "GET", f"{BASE}/{record['id']}")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_vendor_publishes_only_for_delegated_services(world: World) -> None:
    allowed = publish(world, "vendor", example_record(TYPE, "svc-p1"))
    assert allowed.status_code == 201
    assert allowed.json()["submittedBy"] == "org-vendor"
    assert allowed.json()["providerId"] == "org-provider"
    refused = publish(world, "vendor", example_record(TYPE, "svc-p2"))
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    outsider = publish(world, "other_vendor", example_record(TYPE, "svc-p1"))
    assert outsider.status_code == 403


def test_provider_cannot_publish_for_another_providers_service(world: World) -> None:
    response = publish(world, "provider", example_record(TYPE, "svc-q1"))
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


def test_unknown_service_is_a_field_error(world: World) -> None:
    response = publish(world, "provider", example_record(TYPE, "svc-nowhere"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/serviceId"


def test_revoking_the_delegation_stops_the_vendor_at_once(world: World) -> None:
    assert publish(world, "vendor", example_record(TYPE, "svc-p1")).status_code == 201
    assert world.call("provider", "DELETE", "/v1/delegations/dlg-vendor").status_code == 204
    assert publish(world, "vendor", example_record(TYPE, "svc-p1")).status_code == 403


def test_revoking_the_agreement_hides_records_at_once(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    publish(world, "provider", record)
    assert world.call("subscriber", "GET", f"{BASE}/{record['id']}").status_code == 200
    revoked = world.call("provider", "POST", "/v1/agreements/agr-subscriber/revoke")
    assert revoked.status_code == 200, revoked.text
    assert world.call("subscriber", "GET", f"{BASE}/{record['id']}").status_code == 404


def test_new_version_needs_the_current_etag(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    publish(world, "provider", record)
    changed = {**record, "registeredPlaces": 61}
    missing = world.call("provider", "PUT", f"{BASE}/{record['id']}", json=changed)
    assert (missing.status_code, missing.json()["code"]) == (428, "precondition_required")
    ok = world.call(
        "provider", "PUT", f"{BASE}/{record['id']}", json=changed, headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"2"'
    stale = world.call(
        "provider", "PUT", f"{BASE}/{record['id']}", json=changed, headers={"If-Match": '"1"'}
    )
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition_failed")
    assert stored(world, record["id"])["data"]["registeredPlaces"] == 61


def test_a_new_version_cannot_move_the_record(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    publish(world, "provider", record)
    moved = {**record, "serviceId": "svc-p2"}
    response = world.call(
        "provider", "PUT", f"{BASE}/{record['id']}", json=moved, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/serviceId"
    assert stored(world, record["id"])["version"] == 1


def test_retraction_is_a_tombstone_and_versions_are_kept(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    publish(world, "provider", record)
    without = world.call("provider", "DELETE", f"{BASE}/{record['id']}")
    assert without.status_code == 428
    gone = world.call("provider", "DELETE", f"{BASE}/{record['id']}", headers={"If-Match": '"1"'})
    assert gone.status_code == 204
    read = world.call("subscriber", "GET", f"{BASE}/{record['id']}")
    assert (read.status_code, read.json()["code"]) == (410, "gone")
    versions = world.call("provider", "GET", f"{BASE}/{record['id']}/versions").json()["items"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "active"), (2, "retracted")]
    assert versions[0]["data"] == record and "data" not in versions[1]


def test_listing_pages_with_an_opaque_token(world: World) -> None:
    ids = [f"rec-{index}" for index in range(5)]
    for record_id in ids:
        assert (
            publish(world, "provider", example_record(TYPE, "svc-p1", record_id)).status_code == 201
        )
    seen: list[str] = []
    url = f"{BASE}?page_size=2"
    while True:
        page = world.call("subscriber", "GET", url).json()
        seen += [item["id"] for item in page["items"]]
        if page["nextPageToken"] is None:
            break
        url = f"{BASE}?page_size=2&page_token={page['nextPageToken']}"
    assert seen == ids


@pytest.mark.parametrize(
    "query", ["page_size=0", "page_size=201", "page_token=garbage", "page_size=x"]
)
def test_bad_listing_queries_are_400(world: World, query: str) -> None:
    response = world.call("subscriber", "GET", f"{BASE}?{query}")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_query")


def test_page_token_only_works_with_its_own_query(world: World) -> None:
    for index in range(3):
        publish(world, "provider", example_record(TYPE, "svc-p1", f"rec-{index}"))
    token = world.call("subscriber", "GET", f"{BASE}?page_size=1").json()["nextPageToken"]
    response = world.call(
        "subscriber", "GET", f"{BASE}?page_size=1&serviceId=svc-p2&page_token={token}"
    )
    assert response.status_code == 400


def test_invalid_record_names_every_field_and_stores_nothing(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    record["registeredPlaces"] = -1
    record["bedsFree"] = 2
    response = publish(world, "provider", record)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert {e["pointer"] for e in problem["errors"]} == {"/registeredPlaces", "/bedsFree"}
    assert world.call("provider", "GET", f"{BASE}/{record['id']}").status_code == 404


def test_duplicate_id_is_a_conflict_and_keeps_the_original(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    publish(world, "provider", record)
    again = publish(world, "provider", {**record, "registeredPlaces": 1})
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    assert stored(world, record["id"])["data"]["registeredPlaces"] == record["registeredPlaces"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        (
            {"content": b'{"recordType": ', "headers": {"Content-Type": "application/json"}},
            400,
            "invalid_json",
        ),
        (
            {"content": b"<xml/>", "headers": {"Content-Type": "application/xml"}},
            415,
            "unsupported_media_type",
        ),
        (
            {"content": b"x" * 1_100_000, "headers": {"Content-Type": "application/json"}},
            413,
            "payload_too_large",
        ),
        ({"json": [1, 2]}, 422, "validation_failed"),
    ],
)
def test_bad_bodies_get_clear_errors(
    world: World, kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = world.call("provider", "POST", BASE, **kwargs)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"]


def test_unknown_record_type_is_404(world: World) -> None:
    response = world.call("provider", "GET", "/v1/records/bed-count")
    assert (response.status_code, response.json()["code"]) == (404, "unknown_record_type")


def test_bulk_answers_per_item(world: World) -> None:
    good = example_record(TYPE, "svc-p1")
    invalid = {**example_record(TYPE, "svc-p1"), "registeredPlaces": "many"}
    not_mine = example_record(TYPE, "svc-q1")
    other_type = example_record("achievement", "svc-p2")
    response = world.call(
        "provider", "POST", "/v1/bulk", json={"records": [good, invalid, not_mine, other_type]}
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 403, 201]
    assert results[1]["problem"]["errors"][0]["pointer"] == "/registeredPlaces"
    assert stored(world, good["id"])["version"] == 1
    assert (
        world.call("provider", "GET", f"/v1/records/achievement/{other_type['id']}").status_code
        == 200
    )


def test_a_bulk_batch_stores_each_record_under_its_own_id(world: World) -> None:
    """Thirty records in one statement: each id reads back its own payload and first version."""
    batch = [
        {**example_record(TYPE, "svc-p1"), "notes": f"Record number {number}."}
        for number in range(30)
    ]
    response = world.call("provider", "POST", "/v1/bulk", json={"records": batch})
    assert [r["status"] for r in response.json()["results"]] == [201] * 30
    for record in batch:
        assert stored(world, record["id"])["data"] == record
        versions = world.call("provider", "GET", f"{BASE}/{record['id']}/versions").json()
        assert [(v["version"], v["data"]["notes"]) for v in versions["items"]] == [
            (1, record["notes"])
        ]


def test_a_bulk_dry_run_answers_as_a_publication_would_and_stores_nothing(
    world: World, app: FastAPI
) -> None:
    taken = published_example(world)
    good = example_record(TYPE, "svc-p1")
    invalid = {**example_record(TYPE, "svc-p1"), "registeredPlaces": "many"}
    not_mine = example_record(TYPE, "svc-q1")
    again = {**taken, "registeredPlaces": 3}
    items = [good, invalid, not_mine, again, {**good, "registeredPlaces": 2}]
    before = table_digest(app.state.engines[0])
    dry = world.call(
        "provider",
        "POST",
        "/v1/bulk?dry_run=true",
        json={"records": items},
        headers={"Idempotency-Key": "dry-1"},
    )
    assert dry.status_code == 200, dry.text
    assert table_digest(app.state.engines[0]) == before
    assert dry.json()["dryRun"] is True
    assert [r["status"] for r in dry.json()["results"]] == [201, 422, 403, 409, 409]
    real = world.call(
        "provider",
        "POST",
        "/v1/bulk?dry_run=false",
        json={"records": items},
        headers={"Idempotency-Key": "dry-1"},
    )
    assert real.status_code == 200 and "idempotent-replayed" not in real.headers
    assert "dryRun" not in real.json()
    published, dry_published = real.json()["results"], dry.json()["results"]
    assert [r["status"] for r in published] == [r["status"] for r in dry_published]
    assert published[0] == dry_published[0]
    assert stored(world, good["id"])["version"] == 1


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_dry_run_is_true_or_false(world: World, value: str) -> None:
    record = example_record(TYPE, "svc-p1")
    answer = world.call("provider", "POST", f"/v1/bulk?dry_run={value}", json={"records": [record]})
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_query")
    assert answer.json()["errors"][0]["parameter"] == "dry_run"
    assert world.call("provider", "GET", f"{BASE}/{record['id']}").status_code == 404


def test_bulk_over_the_limit_is_413(world: World) -> None:
    records = [example_record(TYPE, "svc-p1") for _ in range(501)]
    response = world.call("provider", "POST", "/v1/bulk", json={"records": records})
    assert (response.status_code, response.json()["code"]) == (413, "too_many_items")


def test_idempotency_key_replays_and_refuses_a_changed_body(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    key = {"Idempotency-Key": "publish-1"}
    first = publish(world, "provider", record, headers=key)
    replay = publish(world, "provider", record, headers=key)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["etag"] == first.headers["etag"]
    changed = publish(world, "provider", {**record, "registeredPlaces": 1}, headers=key)
    assert (changed.status_code, changed.json()["code"]) == (422, "idempotency_key_reused")
    other_org = publish(world, "vendor", record, headers=key)
    assert other_org.status_code == 409  # keys are per organisation: this is a new request
    assert other_org.json()["code"] == "conflict"


def test_bulk_refuses_a_repeated_id_after_the_first(world: World) -> None:
    first = example_record(TYPE, "svc-p1")
    again = {**first, "registeredPlaces": 1}
    response = world.call("provider", "POST", "/v1/bulk", json={"records": [first, again]})
    assert [r["status"] for r in response.json()["results"]] == [201, 409]
    assert response.json()["results"][1]["problem"]["errors"][0]["pointer"] == "/id"
    assert stored(world, first["id"])["data"] == first


def test_bulk_by_a_vendor_publishes_only_for_delegated_services(world: World) -> None:
    delegated, not_delegated = example_record(TYPE, "svc-p1"), example_record(TYPE, "svc-p2")
    response = world.call(
        "vendor", "POST", "/v1/bulk", json={"records": [delegated, not_delegated]}
    )
    assert [r["status"] for r in response.json()["results"]] == [201, 403]
    assert stored(world, delegated["id"])["submittedBy"] == "org-vendor"
    missing = world.call("provider", "GET", f"{BASE}/{not_delegated['id']}")
    assert missing.status_code == 404


def test_bulk_falls_back_row_by_row_when_a_concurrent_publish_took_an_id(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The id check and the insert are not atomic; the unique constraint decides, per row."""
    taken = example_record(TYPE, "svc-p1")
    assert publish(world, "provider", taken).status_code == 201
    monkeypatch.setattr(records, "_existing", lambda session, documents: set())
    fresh = example_record(TYPE, "svc-p1")
    response = world.call(
        "provider", "POST", "/v1/bulk", json={"records": [{**taken, "notes": "Again."}, fresh]}
    )
    assert [r["status"] for r in response.json()["results"]] == [409, 201]
    assert stored(world, taken["id"])["data"] == taken
    assert stored(world, fresh["id"])["version"] == 1


def test_reading_a_record_refuses_revoked_disabled_and_forged_tokens(
    app: FastAPI, world: World
) -> None:
    """The read authenticates in its own query; it must refuse exactly what every route does."""
    record = example_record(TYPE, "svc-p1")
    assert publish(world, "provider", record).status_code == 201
    path = f"{BASE}/{record['id']}"
    assert world.call("subscriber", "GET", path).status_code == 200
    subscriber = world["subscriber"]
    revoked = world.client.post(
        "/oauth/revoke",
        data={"token": subscriber.token},
        auth=(subscriber.client_id, subscriber.secret),
    )
    assert revoked.status_code == 200
    refused = world.call("subscriber", "GET", path)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_token")
    assert "revoked" in refused.headers["www-authenticate"]
    assert world.call("provider", "GET", path).status_code == 200
    with transaction(app.state.sessions) as session:
        disable_client(session, world["provider"].client_id)
    disabled = world.call("provider", "GET", path)
    assert disabled.status_code == 401 and "not active" in disabled.json()["detail"]
    forged = world.client.get(path, headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401
    missing = world.client.get(path)
    assert missing.headers["www-authenticate"] == 'Bearer realm="care-exchange"'


def test_if_match_compares_strongly(world: World) -> None:
    record = published_example(world)
    path = f"/v1/records/capacity-snapshot/{record['id']}"
    for weak in ('W/"1"', 'W/"1", W/"2"'):
        stale = world.call("provider", "PUT", path, json=record, headers={"If-Match": weak})
        assert (stale.status_code, stale.json()["code"]) == (412, "precondition_failed")
    current = world.call("provider", "PUT", path, json=record, headers={"If-Match": '"1"'})
    assert current.status_code == 200


def test_a_taken_id_says_the_same_whoever_took_it(world: World) -> None:
    """The oracle is bounded: a taken id is 409 with the same words for every owner."""
    mine = published_example(world, "svc-p1")
    theirs = published_example(world, "svc-q1", party="other_provider")
    answers = []
    for taken in (mine, theirs):
        again = {**example_record("capacity-snapshot", "svc-p1"), "id": taken["id"]}
        answer = world.call("provider", "POST", "/v1/records/capacity-snapshot", json=again)
        body = answer.json()
        answers.append((answer.status_code, {k: v for k, v in body.items() if k != "requestId"}))
    assert answers[0][0] == 409
    assert answers[0][1]["detail"].replace(mine["id"], "ID") == answers[1][1]["detail"].replace(
        theirs["id"], "ID"
    )
    assert answers[0][1]["errors"] == answers[1][1]["errors"]


def test_versions_page_oldest_first(world: World) -> None:
    record = published_example(world)
    path = f"/v1/records/capacity-snapshot/{record['id']}"
    for version in (1, 2):
        changed = world.call(
            "provider", "PUT", path, json=record, headers={"If-Match": f'"{version}"'}
        )
        assert changed.status_code == 200
    walked: list[int] = []
    url = f"{path}/versions?page_size=2"
    while url:
        page = world.call("subscriber", "GET", url).json()
        walked += [item["version"] for item in page["items"]]
        token = page["nextPageToken"]
        url = f"{path}/versions?page_size=2&page_token={token}" if token else ""
    assert walked == [1, 2, 3]
    bad = world.call("subscriber", "GET", f"{path}/versions?page_size=abc&page_token=garbage")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_query")
