"""Return templates: a subscriber declares its return once, and the server fills it.

The area applies when the capability document declares `features.returnTemplates`. Each
template the suite declares has an id of its own (`cx-conformance-...`) and is retired when the
run ends (`DELETE /v1/return-templates/{templateId}`, since 1.1), so a run leaves none in use;
a retired template's id stays taken, so the ids are random whatever the seed. The records the suite
publishes are test data, which no return may use (a return says only what a provider
published for real): the check of values asks for a day long past, on which the suite
publishes one test snapshot, and knows every answer.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from care_exchange_conformance.checks.receipts import (
    DEADLINE_SECONDS,
    POLL_SECONDS,
    SUMMARY,
    organisation_id,
)
from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import NotApplicableError, check, spec_clause

TEMPLATES = "/v1/return-templates"
CAPACITY = "capacity-snapshot"
DAY = "1999-12-31"
LIST_PAGES_LIMIT = 50
# What the return of DAY says, field by field (status, value): the day itself, a true zero,
# no source (the one snapshot of the day is test data), and the field the standard cannot fill.
EXPECTED = {
    "DAY": ("value", DAY),
    "SNAPSHOTS": ("value", 0),
    "REGISTERED": ("no-source", None),
    "ISOLATION": ("unmapped", None),
}


def _offered(context: Context) -> None:
    features = context.capabilities()["features"]
    if not features.get("returnTemplates"):
        raise NotApplicableError("the capability document declares no returnTemplates (features)")
    if CAPACITY not in context.capabilities()["recordTypes"]:
        raise NotApplicableError(f"the implementation declares no {CAPACITY}")


def _field(code: str, value_type: str, expression: str, depends_on: list[str]) -> dict[str, Any]:
    return {
        "code": code,
        "label": f"Question {code}",
        "valueType": value_type,
        "expression": expression,
        "dependsOn": depends_on,
        "match": "derived",
    }


def template(template_id: str) -> dict[str, Any]:
    """A daily return over capacity snapshots whose answers for DAY are known (EXPECTED)."""
    return {
        "templateType": "return-template",
        "id": template_id,
        "version": "1.0.0",
        "title": "Conformance: daily capacity",
        "owner": {"name": "Care Exchange conformance suite"},
        "recordTypes": [CAPACITY],
        "period": {"kind": "day"},
        "fields": [
            _field("DAY", "date", "period.start", []),
            _field("SNAPSHOTS", "integer", "$count(capacitySnapshot)", [f"{CAPACITY}/id"]),
            _field(
                "REGISTERED",
                "integer",
                "capacitySnapshot[-1].registeredPlaces",
                [f"{CAPACITY}/registeredPlaces"],
            ),
            {
                "code": "ISOLATION",
                "label": "Places closed for infection control",
                "valueType": "integer",
                "match": "unmapped",
                "reason": "The standard does not separate closures for infection control.",
            },
        ],
    }


def declared(context: Context) -> tuple[dict[str, Any], httpx.Response]:
    """A template the subscriber declared for this check, as stored, and the answer."""
    _offered(context)
    # Random whatever the seed, as record ids are: a template's id is taken for good, even
    # once retired, so a run repeated with its seed must not declare the same ids again.
    template_id = f"cx-conformance-{uuid.uuid4().hex[:16]}"
    answer = context.request("POST", TEMPLATES, party="subscriber", json=template(template_id))
    if answer.status_code == 201:
        context.templates["subscriber", template_id] = None
    context.expect_status(answer, 201, "the subscriber's return template was refused")
    stored: dict[str, Any] = context.expect_schema(answer, "StoredReturnTemplate")
    return stored, answer


def _listed(context: Context, party: str, template_id: str) -> tuple[bool, httpx.Response]:
    """Whether `party`'s list of templates, followed to its end, shows the template."""
    params: dict[str, Any] = {}
    for _ in range(LIST_PAGES_LIMIT):
        answer = context.get(TEMPLATES, party=party, params=params)
        context.expect_status(answer, 200, f"the {party}'s return templates could not be listed")
        page = context.expect_schema(answer, "ReturnTemplatePage")
        if any(item["id"] == template_id for item in page["items"]):
            return True, answer
        if page["nextPageToken"] is None:
            return False, answer
        params = {"page_token": page["nextPageToken"]}
    context.fail(
        f"The {party}'s list of return templates did not end within {LIST_PAGES_LIMIT} pages.",
        "a last page, with nextPageToken null",
    )


@check(
    "CX-RET-001",
    "A subscriber declares a return template: 201, owned by its organisation",
    clause=spec_clause("paths", TEMPLATES, "post"),
)
def declare(context: Context) -> None:
    stored, answer = declared(context)
    subscriber = organisation_id(context, "subscriber")
    owners = (stored["ownerId"], stored["template"]["owner"].get("organisationId"))
    context.expect(
        owners == (subscriber, subscriber) and not stored["shipped"],
        f"The stored template has ownerId {owners[0]!r}, owner.organisationId {owners[1]!r},"
        f" shipped {stored['shipped']}.",
        f"ownerId and owner.organisationId {subscriber!r} (the caller), shipped false",
        answer,
    )
    context.expect(
        stored["version"] == "1.0.0" and stored["template"]["fields"] == template("x")["fields"],
        "The stored template is not the one sent.",
        "the template as sent, version 1.0.0",
        answer,
    )


@check(
    "CX-RET-002",
    "A declared template is listed and readable by its owner, and hidden from an outsider",
    clause=spec_clause("paths", TEMPLATES + "/{templateId}", "get"),
)
def listed_and_read(context: Context) -> None:
    stored, _ = declared(context)
    found, listing = _listed(context, "subscriber", stored["id"])
    context.expect(
        found,
        f"The subscriber's list does not show its template {stored['id']}.",
        "the template in its owner's list",
        listing,
    )
    read = context.get(f"{TEMPLATES}/{stored['id']}", party="subscriber")
    context.expect_status(read, 200, "the subscriber could not read its template")
    again = context.expect_schema(read, "StoredReturnTemplate")
    context.expect(
        again == stored,
        "The template read differs from the one stored.",
        "the template as the creation answered it",
        read,
    )
    hidden = context.get(f"{TEMPLATES}/{stored['id']}", party="outsider")
    if hidden.status_code != 403:
        context.expect_problem(hidden, 404, "not_found")


@check(
    "CX-RET-003",
    "A return is filled with the right values: a true zero, no source, unmapped; no test data",
    clause=spec_clause("paths", TEMPLATES + "/{templateId}/returns", "get"),
)
def filled(context: Context) -> None:
    stored, _ = declared(context)
    record = context.new_record(CAPACITY) | {"asAt": f"{DAY}T12:00:00Z"}
    if "since" in record.get("admissions", {}):  # a status cannot begin after the snapshot
        record["admissions"] = record["admissions"] | {"since": DAY}
    context.expect_status(context.publish(record), 201, "a test snapshot could not be published")
    service_id = record["serviceId"]
    answer = context.get(
        f"{TEMPLATES}/{stored['id']}/returns",
        party="subscriber",
        params={"serviceId": service_id, "period": DAY},
    )
    context.expect_status(answer, 200, "the subscriber's return could not be filled")
    body = context.expect_schema(answer, "FilledReturn")
    found = {item["code"]: (item["status"], item["value"]) for item in body["fields"]}
    context.expect(
        found == EXPECTED,
        f"The return says {found}.",
        f"{EXPECTED} (the test snapshot of {DAY} is never used)",
        answer,
    )


@check(
    "CX-RET-004",
    "A template calling $eval is refused: 422 pointing at the expression",
    clause=spec_clause("paths", TEMPLATES, "post"),
)
def eval_refused(context: Context) -> None:
    _offered(context)
    document = template(f"cx-conformance-eval-{uuid.uuid4().hex[:8]}")
    document["fields"][1]["expression"] = "$eval('$count(capacitySnapshot)')"
    answer = context.request("POST", TEMPLATES, party="subscriber", json=document)
    if answer.status_code == 201:  # stored by mistake: retired when the run ends
        context.templates["subscriber", document["id"]] = None
    problem = context.expect_problem(answer, 422, "validation_failed")
    pointers = [error.get("pointer") for error in problem.get("errors", [])]
    context.expect(
        "/fields/1/expression" in pointers,
        f"The refusal points at {pointers}.",
        "an error with pointer /fields/1/expression",
        answer,
    )


@check(
    "CX-RET-005",
    "A subscriber retires its template: 204, then 404 to it; an outsider's retirement is 404",
    clause=spec_clause("paths", TEMPLATES + "/{templateId}", "delete"),
)
def retired(context: Context) -> None:
    stored, _ = declared(context)
    path = f"{TEMPLATES}/{stored['id']}"
    by_outsider = context.request("DELETE", path, party="outsider")
    if by_outsider.status_code in (405, 501):
        raise NotApplicableError("the implementation does not retire return templates (since 1.1)")
    context.expect_problem(by_outsider, 404, "not_found")
    still = context.get(path, party="subscriber")
    context.expect_status(still, 200, "the outsider's refused retirement retired the template")
    by_owner = context.request("DELETE", path, party="subscriber")
    if by_owner.status_code in (405, 501):
        raise NotApplicableError("the implementation does not retire return templates (since 1.1)")
    context.expect_status(by_owner, 204, "the subscriber could not retire its template")
    gone = context.get(path, party="subscriber")
    context.expect_problem(gone, 404, "not_found")
    found, listing = _listed(context, "subscriber", stored["id"])
    context.expect(
        not found,
        f"The subscriber's list still shows its retired template {stored['id']}.",
        "a retired template in no list",
        listing,
    )


def _real_snapshot(context: Context) -> dict[str, Any]:
    """The latest capacity snapshot of the publisher's service that is not test data.

    Returns use no test data, so only a record the provider published for real goes into one;
    the suite publishes none, so without one there is nothing to count.
    """
    if context.config.service_id is None:
        raise NotApplicableError("no publisher service_id is configured")
    params: dict[str, Any] = {"serviceId": context.config.service_id}
    found: list[dict[str, Any]] = []
    for _ in range(LIST_PAGES_LIMIT):
        answer = context.get(f"/v1/records/{CAPACITY}", party="subscriber", params=params)
        context.expect_status(answer, 200, "the subscriber could not list capacity snapshots")
        page = context.expect_schema(answer, "RecordPage")
        found += [
            item["data"]
            for item in page["items"]
            if item.get("data") and not item["data"].get("testData")
        ]
        if page["nextPageToken"] is None:
            break
        params = {**params, "page_token": page["nextPageToken"]}
    if not found:
        raise NotApplicableError(
            f"the publisher's service has no {CAPACITY} that is not test data, so no return "
            "the suite fills uses a record"
        )
    latest: dict[str, Any] = max(found, key=lambda data: str(data.get("asAt", "")))
    return latest


def _in_returns(
    context: Context, subscriber: str, since: str, expected: int
) -> tuple[dict[str, Any] | None, httpx.Response]:
    """The subscriber's line of the provider's summary since `since`, once it counts enough.

    Enough is `expected` records in returns; the line is returned as it stands at the deadline.
    """
    params = {"subscriberId": subscriber, "serviceId": context.config.service_id, "since": since}
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        answer = context.get(SUMMARY, party="publisher", params=params)
        context.expect_status(answer, 200, "the provider could not read its receipt summary")
        body = context.expect_schema(answer, "AccessReceiptSummary")
        lines = [line for line in body["subscribers"] if line["subscriberId"] == subscriber]
        entry = dict(lines[0]) if lines else None
        counted = None if entry is None else entry.get("recordsInReturns")
        if (entry is not None and "recordsInReturns" not in entry) or (
            counted is not None and counted >= expected
        ):
            return entry, answer
        if time.monotonic() >= deadline:
            return entry, answer
        time.sleep(POLL_SECONDS)


@check(
    "CX-RCPT-004",
    "The receipt summary counts the distinct records that went into a subscriber's returns",
    clause=spec_clause(
        "components",
        "schemas",
        "AccessReceiptSummary",
        "properties",
        "subscribers",
        "items",
        "properties",
        "recordsInReturns",
    ),
)
def records_in_returns(context: Context) -> None:
    """Two fills of a real snapshot's day count each of the return's sources once.

    The subscriber fills the same return twice; the provider's summary since then counts each
    record the return names in its sources once.
    The window starts at the server's own `Date` before the first fill, so the subscriber
    should fill no other return of the service during the run.
    """
    _offered(context)
    snapshot = _real_snapshot(context)
    stored, _ = declared(context)
    path = f"{TEMPLATES}/{stored['id']}"
    clock = context.get(path, party="subscriber")
    context.expect_status(clock, 200, "the subscriber could not read its template")
    if "date" not in clock.headers:
        raise NotApplicableError("the server sends no Date header, which the window starts at")
    since = parsedate_to_datetime(clock.headers["date"]).astimezone(UTC)
    period = {"serviceId": snapshot["serviceId"], "period": str(snapshot["asAt"])[:10]}
    sources: set[tuple[str, str]] = set()
    for _ in range(2):
        answer = context.get(f"{path}/returns", party="subscriber", params=period)
        context.expect_status(answer, 200, "the subscriber's return could not be filled")
        body = context.expect_schema(answer, "FilledReturn")
        sources |= {(kind, rid) for kind, ids in body["sources"].items() for rid in ids}
    if not sources:
        raise NotApplicableError(
            f"the return of {period['period']} was filled from no record, so none is counted"
        )
    subscriber = organisation_id(context, "subscriber")
    stamp = since.isoformat().replace("+00:00", "Z")
    entry, answer = _in_returns(context, subscriber, stamp, len(sources))
    if entry is not None and "recordsInReturns" not in entry:
        raise NotApplicableError("the summary does not report recordsInReturns (since 1.1)")
    counted = None if entry is None else entry["recordsInReturns"]
    context.expect(
        counted == len(sources),
        f"Since {stamp} the subscriber filled the same return twice from {len(sources)} "
        f"record(s); the summary counts {counted} in returns.",
        f"recordsInReturns {len(sources)} for {subscriber} (distinct records, each once)",
        answer,
    )
