"""Access receipts: a provider sees every read of its records by a subscriber, and only it does.

Receipts may be written a little after the read they record, so the checks look again until a
short deadline before concluding that one is missing.
"""

from __future__ import annotations

import time
from typing import Any

from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import check, spec_clause
from care_exchange_conformance.testdata import record_path

RECEIPTS = "/v1/access-receipts"
SUMMARY = "/v1/access-receipts/summary"
DEADLINE_SECONDS = 10.0
POLL_SECONDS = 0.25


def organisation_id(context: Context, party: str) -> str:
    """The organisation a configured client belongs to, as the implementation says."""
    answer = context.get("/v1/organisations/me", party=party)
    context.expect_status(answer, 200, f"the {party}'s organisation could not be read")
    found: str = context.expect_schema(answer, "Organisation")["id"]
    return found


def read_by_subscriber(context: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new record and its envelope as published, once read by the subscriber."""
    record, published = context.published_record()
    envelope = context.expect_schema(published, "RecordEnvelope")
    answer = context.get(record_path(record), party="subscriber")
    context.expect_status(answer, 200, "the subscriber could not read the record")
    return record, envelope


def _read_receipt(
    context: Context, record: dict[str, Any], subscriber: str
) -> dict[str, Any] | None:
    """The provider's `read` receipt for the subscriber's read of `record`, once written."""
    params = {"subscriberId": subscriber, "serviceId": record["serviceId"]}
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        answer = context.get(RECEIPTS, party="publisher", params=params)
        context.expect_status(answer, 200, "the provider could not list its access receipts")
        page = context.expect_schema(answer, "AccessReceiptPage")
        for item in page["items"]:
            if item["recordId"] == record["id"] and item["channel"] == "read":
                return dict(item)
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_SECONDS)


def _summary_entry(
    context: Context, subscriber: str, since: str, expected_reads: int
) -> dict[str, Any] | None:
    """The subscriber's line of the provider's summary since `since`, once it counts the reads."""
    params = {"subscriberId": subscriber, "since": since}
    deadline = time.monotonic() + DEADLINE_SECONDS
    entry: dict[str, Any] | None = None
    while True:
        answer = context.get(SUMMARY, party="publisher", params=params)
        context.expect_status(answer, 200, "the provider could not read its receipt summary")
        body = context.expect_schema(answer, "AccessReceiptSummary")
        found = [line for line in body["subscribers"] if line["subscriberId"] == subscriber]
        entry = dict(found[0]) if found else None
        if (entry is not None and entry["recordsRead"] >= expected_reads) or (
            time.monotonic() >= deadline
        ):
            return entry
        time.sleep(POLL_SECONDS)


@check(
    "CX-RCPT-001",
    "A subscriber's read leaves a receipt the provider sees: channel read, version, agreement",
    clause=spec_clause("paths", RECEIPTS, "get"),
)
def read_receipt(context: Context) -> None:
    record, envelope = read_by_subscriber(context)
    subscriber = organisation_id(context, "subscriber")
    receipt = _read_receipt(context, record, subscriber)
    context.expect(
        receipt is not None,
        f"No `read` receipt for the subscriber's read of {record['id']} appeared within "
        f"{DEADLINE_SECONDS:g} seconds.",
        "a receipt for each record a subscriber reads, listed to its provider",
    )
    assert receipt is not None
    seen = {name: receipt[name] for name in ("providerId", "serviceId", "recordType", "version")}
    wanted = {
        "providerId": envelope["providerId"],
        "serviceId": record["serviceId"],
        "recordType": record["recordType"],
        "version": 1,
    }
    context.expect(
        seen == wanted,
        f"The receipt says {seen}.",
        f"the record as read: {wanted}",
    )
    answer = context.get(f"/v1/agreements/{receipt['agreementId']}", party="publisher")
    context.expect_status(answer, 200, "the receipt's agreement could not be read by the provider")
    agreement = context.expect_schema(answer, "Agreement")
    parties = (agreement["providerId"], agreement["subscriberId"], agreement["status"])
    context.expect(
        parties == (envelope["providerId"], subscriber, "active"),
        f"The receipt names agreement {receipt['agreementId']}, between {parties[0]} and "
        f"{parties[1]} ({parties[2]}).",
        "the active agreement between the provider and the subscriber the read was allowed by",
        answer,
    )


@check(
    "CX-RCPT-002",
    "The receipt summary counts the distinct records a subscriber read",
    clause=spec_clause("paths", SUMMARY, "get"),
)
def summary(context: Context) -> None:
    record, envelope = read_by_subscriber(context)
    again = context.get(record_path(record), party="subscriber")
    context.expect_status(again, 200, "the subscriber could not read the record again")
    subscriber = organisation_id(context, "subscriber")
    entry = _summary_entry(context, subscriber, envelope["publishedAt"], 1)
    context.expect(
        entry is not None and entry["recordsRead"] == 1,
        "Since the record was published the subscriber read only it, twice; the summary says "
        f"{entry}.",
        f"recordsRead 1 for {subscriber} (distinct records read one by one)",
    )


@check(
    "CX-RCPT-003",
    "Only the provider sees its receipts: a subscriber's or another organisation's view shows none",
    clause=spec_clause("paths", RECEIPTS, "get"),
)
def only_the_provider(context: Context) -> None:
    _, envelope = read_by_subscriber(context)
    subscriber = organisation_id(context, "subscriber")
    _summary_entry(context, subscriber, envelope["publishedAt"], 1)
    others = ["subscriber", "outsider"]
    if context.config.second_publisher is not None:
        others.append("second_publisher")
    for party in others:
        listed = context.get(RECEIPTS, party=party)
        if listed.status_code == 403:
            context.expect_problem(listed, 403, None)
        else:
            context.expect_status(listed, 200, f"the {party}'s receipt list was not refused")
            page = context.expect_schema(listed, "AccessReceiptPage")
            leaked = [i for i in page["items"] if i["providerId"] == envelope["providerId"]]
            context.expect(
                not leaked,
                f"The {party} is shown {len(leaked)} of the provider's receipts.",
                "a 403 refusal, or only the caller's own receipts",
                listed,
            )
        summarised = context.get(SUMMARY, party=party)
        if summarised.status_code == 403:
            context.expect_problem(summarised, 403, None)
        else:
            context.expect_status(summarised, 200, f"the {party}'s summary was not refused")
            body = context.expect_schema(summarised, "AccessReceiptSummary")
            context.expect(
                all(line["subscriberId"] != subscriber for line in body["subscribers"]),
                f"The {party}'s summary counts the subscriber's reads of the provider's records.",
                "a 403 refusal, or only the caller's own receipts",
                summarised,
            )
