"""The directory: who am I, my provider entry, services, delegations, and the administrators'
routes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from care_exchange_server.auth import clients
from care_exchange_server.services import paging
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.enums import AuthMethod
from tests.api.world import World, example_record, provider_entry, service_document


def test_me_names_the_callers_organisation(world: World) -> None:
    body = world.call("vendor", "GET", "/v1/organisations/me").json()
    assert body == {"id": "org-vendor", "name": "vendor", "kind": "vendor"}


def test_providers_register_only_their_own_services(world: World) -> None:
    mine = service_document("svc-p3", "org-provider")
    made = world.call("provider", "POST", "/v1/services", json=mine)
    assert made.status_code == 201, made.text
    assert made.headers["location"] == "/v1/services/svc-p3"
    theirs = service_document("svc-p4", "org-other_provider")
    refused = world.call("provider", "POST", "/v1/services", json=theirs)
    assert (refused.status_code, refused.json()["errors"][0]["pointer"]) == (403, "/providerId")
    again = world.call("provider", "POST", "/v1/services", json=mine)
    assert again.status_code == 409
    invalid = world.call(
        "provider", "POST", "/v1/services", json={**mine, "id": "svc-p5", "status": "?"}
    )
    assert invalid.status_code == 422


def test_vendors_see_delegated_services_only(world: World) -> None:
    ids = [s["id"] for s in world.call("vendor", "GET", "/v1/services").json()["items"]]
    assert ids == ["svc-p1"]
    assert world.call("other_vendor", "GET", "/v1/services").json()["items"] == []
    assert world.call("vendor", "GET", "/v1/services/svc-p2").status_code == 404


def test_only_the_provider_changes_its_entry(world: World) -> None:
    document = {**service_document("svc-p1", "org-provider"), "name": "Renamed"}
    assert world.call("vendor", "PUT", "/v1/services/svc-p1", json=document).status_code == 403
    changed = world.call("provider", "PUT", "/v1/services/svc-p1", json=document)
    assert changed.json()["name"] == "Renamed"


def test_delegations_are_made_listed_and_revoked(world: World) -> None:
    made = world.call(
        "provider",
        "POST",
        "/v1/delegations",
        json={"vendorId": "org-other_vendor", "serviceIds": None},
    )
    assert made.status_code == 201, made.text
    delegation = made.json()
    seen_by_vendor = world.call("other_vendor", "GET", "/v1/delegations").json()["items"]
    assert [d["id"] for d in seen_by_vendor] == [delegation["id"]]
    assert [s["id"] for s in world.call("other_vendor", "GET", "/v1/services").json()["items"]] == [
        "svc-p1",
        "svc-p2",
    ]
    not_theirs = world.call("other_provider", "DELETE", f"/v1/delegations/{delegation['id']}")
    assert not_theirs.status_code == 404
    assert (
        world.call("provider", "DELETE", f"/v1/delegations/{delegation['id']}").status_code == 204
    )
    assert world.call("other_vendor", "GET", "/v1/services").json()["items"] == []


def test_delegating_to_a_non_vendor_or_anothers_service_is_refused(world: World) -> None:
    to_subscriber = world.call(
        "provider",
        "POST",
        "/v1/delegations",
        json={"vendorId": "org-subscriber", "serviceIds": None},
    )
    assert to_subscriber.json()["errors"][0]["pointer"] == "/vendorId"
    foreign = world.call(
        "provider",
        "POST",
        "/v1/delegations",
        json={"vendorId": "org-vendor", "serviceIds": ["svc-q1"]},
    )
    assert foreign.json()["errors"][0]["pointer"] == "/serviceIds/0"


def test_admin_creates_organisations_and_clients_whose_secret_is_shown_once(world: World) -> None:
    org = world.call(
        "admin",
        "POST",
        "/v1/admin/organisations",
        json={"name": "NHS Fife", "kind": "public-health"},
    )
    assert org.status_code == 201, org.text
    body = {
        "organisationId": org.json()["id"],
        "name": "reader",
        "scopes": ["capacity-snapshot:read"],
        "authMethod": "client_secret_basic",
    }
    key = {"Idempotency-Key": "client-1"}
    made = world.call("admin", "POST", "/v1/admin/clients", json=body, headers=key)
    assert made.status_code == 201, made.text
    secret = made.json()["clientSecret"]
    replay = world.call("admin", "POST", "/v1/admin/clients", json=body, headers=key)
    assert replay.headers["idempotent-replayed"] == "true"
    assert "clientSecret" not in replay.json() and secret not in replay.text
    assert replay.json()["clientId"] == made.json()["clientId"]
    listed = world.call("admin", "GET", "/v1/admin/clients").text
    assert made.json()["clientId"] in listed and secret not in listed
    token = world.client.post(
        "/oauth/token",
        auth=(made.json()["clientId"], secret),
        data={"grant_type": "client_credentials"},
    )
    assert token.status_code == 200
    gone = world.call("admin", "DELETE", f"/v1/admin/clients/{made.json()['clientId']}")
    assert gone.status_code == 204
    refused = world.client.post(
        "/oauth/token",
        auth=(made.json()["clientId"], secret),
        data={"grant_type": "client_credentials"},
    )
    assert refused.status_code == 401


def test_admin_routes_need_an_administrator(world: World) -> None:
    assert world.call("provider", "GET", "/v1/admin/organisations").status_code == 403
    assert world.call(None, "GET", "/v1/admin/organisations").status_code == 401


def test_a_delegation_without_its_service_list_is_refused(world: World) -> None:
    before = world.call("provider", "GET", "/v1/delegations").json()["items"]
    refused = world.call(
        "provider", "POST", "/v1/delegations", json={"vendorId": "org-other_vendor"}
    )
    assert refused.status_code == 422, refused.text
    assert [error["pointer"] for error in refused.json()["errors"]] == ["/serviceIds"]
    assert world.call("provider", "GET", "/v1/delegations").json()["items"] == before
    record = example_record("capacity-snapshot", "svc-p1")
    published = world.call("other_vendor", "POST", "/v1/records/capacity-snapshot", json=record)
    assert published.status_code == 403


@pytest.mark.parametrize(
    ("party", "path"),
    [
        ("provider", "/v1/services"),
        ("provider", "/v1/delegations"),
        ("admin", "/v1/admin/organisations"),
        ("admin", "/v1/admin/clients"),
    ],
)
def test_directory_lists_page_by_token(world: World, party: str, path: str) -> None:
    another = {"vendorId": "org-other_vendor", "serviceIds": ["svc-p2"]}
    assert world.call("provider", "POST", "/v1/delegations", json=another).status_code == 201
    everything = world.call(party, "GET", path).json()
    assert everything["nextPageToken"] is None and len(everything["items"]) >= 2
    walked: list[Any] = []
    url = f"{path}?page_size=1"
    while url:
        page = world.call(party, "GET", url).json()
        assert len(page["items"]) == 1
        walked += page["items"]
        url = (
            f"{path}?page_size=1&page_token={page['nextPageToken']}"
            if page["nextPageToken"]
            else ""
        )
    assert walked == everything["items"]
    foreign = paging.encode_token({"after": "a", "list": "another"})
    refused = world.call(party, "GET", f"{path}?page_token={foreign}")
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_query")


# -------------------------------------------------------------------- provider directory entries

ENTRY = "/v1/organisations/me/directory-entry"


def test_a_provider_stores_its_directory_entry_and_reads_it_back(world: World) -> None:
    before = world.call("provider", "GET", ENTRY)
    assert (before.status_code, before.json()["code"]) == (404, "not_found")
    entry = provider_entry()
    stored = world.call("provider", "PUT", ENTRY, json=entry)
    assert stored.status_code == 200, stored.text
    assert stored.json() == entry
    assert stored.headers["x-request-id"]
    assert world.call("provider", "GET", ENTRY).json() == entry
    renamed = provider_entry(name="Aire Valley Care Group")
    assert world.call("provider", "PUT", ENTRY, json=renamed).json() == renamed
    assert world.call("provider", "GET", ENTRY).json() == renamed


@pytest.mark.parametrize("party", ["subscriber", "vendor", "admin", "no_scope"])
def test_only_a_provider_has_a_directory_entry(world: World, party: str) -> None:
    organisation_id = world[party].organisation_id
    for method, kwargs in (("GET", {}), ("PUT", {"json": provider_entry(organisation_id)})):
        refused = world.call(party, method, ENTRY, **kwargs)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] in {"forbidden", "insufficient_scope"}
    assert world.call(None, "GET", ENTRY).status_code == 401


def test_a_commissioner_with_the_services_scope_is_still_forbidden(
    world: World, app: FastAPI
) -> None:
    """The refusal is for the kind of organisation, not only for a scope it lacks."""
    with transaction(app.state.sessions) as session:
        made, secret = clients.create_client(
            session,
            "org-subscriber",
            "services client",
            ["services"],
            AuthMethod.CLIENT_SECRET_BASIC,
        )
    assert secret is not None
    token = world.client.post(
        "/oauth/token",
        auth=(made.client_id, secret),
        data={"grant_type": "client_credentials"},
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    for method, body in (("GET", None), ("PUT", provider_entry("org-subscriber"))):
        refused = world.client.request(method, ENTRY, headers=auth, json=body)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), refused.text


def test_the_entry_must_carry_the_callers_organisation_id(world: World) -> None:
    refused = world.call("provider", "PUT", ENTRY, json=provider_entry("org-other_provider"))
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_failed")
    assert [error["pointer"] for error in refused.json()["errors"]] == ["/id"]
    assert world.call("provider", "GET", ENTRY).status_code == 404
    assert world.call("other_provider", "GET", ENTRY).status_code == 404


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        (provider_entry(organisationType="plc"), ["/organisationType"]),
        (provider_entry(identifiers=[]), ["/identifiers"]),
        (provider_entry(colour="blue"), ["/colour"]),
        ({k: v for k, v in provider_entry().items() if k != "legalName"}, ["/legalName"]),
        (
            provider_entry(registeredAddress={"locality": "Shipley"}, website="airevalley"),
            ["/registeredAddress/postcode", "/website"],
        ),
        ([provider_entry()], [""]),
        ("provider", [""]),
    ],
)
def test_an_invalid_entry_is_a_422_naming_each_field_and_changes_nothing(
    world: World, body: Any, pointers: list[str]
) -> None:
    entry = provider_entry()
    assert world.call("provider", "PUT", ENTRY, json=entry).status_code == 200
    refused = world.call("provider", "PUT", ENTRY, json=body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "validation_failed"
    assert sorted({error["pointer"] for error in refused.json()["errors"]}) == pointers
    assert world.call("provider", "GET", ENTRY).json() == entry


def test_one_provider_never_sees_nor_changes_anothers_entry(world: World) -> None:
    mine = provider_entry()
    assert world.call("provider", "PUT", ENTRY, json=mine).status_code == 200
    assert world.call("other_provider", "GET", ENTRY).status_code == 404
    theirs = provider_entry("org-other_provider", name="Other Care")
    assert world.call("other_provider", "PUT", ENTRY, json=theirs).status_code == 200
    assert world.call("other_provider", "GET", ENTRY).json() == theirs
    assert world.call("provider", "GET", ENTRY).json() == mine
    overwrite = world.call("other_provider", "PUT", ENTRY, json=provider_entry(name="Taken"))
    assert overwrite.status_code == 422
    assert world.call("provider", "GET", ENTRY).json() == mine
