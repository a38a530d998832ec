"""The rules of services.return_templates, on both databases: whose templates a provider sees
(agreements in force only), which records a return may use, and the one compiling thread."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from care_exchange_server.auth.principal import Principal
from care_exchange_server.problems import ProblemError
from care_exchange_server.services import return_templates
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Agreement
from tests.api.routes.test_return_templates import ID, OCTOBER, publish_october, template
from tests.api.world import READ, World

SHIPPED: dict[str, Any] = {}


def principal(organisation: str, kind: str, scopes: list[str]) -> Principal:
    return Principal(
        client_id=f"cli-{organisation}",
        organisation_id=organisation,
        organisation_kind=kind,
        scopes=frozenset([*scopes, "returns"]),
        jti="jti",
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )


PROVIDER = principal("org-provider", "provider", [])


def visible_to_provider(app: FastAPI) -> list[str]:
    with app.state.read_sessions() as session:
        page = return_templates.list_for(session, PROVIDER, None, 50, None, SHIPPED)
    return [version.template.id for version in page.items]


@pytest.mark.parametrize(
    "ended",
    [
        {"status": "revoked"},
        {"end_date": date.today() - timedelta(days=1)},  # lapsed, still marked active
    ],
)
def test_a_provider_sees_a_subscribers_templates_only_while_an_agreement_is_in_force(
    app: FastAPI, world: World, ended: dict[str, Any]
) -> None:
    assert (
        world.call("subscriber", "POST", "/v1/return-templates", json=template()).status_code == 201
    )
    assert visible_to_provider(app) == [ID]
    with transaction(app.state.sessions) as session:
        session.execute(update(Agreement).where(Agreement.id == "agr-subscriber").values(**ended))
    assert visible_to_provider(app) == []
    with app.state.read_sessions() as session, pytest.raises(ProblemError) as hidden:
        return_templates.get(session, PROVIDER, ID, None, SHIPPED)
    assert hidden.value.code == "not_found"


def test_a_return_uses_only_the_types_the_subscriber_has_the_read_scope_for(
    app: FastAPI, world: World
) -> None:
    """agr-subscriber covers every type; a token reading workforce snapshots only is planned
    no capacity snapshot, and names the agreement for the workforce snapshot alone."""
    publish_october(world)
    assert (
        world.call("subscriber", "POST", "/v1/return-templates", json=template()).status_code == 201
    )
    narrow = principal("org-subscriber", "commissioner", ["workforce-snapshot:read"])
    full = principal("org-subscriber", "commissioner", READ)
    with app.state.read_sessions() as session:
        plans = {
            name: return_templates.plan(session, who, ID, None, "svc-p1", "2026-10", SHIPPED)
            for name, who in (("narrow", narrow), ("full", full))
        }
    assert {record.record_id for record in plans["narrow"].records} == {"wf-oct"}
    assert list(plans["narrow"].grants) == ["workforce-snapshot"]
    assert {record.record_id for record in plans["full"].records} == {
        "cap-oct-03",
        "cap-oct-28",
        "cap-nov-02",
        "wf-oct",
    }


def test_a_retracted_record_fills_nothing(app: FastAPI, world: World) -> None:
    publish_october(world)
    assert (
        world.call("subscriber", "POST", "/v1/return-templates", json=template()).status_code == 201
    )
    gone = world.call(
        "provider",
        "DELETE",
        "/v1/records/capacity-snapshot/cap-oct-28",
        headers={"If-Match": '"1"'},
    )
    assert gone.status_code == 204, gone.text
    filled = world.call("subscriber", "GET", f"/v1/return-templates/{ID}/returns", params=OCTOBER)
    by_code = {item["code"]: item["value"] for item in filled.json()["fields"]}
    assert (by_code["SNAPSHOTS"], by_code["OCC"]) == (1, 52)


def test_every_compilation_off_the_main_thread_runs_on_one_thread_that_outlives_its_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Compiling on fresh pool threads crashed a server: callers hand their JSONata over."""
    import jsonatapy

    from care_exchange_standard import jsonata_thread

    seen: list[int] = []
    real = jsonatapy.compile

    def watched(expression: str) -> object:
        seen.append(threading.get_ident())
        return real(expression)

    monkeypatch.setattr(jsonatapy, "compile", watched)
    callers = []
    for number in range(3):
        caller = threading.Thread(target=jsonata_thread.check, args=(f"{number} + 0.5",))
        caller.start()
        caller.join()
        callers.append(caller.ident)
    assert len(set(seen)) == 1
    assert seen[0] not in (*callers, threading.get_ident())
