"""The spec held to every request: parameters, bodies, their order against the token, and routes.

Each case is a defect the hardening review found on a live server, pinned on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute

from care_exchange_server.contract import Contract, load_contract
from care_exchange_server.problems import ProblemError
from care_exchange_standard.spec import Spec
from tests.api.world import World, published_example

RECEIPTS = "/v1/access-receipts"


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router, kept whole by FastAPI
            yield from _api_routes(route.original_router.routes)


def test_every_route_is_an_operation_of_the_spec_and_every_operation_a_route(app: FastAPI) -> None:
    routes = {
        (method, route.path) for route in _api_routes(app.routes) for method in route.methods or ()
    }
    contract = load_contract()
    for method, path in routes:
        assert contract.operation(method, path) is not None, (method, path)
    assert len(contract.operations) == len(routes)


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/v1/services?page_size=abc", "page_size"),
        ("/v1/services?page_token=garbage", "page_token"),
        ("/v1/agreements?page_size=0", "page_size"),
        ("/v1/agreements?page_token=", "page_token"),
        ("/v1/delegations?page_size=201", "page_size"),
        ("/v1/feedback?page_size=1.0", "page_size"),
        (f"{RECEIPTS}?until=-1", "until"),
        (f"{RECEIPTS}?until=99", "until"),
        (f"{RECEIPTS}?until=0.5", "until"),
        (f"{RECEIPTS}?since=yesterday", "since"),
        (f"{RECEIPTS}?since=2026-11-29T10:00:00", "since"),
        (f"{RECEIPTS}?serviceId=a%00b", "serviceId"),
        (f"{RECEIPTS}/summary?subscriberId=", "subscriberId"),
        ("/v1/feed/capacity-snapshot?after=-1", "after"),
        ("/v1/feed/capacity-snapshot?after=007", "after"),
        ("/v1/feed/capacity-snapshot?after=1&after=2", "after"),
        ("/v1/feed/capacity-snapshot?pageSize=5", "pageSize"),
        ("/v1/records/capacity-snapshot?serviceId=svc-p1&colour=red", "colour"),
    ],
)
def test_parameters_are_parsed_by_their_schema(world: World, path: str, parameter: str) -> None:
    refused = world.call("provider", "GET", path)
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_query"), refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert parameter in [error["parameter"] for error in refused.json()["errors"]]


@pytest.mark.parametrize(
    "path",
    [
        f"{RECEIPTS}?until=9999-12-31T23:59:59-23:59",
        f"{RECEIPTS}/summary?since=0001-01-01T00:00:00%2B01:00",
        f"{RECEIPTS}?since=0001-01-01T00:00:00%2B01:00&until=9999-12-31T23:59:59-23:59",
    ],
)
def test_instants_at_the_ends_of_the_calendar_are_bounds_not_failures(
    world: World, path: str
) -> None:
    published_example(world)
    record = world.call("subscriber", "GET", "/v1/records/capacity-snapshot")
    assert record.status_code == 200
    answer = world.call("provider", "GET", path)
    assert answer.status_code == 200, answer.text
    if "summary" not in path and "since" in path:
        assert answer.json()["items"], "a bound of no bound keeps every receipt"


def test_a_bad_parameter_with_a_bad_token_is_401(world: World) -> None:
    forged = world.client.get(f"{RECEIPTS}?until=-1", headers={"Authorization": "Bearer a.b.c"})
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_token")
    missing = world.client.get("/v1/feed/not-a-type?after=x")
    assert missing.status_code == 401
    assert "www-authenticate" in missing.headers


def test_a_path_that_names_nothing_is_404(world: World) -> None:
    unknown = world.call("provider", "GET", "/v1/feed/not-a-type")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_record_type")
    bad_id = world.call("provider", "GET", "/v1/agreements/a%20b")
    assert (bad_id.status_code, bad_id.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_a_bad_idempotency_key_is_a_header_error(world: World, key: str) -> None:
    refused = world.call(
        "provider", "POST", "/v1/subscriptions", json={}, headers={"Idempotency-Key": key}
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_header")
    assert refused.json()["errors"][0]["parameter"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("action", "party"),
    [("revoke", "provider"), ("decline", "provider"), ("accept", "provider")],
)
def test_an_action_refuses_a_body_and_changes_nothing(
    world: World, action: str, party: str
) -> None:
    requested = world.call(
        "subscriber",
        "POST",
        "/v1/agreements",
        json={
            "providerId": "org-provider",
            "recordTypes": ["capacity-snapshot"],
            "serviceIds": None,
            "purpose": "p",
            "legalBasis": "l",
        },
    ).json()
    path = f"/v1/agreements/{requested['id']}/{action}"
    for body in (b'{"a": ', b"{}", b'{"reason": "x"}'):
        refused = world.call(
            party, "POST", path, content=body, headers={"Content-Type": "application/json"}
        )
        assert (refused.status_code, refused.json()["code"]) == (415, "unsupported_media_type")
    after = world.call(party, "GET", f"/v1/agreements/{requested['id']}").json()
    assert after == requested
    done = world.call(party, "POST", path)
    assert done.status_code == 200, done.text


def test_rotate_secret_refuses_a_body_and_keeps_the_secret(world: World) -> None:
    made = world.call(
        "provider",
        "POST",
        "/v1/subscriptions",
        json={
            "types": ["feedback"],
            "channel": {"type": "webhook", "url": "https://93.184.216.34/h"},
        },
    ).json()
    path = f"/v1/subscriptions/{made['id']}/rotate-secret"
    before = world.call("provider", "GET", f"/v1/subscriptions/{made['id']}").json()
    refused = world.call(
        "provider", "POST", path, content=b'{"a": ', headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 415
    assert world.call("provider", "GET", f"/v1/subscriptions/{made['id']}").json() == before
    rotated = world.call("provider", "POST", path)
    assert rotated.status_code == 200 and rotated.json()["secret"] != made["secret"]


@pytest.mark.parametrize(
    ("raw", "status", "pointer"),
    [
        (b"[" * 256 + b"]" * 256, 400, None),
        (b'{"recordTypes": [' + b"9" * 4301 + b"]}", 400, "/recordTypes/0"),
        (b'{"purpose": "a", "purpose": "b"}', 400, "/purpose"),
        (b'{"purpose": "\\ud800"}', 422, "/purpose"),
        ('{"purpose": "x"}'.encode("utf-16"), 400, None),
        (b'{"endDate": 1e999}', 400, "/endDate"),
    ],
)
def test_hostile_json_is_a_4xx_on_every_body(
    world: World, raw: bytes, status: int, pointer: str | None
) -> None:
    for path in ("/v1/agreements", "/v1/records/capacity-snapshot", "/v1/bulk", "/v1/feedback"):
        refused = world.call(
            "provider", "POST", path, content=raw, headers={"Content-Type": "application/json"}
        )
        assert refused.status_code == status, (path, refused.text)
        found = [error["pointer"] for error in refused.json().get("errors", [])]
        assert found == ([pointer] if pointer else []), (path, refused.text)


def test_text_with_a_lone_surrogate_is_refused_before_it_is_stored(world: World) -> None:
    record = published_example(world)
    for changed, pointer in (({"id": "\ud800"}, "/id"), ({"notes": "a\udc00b"}, "/notes")):
        body = {**record, **changed}
        refused = world.call(
            "provider",
            "POST",
            "/v1/records/capacity-snapshot",
            content=_ascii_json(body),
            headers={"Content-Type": "application/json"},
        )
        assert (refused.status_code, refused.json()["errors"][0]["pointer"]) == (422, pointer)
    read = world.call("subscriber", "GET", f"/v1/records/capacity-snapshot/{record['id']}")
    assert read.status_code == 200 and read.json()["version"] == 1


def _ascii_json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=True).encode()


def test_405_names_every_method_the_path_allows(world: World) -> None:
    refused = world.call("admin", "PUT", "/v1/admin/clients")
    assert refused.status_code == 405
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["allow"] == "GET, POST"


def test_a_spec_that_requires_a_query_parameter_gets_it_required(tmp_path: Path) -> None:
    """No operation of v1 requires one yet; a later one that does is held to it by the same code."""
    spec = {
        "openapi": "3.1.0",
        "paths": {
            "/v1/things/{thingId}": {
                "get": {
                    "operationId": "getThing",
                    "security": [{"oauth2": []}],
                    "parameters": [
                        {
                            "name": "thingId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^t-"},
                        },
                        {
                            "name": "at",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "format": "date"},
                        },
                    ],
                }
            }
        },
    }
    document = tmp_path / "openapi.yaml"
    document.write_text(yaml.safe_dump(spec), encoding="utf-8")
    operation = Contract(Spec(document)).operation("GET", "/v1/things/{thing_id}")
    assert operation is not None and operation.secured
    with pytest.raises(ProblemError) as missing:
        operation.check_parameters([], {"thing_id": "t-1"}, {})
    assert (missing.value.status, missing.value.errors[0].parameter) == (400, "at")
    with pytest.raises(ProblemError) as not_a_date:
        operation.check_parameters([("at", "2026-02-30")], {"thing_id": "t-1"}, {})
    assert not_a_date.value.errors[0].parameter == "at"
    with pytest.raises(ProblemError) as no_thing:
        operation.check_parameters([("at", "2026-02-28")], {"thing_id": "x"}, {})
    assert (no_thing.value.status, no_thing.value.code) == (404, "not_found")
    operation.check_parameters([("at", "2026-02-28")], {"thing_id": "t-1"}, {})
