"""Verify a Care Exchange webhook delivery: Standard Webhooks, HMAC-SHA256 signatures (`v1`).

Standard library only. Give it the subscription's secret (`whsec_...`), the request's headers
and its raw body bytes exactly as received: a body parsed and serialised again no longer
matches its signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

TOLERANCE_SECONDS = 5 * 60  # refuse deliveries signed longer ago (or later) than this: replays


class InvalidWebhookError(Exception):
    """Refuse the delivery with a 400 and do not act on it."""


def verify_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> None:
    """Return if one of the delivery's signatures is `secret`'s, made within the tolerance."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (message_id and timestamp.isdigit() and signatures):
        raise InvalidWebhookError("missing or malformed webhook headers")
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        raise InvalidWebhookError("webhook-timestamp is outside the tolerance")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # Several signatures, space-separated, while a rotated secret's overlap lasts.
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return
    raise InvalidWebhookError("no signature matches the secret")
