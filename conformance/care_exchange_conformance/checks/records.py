"""Records: publish, read, replace under `If-Match`, versions, retraction, lists and bulk."""

from __future__ import annotations

from typing import Any

import httpx

from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import check, spec_clause
from care_exchange_conformance.testdata import record_path
from care_exchange_standard import Severity, load_standard

RECORDS = "/v1/records/{type}"
RECORD = "/v1/records/{type}/{id}"
LIST_WALK_RECORDS = 3


def _envelope(context: Context, answer: httpx.Response, record: dict[str, Any]) -> Any:
    """The envelope in `answer`, which must carry `record` as published and validate."""
    envelope = context.expect_schema(answer, "RecordEnvelope")
    context.expect(
        envelope["id"] == record["id"] and envelope["recordType"] == record["recordType"],
        "The envelope names another record.",
        f"id {record['id']} of type {record['recordType']}",
        answer,
    )
    if envelope["state"] == "active":
        issues = load_standard().validator(record["recordType"]).validate(envelope["data"])
        errors = [f"{i.pointer}: {i.message}" for i in issues if i.severity is Severity.ERROR]
        context.expect(
            not errors,
            f"The record returned is not valid against the standard: {errors[:2]}.",
            f"data valid against schemas/records/{record['recordType']}.json",
            answer,
        )
        context.expect(
            envelope["data"] == record,
            "The record returned is not the record published.",
            "the data exactly as published",
            answer,
        )
    return envelope


def _etag_of(context: Context, answer: httpx.Response) -> str:
    etag: str = answer.headers.get("ETag", "")
    context.expect(
        etag.startswith('"') and etag.endswith('"') and len(etag) > 2,
        f"The answer's ETag is {etag!r}.",
        'a strong ETag carrying the version, such as "1" (RFC 9110 section 8.8.3)',
        answer,
    )
    return etag


@check(
    "CX-REC-001",
    "A valid record is published as version 1, with its location and ETag",
    clause=spec_clause("paths", RECORDS, "post"),
)
def publish(context: Context) -> None:
    record, answer = context.published_record()
    envelope = _envelope(context, answer, record)
    context.expect(envelope["version"] == 1, "A new record is not version 1.", "version 1", answer)
    location = answer.headers.get("Location", "")
    context.expect(
        location.endswith(record_path(record)),
        f"The Location header is {location!r}.",
        f"the record's own URL, ending {record_path(record)}",
        answer,
    )
    _etag_of(context, answer)


@check(
    "CX-REC-002",
    "A subscriber under an agreement reads the record as published, with its ETag",
    clause=spec_clause("paths", RECORD, "get"),
)
def read_back(context: Context) -> None:
    record, published = context.published_record()
    answer = context.get(record_path(record), party="subscriber")
    context.expect_status(answer, 200, "the subscriber could not read the record")
    _envelope(context, answer, record)
    context.expect(
        answer.headers.get("ETag") == published.headers.get("ETag"),
        "The read's ETag is not the publication's.",
        "the same ETag for the same version",
        answer,
    )


@check(
    "CX-REC-003",
    "A new version needs the current ETag in If-Match: 428 without it, 412 when stale",
    clause=spec_clause("paths", RECORD, "put"),
)
def conditional_replace(context: Context) -> None:
    record, published = context.published_record()
    path = record_path(record)
    unconditional = context.request("PUT", path, party="publisher", json=record)
    context.expect_problem(unconditional, 428, "precondition_required")
    stale = context.request(
        "PUT", path, party="publisher", json=record, headers={"If-Match": '"999"'}
    )
    context.expect_problem(stale, 412, "precondition_failed")
    replaced = context.request(
        "PUT", path, party="publisher", json=record,
        headers={"If-Match": _etag_of(context, published)},
    )  # fmt: skip
    context.expect_status(replaced, 200, "a replacement with the current ETag was refused")
    envelope = _envelope(context, replaced, record)
    context.expect(envelope["version"] == 2, "The new version is not 2.", "version 2", replaced)
    again = context.request(
        "PUT", path, party="publisher", json=record,
        headers={"If-Match": _etag_of(context, published)},
    )  # fmt: skip
    context.expect_problem(again, 412, "precondition_failed")


@check(
    "CX-REC-004",
    "Every version of a record is kept and listed",
    clause=spec_clause("paths", RECORD + "/versions", "get"),
)
def versions(context: Context) -> None:
    record, published = context.published_record()
    path = record_path(record)
    context.request(
        "PUT", path, party="publisher", json=record,
        headers={"If-Match": _etag_of(context, published)},
    )  # fmt: skip
    answer = context.get(f"{path}/versions", party="subscriber")
    context.expect_status(answer, 200, "the versions could not be listed")
    page = context.expect_schema(answer, "RecordPage")
    listed = sorted(item["version"] for item in page["items"])
    context.expect(listed == [1, 2], f"The versions listed are {listed}.", "[1, 2]", answer)


@check(
    "CX-REC-005",
    "A retracted record answers 410 to those who could read it, and cannot be retracted twice",
    clause=spec_clause("paths", RECORD, "delete"),
)
def retraction(context: Context) -> None:
    record, published = context.published_record()
    path = record_path(record)
    unconditional = context.request("DELETE", path, party="publisher")
    context.expect_problem(unconditional, 428, "precondition_required")
    gone = context.request(
        "DELETE", path, party="publisher", headers={"If-Match": _etag_of(context, published)}
    )
    context.expect_status(gone, 204, "the retraction was refused")
    for party in ("publisher", "subscriber"):
        context.expect_problem(context.get(path, party=party), 410, "gone")
    twice = context.request(
        "DELETE", path, party="publisher", headers={"If-Match": gone.headers.get("ETag", "")}
    )
    context.expect_problem(twice, 410, "gone")
    history = context.expect_schema(
        context.get(f"{path}/versions", party="publisher"), "RecordPage"
    )
    states = [item["state"] for item in sorted(history["items"], key=lambda i: i["version"])]
    context.expect(
        states == ["active", "retracted"],
        f"The history after retraction is {states}.",
        "the published version kept, then a retracted tombstone",
    )


@check(
    "CX-REC-006",
    "A list pages by token without losing or repeating a record",
    clause="spec/openapi.yaml#/components/schemas/RecordPage",
)
def list_paging(context: Context) -> None:
    made = {context.published_record()[0]["id"] for _ in range(LIST_WALK_RECORDS)}
    record_type = context.record_type()
    seen: list[str] = []
    token: str | None = None
    for _ in range(1000):
        params: dict[str, Any] = {"page_size": 1, "serviceId": context.config.service_id}
        if token is not None:
            params["page_token"] = token
        answer = context.get(f"/v1/records/{record_type}", party="subscriber", params=params)
        context.expect_status(answer, 200, "a page of the list could not be read")
        page = context.expect_schema(answer, "RecordPage")
        context.expect(len(page["items"]) <= 1, "A page is larger than page_size.", "1", answer)
        seen += [item["id"] for item in page["items"]]
        token = page["nextPageToken"]
        if token is None:
            break
    repeated = sorted({found for found in seen if seen.count(found) > 1})
    context.expect(not repeated, f"Records repeated while paging: {repeated}.", "each once")
    missing = sorted(made - set(seen))
    context.expect(not missing, f"Records missing from the list: {missing}.", "every record")


def _bulk_of_good_and_broken(context: Context, dry_run: bool) -> dict[str, Any]:
    """A valid record and one without its service, in one bulk request: answered 201 and 422.

    Returns the valid record. `dryRun` must be in the answer exactly when it was a dry run.
    """
    good, broken = context.new_record(), context.new_record()
    broken.pop("serviceId")
    answer = context.request(
        "POST",
        "/v1/bulk",
        party="publisher",
        params={"dry_run": "true"} if dry_run else None,
        json={"records": [good, broken]},
    )
    doing = "the bulk dry run" if dry_run else "the bulk publish"
    context.expect_status(answer, 200, f"{doing} was refused as a whole")
    body = context.expect_schema(answer, "BulkResult")
    statuses = [(item["index"], item["status"]) for item in body["results"]]
    context.expect(
        statuses == [(0, 201), (1, 422)] and (body.get("dryRun") is True) is dry_run,
        f"The per-item results of {doing} are {statuses}, dryRun {body.get('dryRun')!r}.",
        "[(0, 201), (1, 422)]: the valid record accepted, the invalid one refused"
        + (", and dryRun true" if dry_run else ", and no dryRun"),
        answer,
    )
    return good


@check(
    "CX-REC-007",
    "A bulk publish answers each item on its own, in order",
    clause=spec_clause("paths", "/v1/bulk", "post"),
)
def bulk(context: Context) -> None:
    good = _bulk_of_good_and_broken(context, dry_run=False)
    context.published[good["recordType"], good["id"]] = None
    read = context.get(record_path(good), party="subscriber")
    context.expect_status(read, 200, "the record published in bulk could not be read")


@check(
    "CX-REC-008",
    "A bulk dry run answers each item as a publication would, and stores nothing",
    clause=spec_clause("paths", "/v1/bulk", "post"),
)
def bulk_dry_run(context: Context) -> None:
    good = _bulk_of_good_and_broken(context, dry_run=True)
    read = context.get(record_path(good), party="publisher")
    context.expect_status(read, 404, "the record checked by a dry run was stored")
    published = context.publish(good)
    context.expect_status(published, 201, "after a dry run the record could not be published")
