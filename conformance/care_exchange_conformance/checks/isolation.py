"""Isolation: an organisation with no agreement neither sees nor changes a provider's records.

Every path is tried: a read, a list, the feed, the history, a new version and a retraction; and
a second provider (`second_publisher`) neither publishes for the first's services nor changes or
reads its records.
"""

from __future__ import annotations

from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import NotApplicableError, check, spec_clause
from care_exchange_conformance.testdata import record_path

FEED_PAGES_LIMIT = 200


@check(
    "CX-ISO-001",
    "Without an agreement a record cannot be read: 404, as if it did not exist",
    clause=spec_clause("paths", "/v1/records/{type}/{id}", "get"),
)
def read(context: Context) -> None:
    record, _ = context.published_record()
    context.expect_problem(context.get(record_path(record), party="outsider"), 404, "not_found")


@check(
    "CX-ISO-002",
    "Without an agreement a record's history cannot be read",
    clause=spec_clause("paths", "/v1/records/{type}/{id}/versions", "get"),
)
def history(context: Context) -> None:
    record, _ = context.published_record()
    answer = context.get(f"{record_path(record)}/versions", party="outsider")
    context.expect_problem(answer, 404, "not_found")


@check(
    "CX-ISO-003",
    "Without an agreement a provider's records are absent from lists",
    clause=spec_clause("paths", "/v1/records/{type}", "get"),
)
def listing(context: Context) -> None:
    record, _ = context.published_record()
    for params in ({}, {"serviceId": context.config.service_id}):
        answer = context.get(f"/v1/records/{record['recordType']}", party="outsider", params=params)
        context.expect_status(answer, 200, "the outsider's list could not be read")
        page = context.expect_schema(answer, "RecordPage")
        leaked = [item["id"] for item in page["items"] if item["id"] == record["id"]]
        context.expect(
            not leaked,
            f"A list shows the outsider a record it has no agreement for ({record['id']}).",
            "only records the caller's agreements cover",
            answer,
        )


@check(
    "CX-ISO-004",
    "Without an agreement a provider's records are absent from the change feed",
    clause=spec_clause("paths", "/v1/feed/{type}", "get"),
)
def feed(context: Context) -> None:
    record, _ = context.published_record()
    path: str | None = f"/v1/feed/{record['recordType']}"
    for _ in range(FEED_PAGES_LIMIT):
        assert path is not None
        answer = context.get(path, party="outsider")
        context.expect_status(answer, 200, "the outsider's feed could not be read")
        page = context.expect_schema(answer, "FeedPage")
        context.expect(
            all(item["id"] != record["id"] for item in page["items"]),
            f"The feed shows the outsider a record it has no agreement for ({record['id']}).",
            "only records the caller's agreements cover",
            answer,
        )
        if not page["items"]:
            return
        path = page["next"]
    context.fail(
        f"The outsider's feed did not end within {FEED_PAGES_LIMIT} pages.",
        "a last page with no items",
    )


@check(
    "CX-ISO-005",
    "Without a right to publish for a service, its records cannot be replaced or retracted",
    clause=spec_clause("paths", "/v1/records/{type}/{id}", "put"),
)
def change(context: Context) -> None:
    _cannot_change(context, "outsider", "An outsider")


def _cannot_change(context: Context, party: str, who: str) -> None:
    """`party` tries a new version and a retraction of the publisher's record; both refused."""
    record, published = context.published_record()
    path = record_path(record)
    etag = {"If-Match": published.headers.get("ETag", "")}
    altered = {**record, "notes": f"changed by {who.lower()} with no right to"}
    for answer in (
        context.request("PUT", path, party=party, json=altered, headers=etag),
        context.request("DELETE", path, party=party, headers=etag),
    ):
        context.expect(
            answer.status_code in (403, 404),
            f"{who}'s {answer.request.method} was answered {answer.status_code}.",
            "403 or 404, and the record unchanged",
            answer,
        )
    current = context.get(path, party="publisher")
    context.expect_status(current, 200, "the record could not be read after the attempts")
    context.expect(
        current.headers.get("ETag") == published.headers.get("ETag"),
        f"The record changed after {who.lower()}'s request was refused.",
        "the record still at version 1",
        current,
    )


def _second_publisher(context: Context) -> str:
    """The second publisher's party name, when the run has one: another provider, no agreement."""
    if context.config.second_publisher is None:
        raise NotApplicableError(
            "no second_publisher is configured (a second provider with no agreement)"
        )
    return "second_publisher"


@check(
    "CX-ISO-006",
    "A provider cannot publish a record for another provider's service: 403, nothing stored",
    clause=spec_clause("paths", "/v1/records/{type}", "post"),
)
def foreign_publish(context: Context) -> None:
    other = _second_publisher(context)
    record = context.new_record()
    context.expect_problem(context.publish(record, party=other), 403, "forbidden")
    stored = context.get(record_path(record), party="publisher")
    context.expect_problem(stored, 404, "not_found")


@check(
    "CX-ISO-007",
    "A provider cannot replace or retract another provider's record",
    clause=spec_clause("paths", "/v1/records/{type}/{id}", "delete"),
)
def foreign_change(context: Context) -> None:
    _cannot_change(context, _second_publisher(context), "Another provider")


@check(
    "CX-ISO-008",
    "A provider cannot read another provider's record without an agreement: 404",
    clause=spec_clause("paths", "/v1/records/{type}/{id}", "get"),
)
def foreign_read(context: Context) -> None:
    other = _second_publisher(context)
    record, _ = context.published_record()
    context.expect_problem(context.get(record_path(record), party=other), 404, "not_found")
