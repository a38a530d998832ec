"""Feedback: a subscriber says what a record changed, its provider replies, no one else sees it.

The area applies when the capability document declares `features.feedback`.
"""

from __future__ import annotations

from typing import Any

import httpx

from care_exchange_conformance.checks.receipts import organisation_id, read_by_subscriber
from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import NotApplicableError, check, spec_clause

FEEDBACK = "/v1/feedback"
TEXT = "Your vacant places let us discharge two people from hospital this week."
REPLY = "Thank you. Both places remain open to admissions from the acute wards."
LIST_PAGES_LIMIT = 50


def _offered(context: Context) -> None:
    if not context.capabilities()["features"]["feedback"]:
        raise NotApplicableError("the capability document declares no feedback (features)")


def _request(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "impact",
        "text": TEXT,
        "recordType": record["recordType"],
        "recordId": record["id"],
    }


def sent(context: Context) -> tuple[dict[str, Any], dict[str, Any], httpx.Response]:
    """`impact` feedback the subscriber sent on a record it read, with the record and answer."""
    _offered(context)
    record, envelope = read_by_subscriber(context)
    answer = context.request("POST", FEEDBACK, party="subscriber", json=_request(record))
    context.expect_status(answer, 201, "the subscriber's feedback on a record it read was refused")
    feedback: dict[str, Any] = context.expect_schema(answer, "Feedback")
    return {**record, "providerId": envelope["providerId"]}, feedback, answer


def _listed(
    context: Context, party: str, feedback_id: str, refusable: bool = False
) -> tuple[bool, httpx.Response]:
    """Whether `party`'s feedback list, followed to its end, shows the feedback.

    When `refusable`, a `403` (a client without the `feedback` scope) shows nothing.
    """
    params: dict[str, Any] = {}
    for _ in range(LIST_PAGES_LIMIT):
        answer = context.get(FEEDBACK, party=party, params=params)
        if refusable and answer.status_code == 403:
            context.expect_problem(answer, 403, None)
            return False, answer
        context.expect_status(answer, 200, f"the {party}'s feedback list could not be read")
        page = context.expect_schema(answer, "FeedbackPage")
        if any(item["id"] == feedback_id for item in page["items"]):
            return True, answer
        if page["nextPageToken"] is None:
            return False, answer
        params = {"page_token": page["nextPageToken"]}
    context.fail(
        f"The {party}'s feedback list did not end within {LIST_PAGES_LIMIT} pages.",
        "a last page, with nextPageToken null",
    )


@check(
    "CX-FDBK-001",
    "A subscriber's impact feedback on a record it read is stored: 201, with its record",
    clause=spec_clause("paths", FEEDBACK, "post"),
)
def send(context: Context) -> None:
    record, feedback, answer = sent(context)
    subscriber = organisation_id(context, "subscriber")
    seen = {name: feedback[name] for name in ("kind", "text", "recordType", "recordId")}
    context.expect(
        seen == _request(record),
        f"The feedback stored says {seen}.",
        f"the feedback as sent: {_request(record)}",
        answer,
    )
    parties = {name: feedback[name] for name in ("providerId", "serviceId", "subscriberId")}
    wanted = {
        "providerId": record["providerId"],
        "serviceId": record["serviceId"],
        "subscriberId": subscriber,
    }
    context.expect(
        parties == wanted,
        f"The feedback is addressed {parties}.",
        f"from the subscriber to the record's provider and service: {wanted}",
        answer,
    )
    context.expect(
        feedback["recordVersion"] == 1 and feedback["period"] is None and not feedback["replies"],
        f"recordVersion {feedback['recordVersion']}, period {feedback['period']}, "
        f"{len(feedback['replies'])} replies.",
        "recordVersion 1 (the version current when sent), period null, no replies yet",
        answer,
    )
    location = answer.headers.get("Location", "")
    context.expect(
        location.endswith(f"{FEEDBACK}/{feedback['id']}"),
        f"The Location header is {location!r}.",
        f"the feedback's own URL, ending {FEEDBACK}/{feedback['id']}",
        answer,
    )


@check(
    "CX-FDBK-002",
    "The provider lists the feedback it received and replies; the subscriber sees the reply",
    clause=spec_clause("paths", FEEDBACK + "/{feedbackId}/replies", "post"),
)
def reply(context: Context) -> None:
    record, feedback, _ = sent(context)
    found, listed = _listed(context, "publisher", feedback["id"])
    context.expect(
        found,
        f"The provider's feedback list does not show feedback {feedback['id']} it received.",
        "the feedback in the provider's list",
        listed,
    )
    path = f"{FEEDBACK}/{feedback['id']}/replies"
    by_sender = context.request("POST", path, party="subscriber", json={"text": REPLY})
    context.expect_problem(by_sender, 403, "forbidden")
    answer = context.request("POST", path, party="publisher", json={"text": REPLY})
    context.expect_status(answer, 201, "the provider's reply was refused")
    replied = context.expect_schema(answer, "Feedback")
    replies = [(item["text"], item["providerId"]) for item in replied["replies"]]
    context.expect(
        replies == [(REPLY, record["providerId"])],
        f"The feedback's replies are {replies}.",
        "the provider's one reply",
        answer,
    )
    read = context.get(f"{FEEDBACK}/{feedback['id']}", party="subscriber")
    context.expect_status(read, 200, "the subscriber could not read its feedback")
    again = context.expect_schema(read, "Feedback")
    context.expect(
        [item["text"] for item in again["replies"]] == [REPLY],
        f"The subscriber sees the replies {[item['text'] for item in again['replies']]}.",
        "the provider's reply",
        read,
    )


@check(
    "CX-FDBK-003",
    "An organisation that cannot read a record cannot send feedback on it: 422 at /recordId",
    clause=spec_clause("paths", FEEDBACK, "post"),
)
def foreign_send(context: Context) -> None:
    _offered(context)
    record, _ = read_by_subscriber(context)
    answer = context.request("POST", FEEDBACK, party="outsider", json=_request(record))
    problem = context.expect_problem(answer, 422, "validation_failed")
    pointers = [error.get("pointer") for error in problem.get("errors", [])]
    context.expect(
        "/recordId" in pointers,
        f"The refusal points at {pointers}.",
        "an error with pointer /recordId (a reference the caller may not use)",
        answer,
    )


@check(
    "CX-FDBK-004",
    "Feedback is seen only by its provider and its subscriber: absent from others' lists, 404",
    clause=spec_clause("paths", FEEDBACK + "/{feedbackId}", "get"),
)
def others_see_nothing(context: Context) -> None:
    _, feedback, _ = sent(context)
    others = ["outsider"]
    if context.config.second_publisher is not None:
        others.append("second_publisher")
    for party in others:
        found, listed = _listed(context, party, feedback["id"], refusable=True)
        context.expect(
            not found,
            f"The {party}'s feedback list shows feedback {feedback['id']} between others.",
            "only feedback the caller sent or received",
            listed,
        )
        answer = context.get(f"{FEEDBACK}/{feedback['id']}", party=party)
        if answer.status_code != 403:
            context.expect_problem(answer, 404, "not_found")
