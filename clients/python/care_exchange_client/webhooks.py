"""Receiving webhooks: check the Standard Webhooks signature, then read the CloudEvent.

Framework-free on purpose: give it the request's headers and its raw body bytes, exactly as
received (a re-serialised body no longer matches its signature). The signature check is the
`standardwebhooks` package's; this module adds what a Care Exchange receiver also needs:

- several secrets at once, for your own switch-over after `rotate_subscription_secret` (while
  the server's overlap lasts, each delivery carries one signature per secret, so either of
  yours verifies it);
- a timestamp tolerance you can tighten (the package's own bound, five minutes, always holds,
  and is what the spec asks receivers to enforce);
- one exception type, whatever was wrong, so a receiver answers 400 (or 401) without leaking
  which check failed;
- the body parsed as the spec's `Event`, also for heartbeats
  (`org.careexchange.heartbeat`, no `sequence`, `data.latestSequence` to spot a gap).

Deduplicate on `event["id"]` (the `webhook-id`): a retried delivery keeps it.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _LibraryError

from care_exchange_client.errors import CareExchangeError
from care_exchange_client.types import Event

TOLERANCE_SECONDS = 300
HEARTBEAT = "org.careexchange.heartbeat"
_REQUIRED = ("specversion", "id", "source", "type", "time", "datacontenttype", "data")


class WebhookVerificationError(CareExchangeError):
    """The delivery is not provably from the server: refuse it (do not process it)."""


def verify_webhook(
    secrets: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: float = TOLERANCE_SECONDS,
) -> Event:
    """The event of a delivery signed with one of `secrets`, sent within `tolerance` seconds.

    Raises `WebhookVerificationError` otherwise, whatever the reason.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    wanted = {name: lowered.get(name, "") for name in _SIGNED_HEADERS}
    if not all(wanted.values()):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or signature")
    try:
        sent = int(wanted["webhook-timestamp"])
    except ValueError as error:
        raise WebhookVerificationError("webhook-timestamp is not a number") from error
    if abs(time.time() - sent) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    payload = body if isinstance(body, bytes) else body.encode()
    for secret in [secrets] if isinstance(secrets, str) else secrets:
        try:
            Webhook(secret).verify(payload, wanted, json_parse=False)
        except (_LibraryError, ValueError, binascii.Error):
            continue
        return parse_event(payload)
    raise WebhookVerificationError("no signature matches a secret")


_SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def parse_event(body: bytes | str) -> Event:
    """A CloudEvents 1.0 body as the spec's `Event` (checked for its required members)."""
    try:
        event: Any = json.loads(body)
    except ValueError as error:
        raise WebhookVerificationError("the body is not JSON") from error
    if not isinstance(event, dict) or any(name not in event for name in _REQUIRED):
        raise WebhookVerificationError("the body is not a CloudEvents 1.0 event")
    if event["specversion"] != "1.0" or not isinstance(event["data"], dict):
        raise WebhookVerificationError("the body is not a CloudEvents 1.0 event")
    return cast(Event, event)


def sequence_of(event: Event) -> int | None:
    """The event's number in its subscription; None for a heartbeat, which has none."""
    sequence = event.get("sequence")
    return None if sequence is None else int(sequence)


def missed_after(event: Event, last_seen: int) -> bool:
    """Whether there are events after `last_seen` that this receiver has not had.

    True when a heartbeat's `latestSequence`, or an event's own `sequence`, is beyond the next
    expected. Fill the gap with `client.events(subscription_id, EventPosition(id, last_seen))`.
    """
    if event["type"] == HEARTBEAT:
        return int(event["data"].get("latestSequence", 0)) > last_seen
    sequence = sequence_of(event)
    return sequence is not None and sequence > last_seen + 1
