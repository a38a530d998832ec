"""The Care Exchange Python SDK: `Client` (blocking) and `AsyncClient` over the same operations.

    from care_exchange_client import Client, ClientSecret

    with Client("https://exchange.example.org", ClientSecret(CLIENT_ID, SECRET)) as client:
        envelope = client.publish_record("capacity-snapshot", record)
        for item in client.feed("capacity-snapshot"):
            ...

See clients/python/README.md. The spec (spec/openapi.yaml) is normative; this package follows it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from care_exchange_client.async_client import AsyncClient
    from care_exchange_client.auth import ClientSecret, PrivateKey
    from care_exchange_client.bulk import BulkItemResult
    from care_exchange_client.client import Client
    from care_exchange_client.cursors import EventPosition, FeedPosition
    from care_exchange_client.errors import (
        BadRequest,
        CareExchangeError,
        Conflict,
        EventsPruned,
        Forbidden,
        Gone,
        IdempotencyInProgress,
        IdempotencyKeyReused,
        NotFound,
        PayloadTooLarge,
        PreconditionFailed,
        PreconditionRequired,
        ProblemError,
        RateLimited,
        ServerError,
        ServiceUnavailable,
        TokenError,
        TransportError,
        Unauthorized,
        UnexpectedResponse,
        UnsupportedMediaType,
        ValidationFailed,
    )
    from care_exchange_client.operations import OPERATIONS, etag
    from care_exchange_client.retry import NO_RETRIES, RetryPolicy
    from care_exchange_client.webhooks import WebhookVerificationError, parse_event, verify_webhook

# Names are imported on first use (PEP 562): `care-exchange --help` reads COMMANDS below and
# must not pay for Authlib and an HTTP stack.
_HOMES = {
    "AsyncClient": "async_client",
    "ClientSecret": "auth",
    "PrivateKey": "auth",
    "BulkItemResult": "bulk",
    "Client": "client",
    "EventPosition": "cursors",
    "FeedPosition": "cursors",
    "BadRequest": "errors",
    "CareExchangeError": "errors",
    "Conflict": "errors",
    "EventsPruned": "errors",
    "Forbidden": "errors",
    "Gone": "errors",
    "IdempotencyInProgress": "errors",
    "IdempotencyKeyReused": "errors",
    "NotFound": "errors",
    "PayloadTooLarge": "errors",
    "PreconditionFailed": "errors",
    "PreconditionRequired": "errors",
    "ProblemError": "errors",
    "RateLimited": "errors",
    "ServerError": "errors",
    "ServiceUnavailable": "errors",
    "TokenError": "errors",
    "TransportError": "errors",
    "Unauthorized": "errors",
    "UnexpectedResponse": "errors",
    "UnsupportedMediaType": "errors",
    "ValidationFailed": "errors",
    "OPERATIONS": "operations",
    "etag": "operations",
    "NO_RETRIES": "retry",
    "RetryPolicy": "retry",
    "WebhookVerificationError": "webhooks",
    "parse_event": "webhooks",
    "verify_webhook": "webhooks",
}
# The provider command line (the `care_exchange.commands` entry point).
COMMANDS = (
    (
        "login",
        "care_exchange_client.login_command:login",
        "Check your client's credentials with a server and keep them for publish.",
    ),
    (
        "publish",
        "care_exchange_client.publish_command:publish",
        "Validate records from files or spreadsheets, then publish them in bulk.",
    ),
)

__all__ = [
    "NO_RETRIES",
    "OPERATIONS",
    "AsyncClient",
    "BadRequest",
    "BulkItemResult",
    "CareExchangeError",
    "Client",
    "ClientSecret",
    "Conflict",
    "EventPosition",
    "EventsPruned",
    "FeedPosition",
    "Forbidden",
    "Gone",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "PreconditionRequired",
    "PrivateKey",
    "ProblemError",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "TokenError",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WebhookVerificationError",
    "etag",
    "parse_event",
    "verify_webhook",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'care_exchange_client' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"care_exchange_client.{home}"), name)
    globals()[name] = value
    return value
