"""Return templates over the API, on SQLite and PostgreSQL: who declares, who sees, who fills.

The template and records are small enough to work the values out by hand: three capacity
snapshots of svc-p1 (two in October 2026) and one workforce snapshot of October.

- October's last snapshot (28th): registered places 60, occupied 30 + 10 + 1 = 41.
- The 3rd's snapshot: occupied 36 + 15 + 1 = 52; the mean over October is (52 + 41) / 2 = 46.5.
- The workforce snapshot's date is 2026-10-31.
"""

from __future__ import annotations

import copy
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from care_exchange_server.app import create_app, dispose
from care_exchange_server.problems import ProblemError
from care_exchange_server.routes.return_templates import negotiate
from care_exchange_server.settings import Settings
from care_exchange_server.storage.models import ReturnTemplate, ReturnTemplateVersion
from care_exchange_standard.returns import load_template, shipped_templates
from care_exchange_standard.tables.xlsx import Workbook
from care_exchange_testing.live_server import live_server
from tests.api.world import World, example_record, provider_entry
from tests.conftest import EXAMPLES

BASE = "/v1/return-templates"
ID = "occupancy-and-staff"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OCTOBER = {"serviceId": "svc-p1", "period": "2026-10"}
# What October's return of svc-p1 must say, field by field: (status, value).
EXPECTED = {
    "REG": ("value", 60),
    "OCC": ("value", 41),
    "AVG_OCC": ("value", 46.5),
    "SNAPSHOTS": ("value", 2),
    "STAFF_AS_AT": ("value", "2026-10-31"),
    "ISOLATION": ("unmapped", None),
}
USED = {"cap-oct-03", "cap-oct-28", "wf-oct"}
# Runs until JSONata's own timeout (the field's limit) stops it.
LOOP = "($loop := function($n){ $n > 0 ? $loop($n + 1) : 0 }; $loop(1))"


def field(code: str, expression: str, depends_on: list[str], value_type: str = "integer") -> Any:
    return {
        "code": code,
        "label": f"The return's question {code}",
        "valueType": value_type,
        "expression": expression,
        "dependsOn": depends_on,
        "match": "derived",
    }


def template(template_id: str = ID, version: str = "1.0.0", **changes: Any) -> dict[str, Any]:
    """A monthly return over capacity and workforce snapshots, one field of each status."""
    document: dict[str, Any] = {
        "templateType": "return-template",
        "id": template_id,
        "version": version,
        "title": "Occupancy and staff",
        "owner": {"name": "Example HSCP"},
        "recordTypes": ["capacity-snapshot", "workforce-snapshot"],
        "period": {"kind": "month"},
        "fields": [
            field(
                "REG",
                "capacitySnapshot[-1].registeredPlaces",
                ["capacity-snapshot/registeredPlaces"],
            ),
            field(
                "OCC",
                "$sum(capacitySnapshot[-1].beds.occupied)",
                ["capacity-snapshot/beds/occupied"],
            ),
            field(
                "AVG_OCC",
                "$average(capacitySnapshot.$sum(beds.occupied))",
                ["capacity-snapshot/beds/occupied"],
                "number",
            ),
            field("SNAPSHOTS", "$count(capacitySnapshot)", ["capacity-snapshot/id"]),
            field(
                "STAFF_AS_AT",
                "workforceSnapshot[-1].asAt",
                ["workforce-snapshot/asAt"],
                "date",
            ),
            {
                "code": "ISOLATION",
                "label": "Places closed for infection control",
                "valueType": "integer",
                "match": "unmapped",
                "reason": "The standard does not yet separate closures for infection control.",
            },
        ],
    }
    return document | changes


def capacity(record_id: str, as_at: str, occupied: tuple[int, int, int]) -> dict[str, Any]:
    """The example nursing home's snapshot (places 40, 16 and 2) with other occupancy.

    The places accepting admissions make up the difference, so each row still adds up.
    """
    example = EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json"
    record: dict[str, Any] = copy.deepcopy(json.loads(example.read_text()))
    record |= {"id": record_id, "asAt": as_at, "serviceId": "svc-p1"}
    for row, taken in zip(record["beds"], occupied, strict=True):
        row["occupied"] = taken
        row["vacantAcceptingAdmissions"] = (
            row["places"] - taken - row["vacantReserved"] - row["vacantNotAvailable"]
        )
    return record


def publish(world: World, record: dict[str, Any], party: str = "provider") -> None:
    response = world.call(party, "POST", f"/v1/records/{record['recordType']}", json=record)
    assert response.status_code == 201, response.text


def publish_october(world: World) -> None:
    publish(world, capacity("cap-oct-28", "2026-10-28T09:00:00+00:00", (30, 10, 1)))
    publish(world, capacity("cap-oct-03", "2026-10-03T09:00:00+01:00", (36, 15, 1)))
    publish(world, capacity("cap-nov-02", "2026-11-02T09:00:00Z", (38, 16, 1)))
    staff = example_record("workforce-snapshot", "svc-p1", "wf-oct")
    publish(world, staff | {"asAt": "2026-10-31T17:00:00+00:00"})


def create(world: World, party: str, document: dict[str, Any]) -> Any:
    return world.call(party, "POST", BASE, json=document)


def created(world: World, party: str = "subscriber", **changes: Any) -> dict[str, Any]:
    response = create(world, party, template(**changes))
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def values(filled: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {item["code"]: (item["status"], item["value"]) for item in filled["fields"]}


def receipts(world: World, subscriber: str) -> list[dict[str, Any]]:
    query = {"subscriberId": world[subscriber].organisation_id}
    response = world.call("provider", "GET", "/v1/access-receipts", params=query)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def listed(world: World, party: str, **query: Any) -> list[str]:
    """Every template id the party's listing shows, page by page (one item a page)."""
    found: list[str] = []
    params: dict[str, Any] = {"page_size": 1, **query}
    for _ in range(50):
        response = world.call(party, "GET", BASE, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        found += [item["id"] for item in page["items"]]
        if page["nextPageToken"] is None:
            return found
        params["page_token"] = page["nextPageToken"]
    raise AssertionError("the listing did not end")


# -------------------------------------------------------------------- declaring and versions


def test_a_subscriber_declares_a_template_and_its_versions_stay_readable(world: World) -> None:
    made = created(world)
    assert made["id"] == ID and made["version"] == "1.0.0"
    assert (made["ownerId"], made["shipped"]) == ("org-subscriber", False)
    assert made["template"]["owner"] == {"name": "Example HSCP", "organisationId": "org-subscriber"}
    assert made["createdAt"].endswith("Z")
    assert world.call("subscriber", "GET", f"{BASE}/{ID}").json() == made

    second = template(version="1.10.0", title="Occupancy and staff (revised)")
    added = world.call("subscriber", "POST", f"{BASE}/{ID}/versions", json=second)
    assert added.status_code == 201, added.text
    assert added.headers["location"] == f"{BASE}/{ID}?version=1.10.0"
    latest = world.call("subscriber", "GET", f"{BASE}/{ID}").json()
    assert (latest["version"], latest["template"]["title"]) == ("1.10.0", second["title"])
    first = world.call("subscriber", "GET", f"{BASE}/{ID}", params={"version": "1.0.0"})
    assert first.json() == made
    versions = world.call("subscriber", "GET", f"{BASE}/{ID}/versions").json()
    assert [item["version"] for item in versions["items"]] == ["1.0.0", "1.10.0"]
    missing = world.call("subscriber", "GET", f"{BASE}/{ID}", params={"version": "9.9.9"})
    assert missing.status_code == 404


@pytest.mark.parametrize("version", ["1.10.0", "1.9.9", "0.1.0"])
def test_a_new_version_must_be_greater_than_the_latest(world: World, version: str) -> None:
    """Compared as semantic versions: 1.9.9 is below 1.10.0, which text order would miss."""
    created(world)
    newer = template(version="1.10.0")
    assert world.call("subscriber", "POST", f"{BASE}/{ID}/versions", json=newer).status_code == 201
    refused = world.call(
        "subscriber", "POST", f"{BASE}/{ID}/versions", json=template(version=version)
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "conflict"), refused.text
    assert "1.10.0" in refused.json()["detail"]
    assert refused.json()["errors"][0]["pointer"] == "/version"


def test_a_new_version_keeps_the_id_and_only_the_owner_adds_one(world: World) -> None:
    created(world)
    moved = template(template_id="elsewhere", version="2.0.0")
    refused = world.call("subscriber", "POST", f"{BASE}/{ID}/versions", json=moved)
    assert (refused.status_code, refused.json()["errors"][0]["pointer"]) == (422, "/id")
    newer = template(version="2.0.0")
    # The provider sees the template (it has an agreement with its owner) but does not own it.
    by_provider = world.call("provider", "POST", f"{BASE}/{ID}/versions", json=newer)
    assert (by_provider.status_code, by_provider.json()["code"]) == (403, "forbidden")
    by_stranger = world.call("other_subscriber", "POST", f"{BASE}/{ID}/versions", json=newer)
    assert (by_stranger.status_code, by_stranger.json()["code"]) == (404, "not_found")
    assert world.call("subscriber", "GET", f"{BASE}/{ID}").json()["version"] == "1.0.0"


def test_every_problem_of_a_template_is_a_422_with_its_pointer(world: World) -> None:
    document = template()
    document["fields"][0]["expression"] = "$eval('capacitySnapshot[-1].registeredPlaces')"
    document["fields"][1] |= {
        "expression": "capacitySnapshot[-1].noSuchField",
        "dependsOn": ["capacity-snapshot/noSuchField"],
    }
    refused = create(world, "subscriber", document)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    errors = refused.json()["errors"]
    pointers = {error["pointer"] for error in errors}
    assert "/fields/0/expression" in pointers
    assert {"/fields/1/expression", "/fields/1/dependsOn/0"} & pointers
    said = " ".join(error["message"] for error in errors)
    assert "$eval" in said and "noSuchField" in said
    assert world.call("subscriber", "GET", f"{BASE}/{ID}").status_code == 404


def test_a_body_that_is_no_template_is_a_422_never_a_500(world: World) -> None:
    bodies: list[Any] = [[], {"id": "x"}, template(version="one")]
    for body in bodies:
        refused = world.call("subscriber", "POST", BASE, json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"], refused.text


def test_a_taken_id_is_a_409_whoever_took_it(world: World) -> None:
    created(world)
    again = create(world, "subscriber", template(version="2.0.0"))
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    elsewhere = create(world, "other_subscriber", template())
    assert (elsewhere.status_code, elsewhere.json()["errors"][0]["pointer"]) == (409, "/id")
    assert "org-subscriber" not in elsewhere.text


def test_providers_fill_returns_but_do_not_declare_them(world: World) -> None:
    refused = create(world, "provider", template())
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")


# -------------------------------------------------------------------- who sees what


def test_the_listing_shows_shipped_own_and_for_a_provider_its_subscribers(world: World) -> None:
    created(world)
    created(world, "other_subscriber", id="other-return")
    shipped = sorted(shipped_templates())
    assert listed(world, "subscriber") == sorted([*shipped, ID])
    assert listed(world, "other_subscriber") == sorted([*shipped, "other-return"])
    # The provider has an agreement with org-subscriber, none with org-other_subscriber.
    assert listed(world, "provider") == sorted([*shipped, ID])
    assert listed(world, "other_provider") == shipped
    assert listed(world, "provider", owner="org-subscriber") == [ID]
    assert listed(world, "provider", owner="org-other_subscriber") == []
    assert listed(world, "subscriber", owner="standard") == shipped


def test_another_tenant_is_never_told_a_template_exists(world: World) -> None:
    publish_october(world)
    created(world)
    for party in ("other_subscriber", "other_provider"):
        for path, params in (
            (f"{BASE}/{ID}", {}),
            (f"{BASE}/{ID}/versions", {}),
            (f"{BASE}/{ID}/coverage", {}),
            (f"{BASE}/{ID}/returns", OCTOBER),
        ):
            hidden = world.call(party, "GET", path, params=params)
            unknown = world.call(party, "GET", path.replace(ID, "no-such-template"), params=params)
            assert hidden.status_code == unknown.status_code == 404, (party, path)
            assert hidden.json()["detail"].replace(ID, "?") == unknown.json()["detail"].replace(
                "no-such-template", "?"
            )


def test_coverage_counts_the_fields_by_how_they_are_filled(world: World) -> None:
    created(world)
    found = world.call("provider", "GET", f"{BASE}/{ID}/coverage")
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["fields"], body["exact"], body["derived"], body["unmapped"]) == (6, 0, 5, 1)
    assert body["mappedShare"] == round(5 / 6, 4)
    assert [item["code"] for item in body["unmappedFields"]] == ["ISOLATION"]
    assert body["template"] == {"id": ID, "version": "1.0.0", "title": "Occupancy and staff"}


# -------------------------------------------------------------------- retiring


def _answers(world: World, party: str, template_id: str) -> dict[str, tuple[int, str]]:
    """Status and detail (the id blanked) of every operation on one template, as `party`."""
    calls: tuple[tuple[str, str, dict[str, str] | None], ...] = (
        ("GET", "", {}),
        ("GET", "/versions", {}),
        ("GET", "/coverage", {}),
        ("GET", "/returns", OCTOBER),
        ("POST", "/versions", None),
        ("DELETE", "", {}),
    )
    found: dict[str, tuple[int, str]] = {}
    for method, tail, params in calls:
        options: dict[str, Any] = {"params": params} if params is not None else {}
        if method == "POST":
            options = {"json": template(template_id=template_id, version="9.0.0")}
        answer = world.call(party, method, f"{BASE}/{template_id}{tail}", **options)
        detail = answer.json()["detail"] if answer.status_code >= 400 else ""
        found[f"{method} {tail}"] = (answer.status_code, detail.replace(template_id, "?"))
    return found


def test_the_owner_retires_its_template_and_then_it_is_as_if_unknown(world: World) -> None:
    publish_october(world)
    created(world)
    assert (
        world.call(
            "subscriber", "POST", f"{BASE}/{ID}/versions", json=template(version="1.1.0")
        ).status_code
        == 201
    )
    before = world.call("subscriber", "GET", f"{BASE}/{ID}/returns", params=OCTOBER)
    assert before.status_code == 200, before.text
    retired = world.call("subscriber", "DELETE", f"{BASE}/{ID}")
    assert retired.status_code == 204, retired.text
    assert retired.content == b""
    assert "x-request-id" in retired.headers
    for party in ("subscriber", "provider"):
        assert ID not in listed(world, party)
        assert listed(world, party, owner="org-subscriber") == []
        answers = _answers(world, party, ID)
        assert answers == _answers(world, party, "no-such-template"), party
        assert {status for status, _ in answers.values()} == {404}, answers
    # The receipts of the return filled before stay, as the provider's record of who read what.
    assert sorted(item["recordId"] for item in receipts(world, "subscriber")) == sorted(USED)


def test_only_the_owner_retires_and_an_outsider_learns_nothing(world: World) -> None:
    created(world)
    by_provider = world.call("provider", "DELETE", f"{BASE}/{ID}")
    # The provider sees the template (an agreement with its owner) but does not own it.
    assert (by_provider.status_code, by_provider.json()["code"]) == (403, "forbidden")
    for party in ("other_subscriber", "other_provider"):
        hidden = world.call(party, "DELETE", f"{BASE}/{ID}")
        unknown = world.call(party, "DELETE", f"{BASE}/no-such-template")
        read = world.call(party, "GET", f"{BASE}/{ID}")
        assert hidden.status_code == unknown.status_code == read.status_code == 404, party
        assert hidden.json()["detail"].replace(ID, "?") == unknown.json()["detail"].replace(
            "no-such-template", "?"
        )
        assert hidden.json()["detail"] == read.json()["detail"]
    for party in ("vendor", "admin", "no_scope"):
        assert world.call(party, "DELETE", f"{BASE}/{ID}").status_code == 403, party
    assert world.call(None, "DELETE", f"{BASE}/{ID}").status_code == 401
    assert world.call("subscriber", "GET", f"{BASE}/{ID}").status_code == 200


def test_a_retired_id_stays_taken_and_its_rows_are_kept(world: World, app: FastAPI) -> None:
    """Retiring is a soft deletion: the template and its versions stay for audit, so an id
    with a version names one document for good, and the id cannot be declared again."""
    created(world)
    assert world.call("subscriber", "DELETE", f"{BASE}/{ID}").status_code == 204
    again = create(world, "subscriber", template())
    assert (again.status_code, again.json()["code"]) == (409, "conflict"), again.text
    assert again.json()["errors"][0]["pointer"] == "/id"
    assert "retired" in again.json()["detail"]
    elsewhere = create(world, "other_subscriber", template())
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (409, "conflict")
    assert "retired" not in elsewhere.text and "org-subscriber" not in elsewhere.text
    assert create(world, "subscriber", template(template_id=f"{ID}-2")).status_code == 201
    with app.state.sessions() as session:
        row = session.get(ReturnTemplate, ID)
        assert row is not None and row.retired_at is not None
        stored = session.scalars(
            select(ReturnTemplateVersion.version).where(ReturnTemplateVersion.template_id == ID)
        ).all()
        assert stored == ["1.0.0"]


def test_two_retirements_at_once_retire_it_once(world: World) -> None:
    """The row is locked: one of two concurrent DELETEs retires it, the other finds it gone."""
    created(world)
    answers: list[int] = []

    def retire() -> None:
        answers.append(world.call("subscriber", "DELETE", f"{BASE}/{ID}").status_code)

    threads = [threading.Thread(target=retire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [204, 404]


# -------------------------------------------------------------------- filling


def test_a_subscriber_fills_a_return_from_the_records_it_may_read(world: World) -> None:
    publish_october(world)
    created(world)
    filled = world.call("subscriber", "GET", f"{BASE}/{ID}/returns", params=OCTOBER)
    assert filled.status_code == 200, filled.text
    assert filled.headers["content-type"] == "application/json"
    body = filled.json()
    assert values(body) == EXPECTED
    assert body["template"] == {"id": ID, "version": "1.0.0", "title": "Occupancy and staff"}
    assert body["period"] == {
        "kind": "month",
        "designator": "2026-10",
        "start": "2026-10-01",
        "end": "2026-10-31",
    }
    assert body["coverage"] == {"value": 5, "empty": 0, "no-source": 0, "unmapped": 1, "error": 0}
    assert {kind: set(ids) for kind, ids in body["sources"].items()} == {
        "capacity-snapshot": {"cap-oct-03", "cap-oct-28"},
        "workforce-snapshot": {"wf-oct"},
    }
    got = receipts(world, "subscriber")
    assert sorted(item["recordId"] for item in got) == sorted(USED)
    assert {(item["channel"], item["agreementId"]) for item in got} == {
        ("return", "agr-subscriber")
    }
    summary = world.call("provider", "GET", "/v1/access-receipts/summary").json()["subscribers"]
    counts = [(s["recordsReceived"], s["recordsRead"], s["recordsInReturns"]) for s in summary]
    assert counts == [(0, 0, len(USED))]


def test_returns_are_filled_by_a_warm_worker_that_stops_with_the_server(
    world: World, app: FastAPI
) -> None:
    """The first return starts a worker process; the next ones reuse it instead of paying its
    start again; closing the server stops it."""
    publish_october(world)
    created(world)
    for _ in range(3):
        filled = world.call("subscriber", "GET", f"{BASE}/{ID}/returns", params=OCTOBER)
        assert filled.status_code == 200, filled.text
        assert values(filled.json()) == EXPECTED
    (worker,) = app.state.return_pool.idle
    assert worker.started == 1 and worker.pid is not None
    app.state.return_pool.close()
    assert worker.pid is None


def test_records_of_a_type_outside_the_agreement_are_treated_as_unpublished(
    world: World,
) -> None:
    """other_subscriber reads capacity snapshots of svc-p1 only: the workforce field says
    `no-source`, and only the capacity snapshots used leave receipts."""
    publish_october(world)
    terms = {
        "subscriberId": "org-other_subscriber",
        "recordTypes": ["capacity-snapshot"],
        "serviceIds": ["svc-p1"],
        "purpose": "Occupancy monitoring.",
        "legalBasis": "Public task.",
    }
    granted = world.call("provider", "POST", "/v1/agreements", json=terms)
    assert granted.status_code == 201, granted.text
    created(world, "other_subscriber", id="narrow-return")
    filled = world.call("other_subscriber", "GET", f"{BASE}/narrow-return/returns", params=OCTOBER)
    assert filled.status_code == 200, filled.text
    found = values(filled.json())
    assert found["STAFF_AS_AT"] == ("no-source", None)
    assert {code: found[code] for code in ("REG", "OCC", "SNAPSHOTS")} == {
        code: EXPECTED[code] for code in ("REG", "OCC", "SNAPSHOTS")
    }
    assert filled.json()["sources"]["workforce-snapshot"] == []
    got = receipts(world, "other_subscriber")
    assert sorted(item["recordId"] for item in got) == ["cap-oct-03", "cap-oct-28"]
    assert {item["agreementId"] for item in got} == {granted.json()["id"]}
    # Another service of the same provider is not covered by that agreement.
    elsewhere = world.call(
        "other_subscriber",
        "GET",
        f"{BASE}/narrow-return/returns",
        params={"serviceId": "svc-p2", "period": "2026-10"},
    )
    assert elsewhere.status_code == 404


def test_a_subscriber_without_an_agreement_gets_404(world: World) -> None:
    publish_october(world)
    created(world, "other_subscriber", id="other-return")
    for party, template_id, service_id in (
        ("other_subscriber", "other-return", "svc-p1"),  # no agreement at all
        ("subscriber", ID, "svc-q1"),  # an agreement with another provider only
    ):
        if template_id == ID:
            created(world)
        refused = world.call(
            party,
            "GET",
            f"{BASE}/{template_id}/returns",
            params={"serviceId": service_id, "period": "2026-10"},
        )
        unknown = world.call(
            party,
            "GET",
            f"{BASE}/{template_id}/returns",
            params={"serviceId": "svc-nowhere", "period": "2026-10"},
        )
        assert refused.status_code == unknown.status_code == 404, refused.text
        assert refused.json()["detail"].replace(service_id, "?") == unknown.json()[
            "detail"
        ].replace("svc-nowhere", "?")
    assert receipts(world, "other_subscriber") == []


def test_a_provider_previews_every_return_its_data_fills(world: World) -> None:
    publish_october(world)
    created(world)
    for template_id in listed(world, "provider"):
        if template_id != ID:
            continue  # shipped templates are previewed in test_shipped_templates_...
        preview = world.call("provider", "GET", f"{BASE}/{template_id}/returns", params=OCTOBER)
        assert preview.status_code == 200, preview.text
        assert values(preview.json()) == EXPECTED
    assert receipts(world, "provider") == []
    other = world.call(
        "provider",
        "GET",
        f"{BASE}/{ID}/returns",
        params={"serviceId": "svc-q1", "period": "2026-10"},
    )
    assert other.status_code == 404


def test_the_return_comes_as_csv_or_xlsx_by_accept_and_406_otherwise(world: World) -> None:
    publish_october(world)
    created(world)
    path = f"{BASE}/{ID}/returns"

    def ask(accept: str) -> Any:
        return world.call("subscriber", "GET", path, params=OCTOBER, headers={"Accept": accept})

    as_csv = ask("text/csv")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines() == [
        "REG,OCC,AVG_OCC,SNAPSHOTS,STAFF_AS_AT,ISOLATION",
        "60,41,46.5,2,2026-10-31,",
    ]
    as_xlsx = ask(XLSX)
    assert (as_xlsx.status_code, as_xlsx.headers["content-type"]) == (200, XLSX)
    book = Workbook(io.BytesIO(as_xlsx.content))
    rows = [
        {column: getattr(raw, "value", raw) for column, raw in cells.items()}
        for _, cells in book.rows("Return")
    ]
    used = [cells for _, cells in book.rows("Records used")]
    book.close()
    assert {0: "Period", 1: "2026-10"} in rows
    assert {0: "OCC", 1: "The return's question OCC", 4: 41, 5: "value"} in rows
    assert len(used) == 1 + len(USED)
    assert ask("text/*").headers["content-type"].startswith("text/csv")
    assert ask("text/csv;q=0.5, application/json").headers["content-type"] == "application/json"
    assert ask("*/*").headers["content-type"] == "application/json"
    assert ask("text/csv;q=0, text/*").status_code == 406
    for refused_type in ("application/xml", "text/csv;q=0", "image/*"):
        refused = ask(refused_type)
        assert (refused.status_code, refused.json()["code"]) == (406, "not_acceptable")
        assert "text/csv" in refused.json()["detail"]


@pytest.mark.parametrize("period", ["2026-13", "October", "2026-Q1", "2026-10-31"])
def test_a_period_of_the_wrong_form_is_400_naming_the_parameter(world: World, period: str) -> None:
    created(world)
    refused = world.call(
        "subscriber",
        "GET",
        f"{BASE}/{ID}/returns",
        params={"serviceId": "svc-p1", "period": period},
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_query"), refused.text
    (error,) = refused.json()["errors"]
    assert error["parameter"] == "period"
    assert "write it like 2026-10" in error["message"]


def test_serviceid_and_period_are_required(world: World) -> None:
    created(world)
    refused = world.call("subscriber", "GET", f"{BASE}/{ID}/returns")
    assert refused.status_code == 400
    assert {error["parameter"] for error in refused.json()["errors"]} == {"serviceId", "period"}


def test_an_event_return_names_its_event_and_an_unknown_one_is_404(world: World) -> None:
    event = example_record("notifiable-event", "svc-p1", "evt-fall")
    publish(world, event)
    document = template(
        id="event-return",
        recordTypes=["notifiable-event"],
        period={"kind": "event"},
        fields=[
            field("TYPE", "notifiableEvent[0].eventType", ["notifiable-event/eventType"], "string")
        ],
    )
    assert create(world, "subscriber", document).status_code == 201
    path = f"{BASE}/event-return/returns"
    found = world.call(
        "subscriber", "GET", path, params={"serviceId": "svc-p1", "period": "evt-fall"}
    )
    assert found.status_code == 200, found.text
    assert values(found.json()) == {"TYPE": ("value", event["eventType"])}
    assert found.json()["period"]["asAt"]
    unknown = world.call(
        "subscriber", "GET", path, params={"serviceId": "svc-p1", "period": "evt-x"}
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


# -------------------------------------------------------------------- shipped templates


def test_shipped_templates_are_listed_readable_and_read_only(world: World) -> None:
    """Holds for whatever the standard ships, none included."""
    shipped = shipped_templates()
    assert listed(world, "subscriber", owner="standard") == sorted(shipped)
    for template_id, found in shipped.items():
        read = world.call("provider", "GET", f"{BASE}/{template_id}")
        assert read.status_code == 200, read.text
        assert (read.json()["shipped"], read.json()["ownerId"]) == (True, None)
        assert read.json()["template"] == dict(found.document)
        versions = world.call("subscriber", "GET", f"{BASE}/{template_id}/versions").json()
        assert [item["version"] for item in versions["items"]] == [found.version]
        coverage = world.call("subscriber", "GET", f"{BASE}/{template_id}/coverage")
        assert coverage.status_code == 200, coverage.text
        taken = create(world, "subscriber", template(template_id=template_id))
        assert taken.status_code == 409, taken.text
        retired = world.call("subscriber", "DELETE", f"{BASE}/{template_id}")
        assert (retired.status_code, retired.json()["code"]) == (403, "forbidden")


def test_a_server_offers_the_shipped_templates_it_is_given(
    world: World, app: FastAPI, tmp_path: Path
) -> None:
    """A set of shipped templates of the app's own (`app.state.shipped_templates`), read from a
    file as the standard's are: everyone sees it, nobody may take its id or add a version, and
    it fills like any other."""
    document = template(template_id="standard-occupancy", owner={"name": "Care Exchange"})
    path = tmp_path / "standard-occupancy.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    app.state.shipped_templates = {"standard-occupancy": load_template(path)}
    publish_october(world)
    for party in ("subscriber", "other_subscriber", "provider", "other_provider"):
        assert listed(world, party) == ["standard-occupancy"], party
    taken = create(world, "other_subscriber", document)
    assert (taken.status_code, taken.json()["code"]) == (409, "conflict")
    newer = document | {"version": "2.0.0"}
    read_only = world.call("subscriber", "POST", f"{BASE}/standard-occupancy/versions", json=newer)
    assert (read_only.status_code, read_only.json()["code"]) == (403, "forbidden")
    filled = world.call("subscriber", "GET", f"{BASE}/standard-occupancy/returns", params=OCTOBER)
    assert values(filled.json()) == EXPECTED
    assert sorted(item["recordId"] for item in receipts(world, "subscriber")) == sorted(USED)


# -------------------------------------------------------------------- a hostile template


def test_a_looping_expression_fails_its_field_while_the_server_serves_others(
    world: World, settings: Settings
) -> None:
    """Over real HTTP, with the field limit from settings: while two looping fields run their
    two seconds each, other requests are answered meanwhile; then only those fields have failed.
    The limit is long enough that a loaded machine's slow answers still number five in it."""
    limit = 2.0
    limited = settings.model_copy(update={"return_seconds_per_field": limit})
    app = create_app(limited)
    publish_october(world)
    document = template()
    for looping in document["fields"][1:3]:
        looping |= {"expression": LOOP, "dependsOn": ["capacity-snapshot/id"]}
    assert create(world, "subscriber", document).status_code == 201
    auth = world["subscriber"].auth
    outcome: dict[str, Any] = {}
    try:
        with live_server(app) as url, httpx.Client(base_url=url, headers=auth, timeout=60) as slow:

            def fill() -> None:
                started = time.monotonic()
                outcome["response"] = slow.get(f"{BASE}/{ID}/returns", params=OCTOBER)
                outcome["seconds"] = time.monotonic() - started

            filling = threading.Thread(target=fill)
            filling.start()
            time.sleep(0.3)
            answered: list[float] = []
            with httpx.Client(base_url=url, headers=auth, timeout=30) as quick:
                while filling.is_alive() and len(answered) < 20:
                    started = time.monotonic()
                    assert quick.get(BASE).status_code == 200
                    answered.append(time.monotonic() - started)
            filling.join()
            healthy = httpx.get(f"{url}/healthz", timeout=5)
    finally:
        dispose(app)
    # A server held up by the fields would answer a request between them at most: two or three
    # in all. Counted, not timed one by one: on a loaded machine one answer took 1.4 s.
    assert len(answered) >= 5, answered
    response: httpx.Response = outcome["response"]
    assert response.status_code == 200, response.text
    found = values(response.json())
    failed = ("OCC", "AVG_OCC")
    assert [found[code][0] for code in failed] == ["error", "error"]
    assert {code: value for code, value in found.items() if code not in failed} == {
        code: value for code, value in EXPECTED.items() if code not in failed
    }
    for looped in response.json()["fields"][1:3]:
        assert "2000 milliseconds" in looped["message"] or "2 s" in looped["message"], looped
    assert outcome["seconds"] < 2 * (limit + 1.0) + 20  # cut at the limit, not looping on
    assert healthy.status_code == 200


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("text/*", "text/csv"),
        ("text/csv, application/json", "text/csv"),
        (f"{XLSX};q=0.9, text/csv;q=0.8", XLSX),
        ("text/csv;q=0.2, */*;q=0.1", "text/csv"),
        ("text/csv;q=0, text/*", None),
        ("application/json;q=0, */*", "text/csv"),
        ("application/xml", None),
        ("text/csv;q=nonsense", None),
    ],
)
def test_content_negotiation_follows_the_weights(accept: str | None, chosen: str | None) -> None:
    if chosen is None:
        with pytest.raises(ProblemError) as refused:
            negotiate(accept)
        assert refused.value.status == 406
    else:
        assert negotiate(accept) == chosen


# -------------------------------------------------------------------- the provider's entry


def test_returns_read_the_providers_directory_entry_once_it_is_stored(world: World) -> None:
    """ASC-WDS's employer type (ESTTYPE) comes from the provider's entry alone: `no-source`
    until the provider stores it, then its value, for the provider's preview and for an
    entitled subscriber alike; another provider's entry is never read."""
    path = f"{BASE}/asc-wds-workplace-bulk-upload/returns"
    query = {"serviceId": "svc-p1", "period": "2026-10-31"}

    def esttype(party: str) -> tuple[str, Any]:
        response = world.call(party, "GET", path, params=query)
        assert response.status_code == 200, response.text
        return values(response.json())["ESTTYPE"]

    assert esttype("provider") == ("no-source", None)
    assert esttype("subscriber") == ("no-source", None)
    entry = "/v1/organisations/me/directory-entry"
    theirs = provider_entry("org-other_provider", organisationType="local-authority")
    stored = world.call("other_provider", "PUT", entry, json=theirs)
    assert stored.status_code == 200, stored.text
    assert esttype("provider") == ("no-source", None)
    mine = provider_entry()
    stored = world.call("provider", "PUT", entry, json=mine)
    assert stored.status_code == 200, stored.text
    assert esttype("provider") == ("value", "6")
    assert esttype("subscriber") == ("value", "6")
    charity = world.call("provider", "PUT", entry, json=mine | {"organisationType": "charity"})
    assert charity.status_code == 200, charity.text
    assert esttype("subscriber") == ("value", "7")
