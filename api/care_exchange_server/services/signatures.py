"""Standard Webhooks signatures, made by the `standardwebhooks` package receivers verify with.

Secrets are in the `whsec_` form; signatures are HMAC-SHA256 `v1` over
`<webhook-id>.<webhook-timestamp>.<body>`. While a rotated secret's overlap lasts, a message
carries one signature per secret, so a receiver holding either verifies it.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks import Webhook

PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    signature: str = _signer(secret).sign(message_id, moment, body.decode("utf-8"))
    return signature


@lru_cache(maxsize=4096)
def _signer(secret: str) -> Webhook:
    """One signer per secret: decoding the secret costs more than a signature."""
    return Webhook(secret)


def headers(
    secrets_in_use: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt at one message."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret, message_id, timestamp, body) for secret in secrets_in_use
        ),
    }
