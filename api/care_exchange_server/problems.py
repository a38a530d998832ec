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
    """One kind of problem: its HTTP status, its title, when it happens and what to do then.

    `about` and `remedy` make the page that the problem's `type` URI names (`/problems/<code>`).
    """

    status: int
    title: str
    about: str
    remedy: str


def _kind(status: int, title: str, about: str, remedy: str) -> ProblemType:
    return ProblemType(status, title, about, remedy)


# Every problem the API answers with, each defined once; a test holds the spec's list to it.
CATALOGUE: Mapping[str, ProblemType] = {
    "invalid_json": _kind(
        400,
        "The request body is not valid JSON",
        "The body is not strict JSON: not UTF-8, a byte-order mark, a syntax error, a member "
        "given twice, NaN or Infinity, a number out of range, or nesting too deep.",
        "Send the body as UTF-8 JSON without a byte-order mark, each member once and every "
        "number finite and in range; the errors entry, when there is one, points at the place "
        "to mend.",
    ),
    "invalid_query": _kind(
        400,
        "The query parameters are not valid",
        "A query parameter is unknown, repeated or does not meet its schema, or a page token "
        "was not issued for this listing.",
        "Remove or correct the parameters named in errors; pass a page token back only with the "
        "query it came from.",
    ),
    "invalid_header": _kind(
        400,
        "A request header is not valid",
        "A header the operation reads, such as Idempotency-Key, does not meet its schema.",
        "Correct the header named in errors; an Idempotency-Key is 1 to 255 characters.",
    ),
    "bad_request": _kind(
        400,
        "The request could not be read",
        "The HTTP request itself is malformed, before any of its content could be judged.",
        "Check the HTTP client and any proxy on the way: the request line or its headers are "
        "not valid HTTP.",
    ),
    "invalid_token": _kind(
        401,
        "The access token is missing or not valid",
        "No bearer token, or one that is expired, revoked, badly signed or not for this server.",
        "Obtain a new access token at the token endpoint and send it as Authorization: Bearer "
        "<token>; check that it was issued by this server.",
    ),
    "insufficient_scope": _kind(
        403,
        "The access token lacks the scope this operation needs",
        "The token is valid but does not carry the scope the challenge names.",
        "Ask for a token with the scope named in the WWW-Authenticate challenge; the server's "
        "administrator sets the scopes your client may have.",
    ),
    "forbidden": _kind(
        403,
        "You may not do this",
        "The caller's organisation may not do this to this resource, whatever its scopes.",
        "Check which organisation your client belongs to: the resource is another's, or needs a "
        "delegation or an agreement that is not in place.",
    ),
    "not_found": _kind(
        404,
        "Not found",
        "No such resource, or one the caller may not see: the two are never told apart.",
        "Check the path and the identifier; a resource you may not see is answered the same "
        "way, so check your agreements too.",
    ),
    "unknown_record_type": _kind(
        404,
        "No such record type",
        "The path names a record type the standard does not define.",
        "Use one of the record types listed in the capability document (/.well-known/care- "
        "exchange).",
    ),
    "method_not_allowed": _kind(
        405,
        "Method not allowed",
        "The path exists but not with this method; Allow lists the methods it has.",
        "Use one of the methods listed in the Allow header.",
    ),
    "not_acceptable": _kind(
        406,
        "None of the accepted media types can be produced",
        "The Accept header names no media type the operation produces; the detail lists them.",
        "Accept one of the media types the detail lists, or send no Accept header for JSON.",
    ),
    "conflict": _kind(
        409,
        "The request conflicts with the current state",
        "An id that is taken, or an agreement or subscription not in a state that allows this.",
        "Read the resource again to see its current state, then decide whether the request "
        "still applies.",
    ),
    "idempotency_in_progress": _kind(
        409,
        "A request with this idempotency key is still being processed",
        "Another request with the same Idempotency-Key is being worked on; retry after "
        "Retry-After.",
        "Wait the seconds in Retry-After, then send the same request with the same Idempotency- "
        "Key again.",
    ),
    "gone": _kind(
        410,
        "The record has been retracted",
        "The record was retracted; its versions stay readable.",
        "Read the record's versions if you need what it said, and remove it from your own copies.",
    ),
    "events_pruned": _kind(
        410,
        "The events asked for are no longer kept",
        "Events before the lowest kept sequence were delivered and pruned; catch up from the feed.",
        "Catch up from the change feed of each record type, then read events from the lowest "
        "sequence still kept.",
    ),
    "precondition_failed": _kind(
        412,
        "The record has changed since you read it",
        "If-Match does not name the record's current version; read it again and reapply.",
        "Read the record again, apply your change to its current version and send that "
        "version's ETag in If-Match.",
    ),
    "payload_too_large": _kind(
        413,
        "The request body is too large",
        "The body is larger than limits.maxBodyBytes in the capability document.",
        "Send a smaller body (the limit is limits.maxBodyBytes in the capability document); "
        "split a large batch into several requests.",
    ),
    "too_many_items": _kind(
        413,
        "Too many items in one request",
        "A bulk request has more records than limits.bulkMaxItems; split the batch.",
        "Split the batch into requests of at most limits.bulkMaxItems records each.",
    ),
    "unsupported_media_type": _kind(
        415,
        "The request body has an unsupported media type",
        "The body is not application/json in UTF-8, or the operation takes no body.",
        "Send the body as application/json in UTF-8, or no body to an operation that takes none.",
    ),
    "validation_failed": _kind(
        422,
        "The request does not conform to the schema",
        "The body is JSON but breaks its schema or a rule; each entry of errors points at one "
        "place.",
        "Mend each place that an errors entry points at; its docs link explains the field.",
    ),
    "idempotency_key_reused": _kind(
        422,
        "The idempotency key was used for a different request",
        "The Idempotency-Key was first used with another method, path or body.",
        "Use a new Idempotency-Key for a new request; repeat a key only to retry the very same "
        "request.",
    ),
    "precondition_required": _kind(
        428,
        "This request must be conditional",
        "A change to a record needs If-Match with the ETag of the version it is based on.",
        "Read the record, then send the change with its ETag in If-Match.",
    ),
    "rate_limited": _kind(
        429,
        "Too many requests",
        "The caller made more requests than rateLimits in the capability document allows.",
        "Wait the number of seconds in Retry-After, then retry; spread requests out, or send "
        "records in bulk, to stay within the limits.",
    ),
    "internal_error": _kind(
        500,
        "Internal server error",
        "The server failed; the request id identifies the log entry. Never an answer to bad input.",
        "Retry later; if it happens again, report it to the server's operator quoting the "
        "requestId.",
    ),
    "service_unavailable": _kind(
        503,
        "The service is unavailable for a moment",
        "The database is unreachable or busy for a moment; retry after Retry-After.",
        "Wait the seconds in Retry-After and retry; a POST with the same Idempotency-Key is "
        "safe to repeat.",
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
    rule: str | None = None

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
        if self.rule:
            found["rule"] = self.rule
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
