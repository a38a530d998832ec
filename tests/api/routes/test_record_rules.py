"""The standard's rules on the server: errors refuse a record with pointers, warnings come back."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from sqlalchemy import update

from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Service
from tests.api.world import World, example_record

TYPE = "capacity-snapshot"
BASE = f"/v1/records/{TYPE}"


def _row_not_adding_up(record: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(record)
    broken["beds"][0]["occupied"] -= 1
    return broken


def test_a_record_breaking_a_rule_is_refused_with_the_rule_and_nothing_is_stored(
    world: World,
) -> None:
    record = _row_not_adding_up(example_record(TYPE, "svc-p1"))
    refused = world.call("provider", "POST", BASE, json=record)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error == {
        "pointer": "/beds/0/places",
        "keyword": "rule",
        "rule": "capacity-snapshot/row-adds-up",
        "message": error["message"],
        "docs": "https://care-exchange.org/docs/reference/capacity-snapshot#rule-row-adds-up",
    }
    assert "do not add up" in error["message"]
    assert world.call("provider", "GET", f"{BASE}/{record['id']}").status_code == 404


def test_rules_see_the_records_service(app: FastAPI, world: World) -> None:
    """A capacity snapshot is for a care home: the server knows the service, so it can tell."""
    with transaction(app.state.sessions) as session:
        service = session.get(Service, "svc-p2")
        assert service is not None
        document = {**service.document, "serviceType": "care-at-home"}
        session.execute(update(Service).where(Service.id == "svc-p2").values(document=document))
    refused = world.call("provider", "POST", BASE, json=example_record(TYPE, "svc-p2"))
    assert refused.status_code == 422, refused.text
    assert [e["rule"] for e in refused.json()["errors"]] == ["capacity-snapshot/care-home-only"]
    assert (
        world.call("provider", "POST", BASE, json=example_record(TYPE, "svc-p1")).status_code == 201
    )


def test_warnings_come_back_with_the_accepted_record(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    row = record["beds"][0]
    row["occupied"] -= 1
    row["vacantNotAvailable"] += 1
    row["notAvailableReasons"] = [
        *row.get("notAvailableReasons", []),
        {"reason": "swimming-pool-flooded", "places": 1},
    ]
    accepted = world.call("provider", "POST", BASE, json=record)
    assert accepted.status_code == 201, accepted.text
    [warning] = accepted.json()["warnings"]
    assert (warning["pointer"], warning["keyword"]) == (
        "/beds/0/notAvailableReasons/1/reason",
        "codelist",
    )
    read = world.call("provider", "GET", f"{BASE}/{record['id']}").json()
    assert "warnings" not in read
    assert read["data"] == record


def test_bulk_answers_rules_item_by_item(world: World) -> None:
    good = example_record(TYPE, "svc-p1")
    broken = _row_not_adding_up(example_record(TYPE, "svc-p1"))
    answer = world.call("provider", "POST", "/v1/bulk", json={"records": [good, broken]})
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201, 422]
    assert "warnings" not in results[0]
    assert results[1]["problem"]["errors"][0]["rule"] == "capacity-snapshot/row-adds-up"


def test_a_new_version_breaking_a_rule_leaves_the_stored_one(world: World) -> None:
    record = example_record(TYPE, "svc-p1")
    created = world.call("provider", "POST", BASE, json=record)
    assert created.status_code == 201
    path = f"{BASE}/{record['id']}"
    refused = world.call(
        "provider",
        "PUT",
        path,
        json=_row_not_adding_up(record),
        headers={"If-Match": created.headers["etag"]},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["rule"] == "capacity-snapshot/row-adds-up"
    current = world.call("provider", "GET", path).json()
    assert (current["version"], current["data"]) == (1, record)
