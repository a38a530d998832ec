"""RFC 9457 problem details: every error the API returns, with a stable code and JSON pointers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from care_exchange_server.bodies import ProblemBody, ProblemErrorBody

PROBLEM_BASE = "https://care-exchange.org/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its HTTP status, its title, and a sentence on when it happens."""

    status: int
    title: str
    about: str


def _kind(status: int, title: str, about: str) -> ProblemType:
    return ProblemType(status, title, about)


# Every problem the API answers with, each defined once; a test holds the spec's list to it.
CATALOGUE: Mapping[str, ProblemType] = {
    "invalid_json": _kind(
        400,
        "The request body is not valid JSON",
        "The body is not strict JSON: not UTF-8, a byte-order mark, a syntax error, a member "
        "given twice, NaN or Infinity, a number out of range, or nesting too deep.",
    ),
    "invalid_query": _kind(
        400,
        "The query parameters are not valid",
        "A query parameter is unknown, repeated or does not meet its schema, or a page token "
        "was not issued for this listing.",
    ),
    "invalid_header": _kind(
        400,
        "A request header is not valid",
        "A header the operation reads, such as Idempotency-Key, does not meet its schema.",
    ),
    "bad_request": _kind(
        400,
        "The request could not be read",
        "The HTTP request itself is malformed, before any of its content could be judged.",
    ),
    "invalid_token": _kind(
        401,
        "The access token is missing or not valid",
        "No bearer token, or one that is expired, revoked, badly signed or not for this server.",
    ),
    "insufficient_scope": _kind(
        403,
        "The access token lacks the scope this operation needs",
        "The token is valid but does not carry the scope the challenge names.",
    ),
    "forbidden": _kind(
        403,
        "You may not do this",
        "The caller's organisation may not do this to this resource, whatever its scopes.",
    ),
    "not_found": _kind(
        404,
        "Not found",
        "No such resource, or one the caller may not see: the two are never told apart.",
    ),
    "unknown_record_type": _kind(
        404, "No such record type", "The path names a record type the standard does not define."
    ),
    "method_not_allowed": _kind(
        405,
        "Method not allowed",
        "The path exists but not with this method; Allow lists the methods it has.",
    ),
    "not_acceptable": _kind(
        406,
        "None of the accepted media types can be produced",
        "The Accept header names no media type the operation produces; the detail lists them.",
    ),
    "conflict": _kind(
        409,
        "The request conflicts with the current state",
        "An id that is taken, or an agreement or subscription not in a state that allows this.",
    ),
    "idempotency_in_progress": _kind(
        409,
        "A request with this idempotency key is still being processed",
        "Another request with the same Idempotency-Key is being worked on; retry after "
        "Retry-After.",
    ),
    "gone": _kind(
        410,
        "The record has been retracted",
        "The record was retracted; its versions stay readable.",
    ),
    "events_pruned": _kind(
        410,
        "The events asked for are no longer kept",
        "Events before the lowest kept sequence were delivered and pruned; catch up from the feed.",
    ),
    "precondition_failed": _kind(
        412,
        "The record has changed since you read it",
        "If-Match does not name the record's current version; read it again and reapply.",
    ),
    "payload_too_large": _kind(
        413,
        "The request body is too large",
        "The body is larger than limits.maxBodyBytes in the capability document.",
    ),
    "too_many_items": _kind(
        413,
        "Too many items in one request",
        "A bulk request has more records than limits.bulkMaxItems; split the batch.",
    ),
    "unsupported_media_type": _kind(
        415,
        "The request body has an unsupported media type",
        "The body is not application/json in UTF-8, or the operation takes no body.",
    ),
    "validation_failed": _kind(
        422,
        "The request does not conform to the schema",
        "The body is JSON but breaks its schema or a rule; each entry of errors points at one "
        "place.",
    ),
    "idempotency_key_reused": _kind(
        422,
        "The idempotency key was used for a different request",
        "The Idempotency-Key was first used with another method, path or body.",
    ),
    "precondition_required": _kind(
        428,
        "This request must be conditional",
        "A change to a record needs If-Match with the ETag of the version it is based on.",
    ),
    "internal_error": _kind(
        500,
        "Internal server error",
        "The server failed; the request id identifies the log entry. Never an answer to bad input.",
    ),
    "service_unavailable": _kind(
        503,
        "The service is unavailable for a moment",
        "The database is unreachable or busy for a moment; retry after Retry-After.",
    ),
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

    def as_dict(self) -> ProblemErrorBody:
        found = ProblemErrorBody(keyword=self.keyword, message=self.message)
        if self.parameter:
            found["parameter"] = self.parameter
        else:
            found["pointer"] = self.pointer
        if self.docs:
            found["docs"] = self.docs
        return found


@dataclass
class ProblemError(Exception):
    """Raised anywhere below the routes; the handler turns it into a problem+json response.

    It names its code only: the status and title come from the catalogue.
    """

    code: str
    detail: str
    errors: Sequence[FieldError] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in CATALOGUE:
            raise ValueError(f"{self.code!r} is not a problem of the catalogue")

    @property
    def status(self) -> int:
        return CATALOGUE[self.code].status

    def body(self, request_id: str) -> ProblemBody:
        body = ProblemBody(
            type=PROBLEM_BASE + self.code,
            title=CATALOGUE[self.code].title,
            status=self.status,
            detail=self.detail,
            code=self.code,
            requestId=request_id,
        )
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        return body

    def printable_body(self, request_id: str) -> ProblemBody:
        """The body as sent: any lone surrogate echoed from the request shown as U+FFFD."""
        printable: ProblemBody = _printable(self.body(request_id))
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
