"""RFC 9457 problem details: every error the API returns, with a stable code and JSON pointers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PROBLEM_BASE = "https://care-exchange.org/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

TITLES = {
    "invalid_json": "The request body is not valid JSON",
    "unsupported_media_type": "The request body has an unsupported media type",
    "payload_too_large": "The request body is too large",
    "validation_failed": "The request does not conform to the schema",
    "unknown_record_type": "No such record type",
    "not_found": "Not found",
    "gone": "The record has been retracted",
    "events_pruned": "The events asked for are no longer kept",
    "precondition_failed": "The record has changed since you read it",
    "precondition_required": "This request must be conditional",
    "conflict": "The request conflicts with the current state",
    "idempotency_key_reused": "The idempotency key was used for a different request",
    "idempotency_in_progress": "A request with this idempotency key is still being processed",
    "insufficient_scope": "The access token lacks the scope this operation needs",
    "forbidden": "You may not do this",
    "invalid_token": "The access token is missing or not valid",
    "invalid_query": "The query parameters are not valid",
    "invalid_header": "A request header is not valid",
    "too_many_items": "Too many items in one request",
    "method_not_allowed": "Method not allowed",
    "internal_error": "Internal server error",
    "service_unavailable": "The service is unavailable for a moment",
}


@dataclass(frozen=True)
class FieldError:
    """One problem with one place in the request.

    The place is a JSON pointer into the body, or the name of a query or header parameter.
    """

    pointer: str
    message: str
    keyword: str = "invalid"
    docs: str | None = None
    parameter: str | None = None

    @classmethod
    def of_parameter(cls, name: str, message: str, keyword: str = "invalid") -> FieldError:
        return cls(pointer="", message=message, keyword=keyword, parameter=name)

    def as_dict(self) -> dict[str, str]:
        place = {"parameter": self.parameter} if self.parameter else {"pointer": self.pointer}
        found = {**place, "keyword": self.keyword, "message": self.message}
        if self.docs:
            found["docs"] = self.docs
        return found


@dataclass
class ProblemError(Exception):
    """Raised anywhere below the routes; the handler turns it into a problem+json response."""

    status: int
    code: str
    detail: str
    errors: Sequence[FieldError] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": TITLES.get(self.code, self.code),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if request_id:
            body["requestId"] = request_id
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        return body

    def printable_body(self, request_id: str | None = None) -> dict[str, Any]:
        """The body as sent: any lone surrogate echoed from the request shown as U+FFFD."""
        printable: dict[str, Any] = _printable(self.body(request_id))
        return printable


_SURROGATE = re.compile("[\ud800-\udfff]")


def _printable(value: Any) -> Any:
    """The body with any lone surrogate echoed from the request shown as U+FFFD.

    Messages quote what the client sent, and a lone surrogate cannot be encoded as UTF-8.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_printable(item) for item in value]
    if isinstance(value, dict):
        return {_printable(name): _printable(item) for name, item in value.items()}
    return value
