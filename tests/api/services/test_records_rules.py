"""Entitlement rules of records that the mutation run found no test for, on both databases."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from care_exchange_server.auth import clients
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Client
from tests.api.world import World, published_example

TYPE = "capacity-snapshot"
BASE = f"/v1/records/{TYPE}"


def token_for(app: FastAPI, world: World, organisation_id: str, scopes: list[str]) -> str:
    """A token of a new client of the organisation with exactly `scopes`."""
    with transaction(app.state.sessions) as session:
        made, secret = clients.create_client(
            session, organisation_id, "extra", scopes, "client_secret_basic"
        )
    assert secret is not None
    response = world.client.post(
        "/oauth/token",
        auth=(made.client_id, secret),
        data={"grant_type": "client_credentials"},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_an_agreement_lets_a_publisher_read_a_record_but_not_change_it(
    app: FastAPI, world: World, method: str
) -> None:
    """A subscriber's client holding the type's publish scope too reads org-provider's record
    under its agreement, but only the provider and its delegates may change or retract it."""
    record = published_example(world)
    token = token_for(app, world, "org-subscriber", [f"{TYPE}:read", f"{TYPE}:publish"])
    path = f"{BASE}/{record['id']}"
    headers = {"Authorization": f"Bearer {token}", "If-Match": '"1"'}
    assert world.client.get(path, headers=headers).status_code == 200
    body = {**record, "registeredPlaces": record["registeredPlaces"] + 1}
    changed = world.client.request(
        method, path, headers=headers, json=body if method == "PUT" else None
    )
    assert changed.status_code == 403, changed.text
    assert changed.json()["code"] == "forbidden"
    assert world.call("provider", "GET", path).json()["version"] == 1


def test_a_single_read_of_an_unknown_type_is_404_naming_it(world: World) -> None:
    record = published_example(world)
    response = world.call("provider", "GET", f"/v1/records/bed-count/{record['id']}")
    assert (response.status_code, response.json()["code"]) == (404, "unknown_record_type")


@pytest.mark.parametrize("suffix", ["", "/versions"])
def test_an_id_names_a_record_only_within_its_type(world: World, suffix: str) -> None:
    """A capacity snapshot's id under another type (one the caller reads) finds nothing."""
    record = published_example(world)
    for party in ("provider", "subscriber"):
        response = world.call(party, "GET", f"/v1/records/achievement/{record['id']}{suffix}")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_retracted_record_cannot_be_changed_even_with_the_current_etag(world: World) -> None:
    record = published_example(world)
    path = f"{BASE}/{record['id']}"
    gone = world.call("provider", "DELETE", path, headers={"If-Match": '"1"'})
    assert gone.status_code == 204, gone.text
    current = {"If-Match": '"2"'}
    for method, body in (("PUT", record), ("DELETE", None)):
        response = world.call("provider", method, path, json=body, headers=current)
        assert (response.status_code, response.json()["code"]) == (410, "gone"), method
    versions = world.call("provider", "GET", f"{path}/versions").json()["items"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "active"), (2, "retracted")]


def test_a_listing_by_service_holds_only_that_services_records(world: World) -> None:
    first, second = published_example(world, "svc-p1"), published_example(world, "svc-p2")
    for service_id, record in (("svc-p1", first), ("svc-p2", second)):
        for party in ("provider", "subscriber"):
            response = world.call(party, "GET", f"{BASE}?serviceId={service_id}")
            assert response.status_code == 200, response.text
            assert [item["id"] for item in response.json()["items"]] == [record["id"]]


def test_a_listing_leaves_out_retracted_records(world: World) -> None:
    kept, retracted = published_example(world), published_example(world)
    gone = world.call(
        "provider", "DELETE", f"{BASE}/{retracted['id']}", headers={"If-Match": '"1"'}
    )
    assert gone.status_code == 204, gone.text
    for party in ("provider", "subscriber"):
        response = world.call(party, "GET", BASE)
        assert [item["id"] for item in response.json()["items"]] == [kept["id"]]


def test_the_versions_are_those_of_the_record_asked_for(world: World) -> None:
    """Not the versions of every record (other records, possibly ones the caller may not see)."""
    mine = published_example(world)
    published_example(world, "svc-q1", "other_provider")
    published_example(world, "svc-p2")
    for party in ("provider", "subscriber"):
        response = world.call(party, "GET", f"{BASE}/{mine['id']}/versions")
        assert response.status_code == 200, response.text
        assert [(v["version"], v["data"]) for v in response.json()["items"]] == [(1, mine)]


def test_a_read_with_the_token_of_a_client_no_longer_stored_is_401(
    app: FastAPI, world: World
) -> None:
    """The read's one query then finds no caller row at all (not even one of NULLs)."""
    record = published_example(world)
    token = token_for(app, world, "org-subscriber", [f"{TYPE}:read"])
    with transaction(app.state.sessions) as session:
        session.execute(delete(Client).where(Client.organisation_id == "org-subscriber"))
    headers = {"Authorization": f"Bearer {token}"}
    response = world.client.get(f"{BASE}/{record['id']}", headers=headers)
    assert response.status_code == 401, response.text


def test_a_stale_etag_is_412_naming_the_current_one(world: World) -> None:
    record = published_example(world)
    path = f"{BASE}/{record['id']}"
    body = {**record, "registeredPlaces": record["registeredPlaces"] + 1}
    assert world.call("provider", "PUT", path, json=body, headers={"If-Match": '"1"'}).is_success
    for method, sent in (("PUT", body), ("DELETE", None)):
        stale = world.call("provider", method, path, json=sent, headers={"If-Match": '"1"'})
        assert (stale.status_code, stale.json()["code"]) == (412, "precondition_failed")
        assert stale.headers["etag"] == '"2"'
