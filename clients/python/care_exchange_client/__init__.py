"""The Care Exchange Python SDK: `Client` (blocking) and `AsyncClient` over the same operations.

    from care_exchange_client import Client, ClientSecret

    with Client("https://exchange.example.org", ClientSecret(CLIENT_ID, SECRET)) as client:
        envelope = client.publish_record("capacity-snapshot", record)
        for item in client.feed("capacity-snapshot"):
            ...

See clients/python/README.md. The spec (spec/openapi.yaml) is normative; this package follows it.
"""

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
