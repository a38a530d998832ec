"""A subscriber's webhook endpoint: it takes what a conformant server sends, and nothing forged.

Run by `care-exchange conformance receiver`, not `run`. Every forgery is sent after a genuine
delivery has been acknowledged (`_genuine_first`), so an endpoint that refuses everything cannot
pass the refusal checks; each delivery has a new `webhook-id`, so an endpoint that acknowledges
an id it has seen without verifying it again is not mistaken for one that verifies.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

from care_exchange_conformance.registry import Level, Target, check, spec_clause
from care_exchange_conformance.sender import Sender

WEBHOOK = spec_clause("webhooks", "subscriptionEvent", "post")
# The spec's tolerance is five minutes; ten leaves no doubt.
STALE = timedelta(minutes=10)


def _other_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _genuine_first(sender: Sender) -> None:
    sender.expect_acknowledged(
        sender.deliver(sender.event()), "A correctly signed event (sent before the forgery)"
    )


@check(
    "CX-RECV-001",
    "A correctly signed event is acknowledged with a 2xx",
    clause=WEBHOOK,
    target=Target.WEBHOOK_RECEIVER,
)
def signed_event(sender: Sender) -> None:
    sender.expect_acknowledged(sender.deliver(sender.event()), "A correctly signed event")


@check(
    "CX-RECV-002",
    "A delivery signed with an old and a new secret, as during a rotation, is acknowledged",
    clause=spec_clause("paths", "/v1/subscriptions/{subscriptionId}/rotate-secret", "post"),
    target=Target.WEBHOOK_RECEIVER,
)
def two_signatures(sender: Sender) -> None:
    for order, used in (
        ("another secret's signature first", [_other_secret(), sender.secret]),
        ("another secret's signature second", [sender.secret, _other_secret()]),
    ):
        answer = sender.deliver(sender.event(), secrets=used)
        sender.expect_acknowledged(answer, f"A delivery with two signatures, {order},")


@check(
    "CX-RECV-003",
    "The same event delivered again (a retry, same webhook-id) is acknowledged",
    clause=WEBHOOK,
    target=Target.WEBHOOK_RECEIVER,
)
def retried_event(sender: Sender) -> None:
    event = sender.event()
    sender.expect_acknowledged(sender.deliver(event), "The first delivery of an event")
    sender.expect_acknowledged(
        sender.deliver(event), "A second delivery of the same event (a retry)"
    )


@check(
    "CX-RECV-004",
    "A delivery signed with another secret is refused",
    clause=WEBHOOK,
    target=Target.WEBHOOK_RECEIVER,
)
def wrong_signature(sender: Sender) -> None:
    _genuine_first(sender)
    answer = sender.deliver(sender.event(), secrets=[_other_secret()])
    sender.expect_refused(answer, "A delivery signed with another secret")


@check(
    "CX-RECV-005",
    "A delivery whose body was changed after signing is refused",
    clause=WEBHOOK,
    target=Target.WEBHOOK_RECEIVER,
)
def tampered_body(sender: Sender) -> None:
    _genuine_first(sender)
    event = sender.event()
    signed = sender.event()
    signed["id"] = event["id"]
    signed["data"] = {**signed["data"], "version": event["data"]["version"] + 1}
    answer = sender.deliver(event, signed_body=Sender.body(signed))
    sender.expect_refused(answer, "A delivery whose body differs from the one signed")


@check(
    "CX-RECV-006",
    "A delivery whose timestamp is older than the five-minute tolerance is refused",
    clause=WEBHOOK,
    target=Target.WEBHOOK_RECEIVER,
)
def stale_timestamp(sender: Sender) -> None:
    _genuine_first(sender)
    answer = sender.deliver(sender.event(), sent_at=datetime.now(UTC) - STALE)
    sender.expect_refused(answer, "A correctly signed delivery timestamped ten minutes ago")


@check(
    "CX-RECV-007",
    "A delivery without a signature is refused",
    clause=WEBHOOK,
    target=Target.WEBHOOK_RECEIVER,
)
def unsigned(sender: Sender) -> None:
    _genuine_first(sender)
    answer = sender.deliver(sender.event(), secrets=[])
    sender.expect_refused(answer, "A delivery with an empty webhook-signature")


@check(
    "CX-RECV-008",
    "A heartbeat, which has no sequence, is acknowledged",
    clause=spec_clause("components", "schemas", "Event"),
    level=Level.RECOMMENDED,
    target=Target.WEBHOOK_RECEIVER,
)
def heartbeat(sender: Sender) -> None:
    sender.expect_acknowledged(sender.deliver(sender.event("heartbeat")), "A signed heartbeat")
