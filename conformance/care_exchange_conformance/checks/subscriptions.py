"""Subscriptions and webhooks: events numbered without gaps, POSTed signed, retried, replayable.

The checks subscribe the subscriber to the suite's own webhook receiver (`receiver.py`), publish
records as the publisher and watch what arrives, within `delivery_seconds` of the configuration.
They apply only to an implementation whose capability document offers webhook subscriptions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from care_exchange_conformance.context import Context
from care_exchange_conformance.receiver import Delivery, Fault
from care_exchange_conformance.registry import NotApplicableError, check, spec_clause
from care_exchange_conformance.testdata import example_record
from care_exchange_standard.spec import load_spec

CREATE = spec_clause("paths", "/v1/subscriptions", "post")
WEBHOOK = spec_clause("webhooks", "subscriptionEvent", "post")
EVENTS = spec_clause("paths", "/v1/subscriptions/{subscriptionId}/events", "get")
FILTER = spec_clause("components", "schemas", "SubscriptionFilter")
ROTATE = spec_clause("paths", "/v1/subscriptions/{subscriptionId}/rotate-secret", "post")
UPDATED = "org.careexchange.record.updated"
HEARTBEAT = "org.careexchange.heartbeat"
CLOUDEVENTS_JSON = "application/cloudevents+json"
POLL_SECONDS = 0.05
PAGES_LIMIT = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class Hook:
    """A webhook subscription of the subscriber's, delivering to a path of the receiver."""

    key: str
    url: str
    id: str
    secret: str
    created: dict[str, Any]


def _offered(context: Context) -> dict[str, Any]:
    capabilities = context.capabilities()
    offered = capabilities.get("subscriptions")
    if not capabilities["features"]["subscriptions"] or not isinstance(offered, dict):
        raise NotApplicableError("the capability document offers no subscriptions")
    if "webhook" not in offered["channels"]:
        raise NotApplicableError("the capability document offers no webhook channel")
    return offered


def _subscribe(context: Context, service_filter: list[str] | None = None) -> Hook:
    """A new webhook subscription to the check's record type; the receiver knows its secret.

    It is deleted when the run ends.
    """
    _offered(context)
    receiver = context.receiver()
    key, url = receiver.new_hook()
    request: dict[str, Any] = {
        "types": [context.record_type()],
        "channel": {"type": "webhook", "url": url},
        "content": "id-only",
    }
    if service_filter is not None:
        request["filter"] = {"services": service_filter}
    answer = context.request("POST", "/v1/subscriptions", party="subscriber", json=request)
    if answer.status_code == 201:
        body = context.json(answer)
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            context.subscriptions["subscriber", body["id"]] = None
    context.expect_status(answer, 201, "a webhook subscription to the receiver was refused")
    created = context.expect_schema(answer, "SubscriptionCreated")
    secret = created["secret"]
    context.expect(
        isinstance(secret, str),
        "A new webhook subscription came without its signing secret.",
        "secret: the whsec_ signing secret, shown at creation",
        answer,
    )
    receiver.set_secrets(key, [secret])
    return Hook(key, url, created["id"], secret, created)


def _until(probe: Callable[[], T | None], seconds: float) -> T | None:
    """`probe()` as soon as it is not None, or None once `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(POLL_SECONDS)


def _about(deliveries: list[Delivery], subject: str) -> list[Delivery]:
    return [found for found in deliveries if (found.event or {}).get("subject") == subject]


def _records(deliveries: list[Delivery]) -> list[Delivery]:
    """Deliveries of events about records that the receiver acknowledged."""
    return [
        found
        for found in deliveries
        if found.answered is None and (found.event or {}).get("type", HEARTBEAT) != HEARTBEAT
    ]


def _subject(record: dict[str, Any]) -> str:
    return f"{record['recordType']}/{record['id']}"


def _delivered(
    context: Context, hook: Hook, subject: str, count: int = 1, extra_seconds: float = 0.0
) -> list[Delivery]:
    """The first `count` deliveries of the event about `subject`, within the deadline.

    `extra_seconds` lengthens the deadline by what the implementation declares it may take,
    such as its timeout and first retry delay.
    """
    seconds = context.config.delivery_seconds + extra_seconds
    found = _about(
        context.receiver().wait_for(
            hook.key, lambda seen: len(_about(seen, subject)) >= count, seconds
        ),
        subject,
    )
    context.expect(
        len(found) >= count,
        f"{'No' if not found else 'Only ' + str(len(found))} delivery of the event about "
        f"{subject} reached the receiver within {seconds:g} s"
        + (" (after one failed attempt)." if count > 1 else "."),
        f"the event POSTed to the subscription's url{' again' if count > 1 else ''}",
    )
    return found[:count]


def _valid(context: Context, body: Any, component: str, what: str) -> None:
    errors = list(load_spec().component(component).iter_errors(body))
    context.expect(
        not errors,
        f"{what} does not match {component}: {errors[0].message if errors else ''}.",
        f"a body valid against #/components/schemas/{component}",
    )


def _status(context: Context, hook: Hook) -> dict[str, Any]:
    answer = context.get(f"/v1/subscriptions/{hook.id}/status", party="subscriber")
    context.expect_status(answer, 200, "the subscription's status could not be read")
    status: dict[str, Any] = context.expect_schema(answer, "SubscriptionStatus")
    return status


def _expect_recovered(context: Context, hook: Hook, number: int) -> None:
    """Once a retry is acknowledged, the status shows the event delivered and the streak over."""

    def recovered() -> dict[str, Any] | None:
        status = _status(context, hook)
        done = status["deliveredSequence"] >= number and status["attempts"] == 0
        return status if done and status["status"] == "active" else None

    context.expect(
        _until(recovered, context.config.delivery_seconds) is not None,
        "After the retry was acknowledged, the status does not show the event delivered.",
        f"status active, deliveredSequence {number} or more and attempts 0",
    )


def _expect_retried_after(context: Context, fault: Fault, what: str, **how: Any) -> None:
    """The event whose first attempt meets `fault` is sent again, with its webhook-id.

    The status must then show it delivered. The deadline allows for the declared timeout and
    first retry delay.
    """
    offered = _offered(context)
    delays = offered["retryDelaysSeconds"]
    extra = offered["timeoutSeconds"] + (delays[1] if len(delays) > 1 else 0)
    hook = _subscribe(context)
    context.receiver().inject(hook.key, fault, **how)
    record, _ = context.published_record()
    subject = _subject(record)
    (first,) = _delivered(context, hook, subject)
    _, second = _delivered(context, hook, subject, count=2, extra_seconds=extra)
    context.expect(
        second.webhook_id == first.webhook_id,
        f"After {what}, the next attempt's webhook-id is {second.webhook_id!r}, not "
        f"{first.webhook_id!r}.",
        "the same webhook-id on every attempt at an event",
    )
    _expect_recovered(context, hook, first.sequence or 0)


def _replay(context: Context, hook: Hook, after: int) -> list[dict[str, Any]]:
    """Every event after `after`, one per page, following page_token to the end."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(PAGES_LIMIT):
        params: dict[str, Any] = {"after": after, "page_size": 1}
        if token is not None:
            params["page_token"] = token
        answer = context.get(
            f"/v1/subscriptions/{hook.id}/events", party="subscriber", params=params
        )
        context.expect_status(answer, 200, "the subscription's events could not be read")
        page = context.expect_schema(answer, "EventPage")
        items += page["items"]
        token = page["nextPageToken"]
        if token is None:
            return items
    context.fail(f"The events did not end within {PAGES_LIMIT} pages.", "a last page")


@check(
    "CX-SUB-001",
    "A webhook subscription is created with its secret shown once, then listed and read back",
    clause=CREATE,
)
def created(context: Context) -> None:
    hook = _subscribe(context)
    context.expect(
        hook.created["channel"] == {"type": "webhook", "url": hook.url}
        and hook.created["types"] == [context.record_type()],
        f"The subscription created is {hook.created['channel']} for {hook.created['types']}.",
        "the channel and types asked for",
    )
    read = context.get(f"/v1/subscriptions/{hook.id}", party="subscriber")
    context.expect_status(read, 200, "the new subscription could not be read back")
    body = context.expect_schema(read, "Subscription")
    context.expect(
        body["id"] == hook.id and "secret" not in body,
        "The subscription read back is another one or shows its secret again.",
        "the same subscription, without its secret (shown only at creation)",
        read,
    )
    token: str | None = None
    for _ in range(PAGES_LIMIT):
        params = {"page_token": token} if token else {}
        listed = context.get("/v1/subscriptions", party="subscriber", params=params)
        context.expect_status(listed, 200, "the subscriber's subscriptions could not be listed")
        page = context.expect_schema(listed, "SubscriptionPage")
        if any(item["id"] == hook.id for item in page["items"]):
            return
        token = page["nextPageToken"]
        if token is None:
            break
    context.fail(
        "The new subscription is not in the list of the subscriber's subscriptions.",
        "it on a page of GET /v1/subscriptions",
    )


@check(
    "CX-SUB-002",
    "A published record reaches the webhook as a structured CloudEvent, signed with the "
    "subscription's secret",
    clause=WEBHOOK,
)
def delivered(context: Context) -> None:
    hook = _subscribe(context)
    record, _ = context.published_record()
    (delivery,) = _delivered(context, hook, _subject(record))
    context.expect(
        delivery.verified,
        f"The delivery's signature does not verify: {delivery.problem} "
        f"(webhook-signature: {delivery.signature!r}).",
        "webhook-signature: v1,<HMAC-SHA256 of id.timestamp.body with the secret> (Standard "
        "Webhooks), a timestamp within five minutes",
    )
    media = (delivery.content_type or "").split(";")[0].strip().lower()
    context.expect(
        media == CLOUDEVENTS_JSON,
        f"The delivery's Content-Type is {delivery.content_type!r}.",
        f"{CLOUDEVENTS_JSON}: a CloudEvent in structured mode",
    )
    event = delivery.event or {}
    _valid(context, event, "Event", "The delivered event")
    context.expect(
        delivery.webhook_id == event["id"],
        f"The webhook-id {delivery.webhook_id!r} is not the event's id {event['id']!r}.",
        "webhook-id equal to the event's id",
    )
    context.expect(
        event["type"] == UPDATED
        and event.get("subscription") == hook.id
        and event["data"].get("id") == record["id"],
        f"The event is {event['type']} for subscription {event.get('subscription')!r} about "
        f"{event['data'].get('id')!r}.",
        f"{UPDATED} for {hook.id} about {record['id']}",
    )


@check(
    "CX-SUB-003",
    "Events are numbered from 1 without gaps or repeats, and delivered in that order",
    clause=CREATE,
)
def sequenced(context: Context) -> None:
    hook = _subscribe(context)
    subjects = [_subject(context.published_record()[0]) for _ in range(3)]
    _delivered(context, hook, subjects[-1])
    deliveries = _records(
        context.receiver().wait_for(
            hook.key,
            lambda seen: {(d.event or {}).get("subject") for d in _records(seen)} >= set(subjects),
            context.config.delivery_seconds,
        )
    )
    numbers: dict[str, int | None] = {}
    for found in deliveries:
        numbers.setdefault(found.webhook_id or "", found.sequence)
        context.expect(
            numbers[found.webhook_id or ""] == found.sequence,
            f"Event {found.webhook_id} came twice with different sequences.",
            "a retried event with its sequence unchanged",
        )
    in_order = list(dict.fromkeys(found.sequence for found in deliveries))
    context.expect(
        in_order == list(range(1, len(in_order) + 1)) and len(numbers) == len(in_order),
        f"Three published records were delivered as sequences {in_order} "
        f"({len(numbers)} distinct events).",
        "sequences 1, 2, 3 in that order, each one event",
    )


@check(
    "CX-SUB-004",
    "Events replayed after a sequence, page by page, are those that were delivered",
    clause=EVENTS,
)
def replayed(context: Context) -> None:
    hook = _subscribe(context)
    subjects = [_subject(context.published_record()[0]) for _ in range(3)]
    _delivered(context, hook, subjects[-1])
    delivered = {
        found.sequence: found.event for found in _records(context.receiver().deliveries(hook.key))
    }
    replay = _replay(context, hook, 0)
    sequences = [int(item.get("sequence", "0")) for item in replay]
    context.expect(
        sequences == list(range(1, len(sequences) + 1)) and len(sequences) >= len(subjects),
        f"Replaying from after=0 gave sequences {sequences}.",
        f"sequences 1 to {len(subjects)} at least, without gaps, in order",
    )
    for item in replay:
        number = int(item["sequence"])
        context.expect(
            number not in delivered or delivered[number] == item,
            f"The replayed event {number} differs from the one delivered: {item}.",
            "each event exactly as it was POSTed",
        )
    later = [int(item["sequence"]) for item in _replay(context, hook, 1)]
    context.expect(
        later == sequences[1:],
        f"Replaying from after=1 gave sequences {later}.",
        f"sequences {sequences[1:]}",
    )


@check(
    "CX-SUB-005",
    "An event the receiver refused with 500 is retried after Retry-After; the status shows both",
    clause=WEBHOOK,
)
def retried(context: Context) -> None:
    hook = _subscribe(context)
    receiver = context.receiver()
    receiver.inject(hook.key, Fault.SERVER_ERROR, retry_after="1")
    record, _ = context.published_record()
    subject = _subject(record)
    (first,) = _delivered(context, hook, subject)

    def failing() -> dict[str, Any] | None:
        status = _status(context, hook)
        error = status["lastError"] or {}
        if status["attempts"] >= 1 and error.get("statusCode") == 500:
            return status
        if len(_about(receiver.deliveries(hook.key), subject)) > 1:
            return {}
        return None

    seen = _until(failing, context.config.delivery_seconds)
    context.expect(
        bool(seen),
        "While the event awaited its retry, the status never showed the failed attempt.",
        "attempts of 1 or more and lastError.statusCode 500 until the retry",
    )
    first_again, second = _delivered(context, hook, subject, count=2)
    context.expect(
        second.webhook_id == first.webhook_id,
        f"The retry's webhook-id is {second.webhook_id!r}, not {first.webhook_id!r}.",
        "the same webhook-id on every attempt at an event",
    )
    waited = second.received_at - first_again.received_at
    context.expect(
        waited >= 0.8,
        f"The retry came {waited:.2f} s after a 500 with Retry-After: 1.",
        "the next attempt no sooner than Retry-After says",
    )
    _expect_recovered(context, hook, first.sequence or 0)


@check(
    "CX-SUB-006",
    "A receiver that answers 410 Gone has its subscription disabled, with the reason",
    clause=WEBHOOK,
)
def gone(context: Context) -> None:
    hook = _subscribe(context)
    context.receiver().inject(hook.key, Fault.GONE)
    record, _ = context.published_record()
    _delivered(context, hook, _subject(record))

    def disabled() -> dict[str, Any] | None:
        status = _status(context, hook)
        return status if status["status"] == "disabled" else None

    status = _until(disabled, context.config.delivery_seconds)
    context.expect(
        status is not None,
        "After the receiver answered 410 Gone, the subscription's status is not disabled.",
        'status "disabled"',
    )
    assert status is not None
    context.expect(
        isinstance(status["statusReason"], str) and bool(status["statusReason"]),
        "The disabled subscription's status gives no reason.",
        "statusReason saying why deliveries stopped",
    )


@check(
    "CX-SUB-007",
    "A subscription filtered to one service gets no event about another service's record",
    clause=FILTER,
)
def filtered(context: Context) -> None:
    _offered(context)
    if context.config.service_id is None:
        raise NotApplicableError("no publisher service_id is configured")
    answer = context.get("/v1/services", party="publisher")
    context.expect_status(answer, 200, "the publisher's services could not be listed")
    others = [
        item["id"]
        for item in context.expect_schema(answer, "ServicePage")["items"]
        if item["id"] != context.config.service_id
    ]
    if not others:
        raise NotApplicableError("the publisher has one service: no other to filter by")
    matching = _subscribe(context, [context.config.service_id])
    other = _subscribe(context, [others[0]])
    record, _ = context.published_record()
    _delivered(context, matching, _subject(record))
    events = _replay(context, other, 0)
    context.expect(
        all(item.get("subject") != _subject(record) for item in events),
        f"A subscription filtered to {others[0]} has an event about a record of "
        f"{context.config.service_id}.",
        "only events about records of the filter's services",
    )
    context.expect(
        not _about(context.receiver().deliveries(other.key), _subject(record)),
        f"A subscription filtered to {others[0]} was sent an event about a record of "
        f"{context.config.service_id}.",
        "only events about records of the filter's services",
    )
    in_other = example_record(record["recordType"], others[0], context.random)
    context.expect_status(
        context.publish(in_other), 201, f"the publisher could not publish for {others[0]}"
    )
    _delivered(context, other, _subject(in_other))


@check(
    "CX-SUB-008",
    "After a secret is rotated, deliveries carry a signature with each secret during the overlap",
    clause=ROTATE,
)
def rotated(context: Context) -> None:
    if not _offered(context)["secretOverlapHours"] > 0:
        raise NotApplicableError("the capability document declares no secret overlap")
    hook = _subscribe(context)
    answer = context.request(
        "POST", f"/v1/subscriptions/{hook.id}/rotate-secret", party="subscriber"
    )
    context.expect_status(answer, 200, "the secret could not be rotated")
    body = context.expect_schema(answer, "SubscriptionSecret")
    new = body["secret"]
    context.expect(
        isinstance(new, str) and new != hook.secret,
        "Rotating gave no new secret.",
        "a new whsec_ secret",
        answer,
    )
    context.receiver().set_secrets(hook.key, [hook.secret, new])
    record, _ = context.published_record()
    (delivery,) = _delivered(context, hook, _subject(record))
    context.expect(
        set(delivery.verified_with) == {hook.secret, new} and len(delivery.signatures) == 2,
        f"During the overlap the delivery carries {len(delivery.signatures)} signature(s), "
        f"verifying with {len(delivery.verified_with)} of the two secrets"
        + (f" ({delivery.problem})" if delivery.problem else "")
        + ".",
        "two space-separated v1 signatures, one with the old and one with the new secret",
    )


@check(
    "CX-SUB-009",
    "An event the receiver did not answer within the declared timeout is sent again",
    clause=WEBHOOK,
)
def timed_out(context: Context) -> None:
    late = _offered(context)["timeoutSeconds"] + 1
    _expect_retried_after(context, Fault.TIMEOUT, f"an answer {late:g} s late", sleep_seconds=late)


@check(
    "CX-SUB-010",
    "An event whose connection the receiver dropped unanswered is sent again",
    clause=WEBHOOK,
)
def dropped(context: Context) -> None:
    _expect_retried_after(context, Fault.DROP, "a dropped connection")


@check(
    "CX-SUB-011",
    "An idle webhook is sent a signed heartbeat that gives the latest sequence",
    clause=spec_clause("components", "schemas", "Event"),
)
def heartbeat(context: Context) -> None:
    every = _offered(context)["heartbeatSeconds"]
    waiting = context.config.heartbeat_wait_seconds
    if every > waiting:
        raise NotApplicableError(
            f"heartbeats come after {every:g} s idle, longer than the suite waits "
            f"(heartbeat_wait_seconds, {waiting:g} s)"
        )
    hook = _subscribe(context)
    record, _ = context.published_record()
    (last,) = _delivered(context, hook, _subject(record))

    def beats(seen: list[Delivery]) -> list[Delivery]:
        return [
            found
            for found in seen
            if found.received_at > last.received_at and (found.event or {}).get("type") == HEARTBEAT
        ]

    seconds = every + context.config.delivery_seconds
    found = beats(context.receiver().wait_for(hook.key, lambda seen: bool(beats(seen)), seconds))
    context.expect(
        bool(found),
        f"No heartbeat reached the webhook in the {seconds:g} s after its last event.",
        f"an {HEARTBEAT} event once the webhook had been idle {every:g} s",
    )
    beat = found[0]
    context.expect(
        beat.verified,
        f"The heartbeat's signature does not verify: {beat.problem}.",
        "a heartbeat signed as every delivery is",
    )
    event = beat.event or {}
    _valid(context, event, "Event", "The heartbeat")
    idle = beat.received_at - last.received_at
    context.expect(
        idle >= every / 2,
        f"The heartbeat came {idle:.2f} s after the last event, although heartbeatSeconds is "
        f"{every:g}.",
        f"a heartbeat only once the webhook has been idle about {every:g} s",
    )
    latest = (event.get("data") or {}).get("latestSequence")
    context.expect(
        "sequence" not in event and latest == last.sequence,
        f"The heartbeat has sequence {event.get('sequence')!r} and latestSequence {latest!r}.",
        f"no sequence of its own and data.latestSequence {last.sequence} (the last event's)",
    )
    context.expect(
        beat.webhook_id == event.get("id") and beat.webhook_id != last.webhook_id,
        f"The heartbeat's webhook-id is {beat.webhook_id!r} for event id {event.get('id')!r}.",
        "a webhook-id of its own, equal to the heartbeat's id",
    )
