"""Exceptions that carry what the server said, so callers branch on types and codes, not text.

Every error answer under `/v1` is an RFC 9457 problem document with a stable `code`; the class is
chosen by status (so an unknown future code still lands somewhere sensible, as the spec asks) and
narrowed by code where callers act differently (`idempotency_in_progress`, `events_pruned`).
OAuth endpoints answer RFC 6749 errors instead, which become `TokenError`.
"""

# The classes are named for the HTTP answers they stand for (NotFound, Conflict...).
# ruff: noqa: N818

from __future__ import annotations

import json
from typing import Any, cast

import httpx2

from care_exchange_client.types import Problem, ProblemItem


class CareExchangeError(Exception):
    """Anything the SDK raises on purpose; catch this to catch them all."""


class TransportError(CareExchangeError):
    """The server could not be reached or the connection broke, after the retries allowed.

    For a change (not a read) this does not say whether the server acted on it: repeat it with
    the same `Idempotency-Key` (or `If-Match`) to find out without doing it twice.
    """


class TokenError(CareExchangeError):
    """The token endpoint refused the client (RFC 6749 error, e.g. `invalid_client`)."""

    def __init__(
        self, error: str, description: str | None = None, status: int | None = None
    ) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(f"{error}: {description}" if description else error)


class UnexpectedResponse(CareExchangeError):
    """An answer the spec does not allow here (not a problem document, or an unlisted status)."""

    def __init__(self, status: int, body: bytes, message: str = "unexpected response") -> None:
        self.status = status
        self.body = body
        super().__init__(f"{message} (HTTP {status}): {body[:200]!r}")


class ProblemError(CareExchangeError):
    """An RFC 9457 problem answer. `problem` is the document exactly as sent.

    `retried` is True when the SDK had repeated the request before this answer: a
    `PreconditionFailed` or `Gone` after a retried `PUT`/`DELETE` may mean the first attempt
    took effect (the connection broke after the server committed it).
    """

    def __init__(
        self,
        problem: Problem,
        *,
        retry_after: float | None = None,
        retried: bool = False,
    ) -> None:
        self.problem = problem
        self.retry_after = retry_after
        self.retried = retried
        super().__init__(f"{problem['status']} {problem['code']}: {problem['detail']}")

    @property
    def status(self) -> int:
        return self.problem["status"]

    @property
    def code(self) -> str:
        return self.problem["code"]

    @property
    def detail(self) -> str:
        return self.problem["detail"]

    @property
    def request_id(self) -> str:
        return self.problem["requestId"]

    @property
    def errors(self) -> list[ProblemItem]:
        return self.problem.get("errors", [])

    @property
    def pointers(self) -> list[str]:
        """The JSON pointers into the request body that the server named, in its order."""
        return [item["pointer"] for item in self.errors if "pointer" in item]


class BadRequest(ProblemError):
    """400: the request could not be read (`invalid_json`, `invalid_query`, `invalid_header`)."""


class Unauthorized(ProblemError):
    """401: the token was refused even after the SDK fetched a fresh one."""


class Forbidden(ProblemError):
    """403: a scope is missing (`insufficient_scope`) or the organisation may not do this."""


class NotFound(ProblemError):
    """404: no such resource, or one the caller may not see (never told apart)."""


class Conflict(ProblemError):
    """409: the state does not allow this (an id taken, an agreement not requested...)."""


class IdempotencyInProgress(Conflict):
    """409 `idempotency_in_progress`: the same key is still being worked on; retried by default."""


class Gone(ProblemError):
    """410: retracted, or (for events) pruned."""


class EventsPruned(Gone):
    """410 `events_pruned`: catch up from the feed, then resume events from the named sequence."""


class PreconditionFailed(ProblemError):
    """412: `If-Match` is stale; read the record again and reapply the change."""


class PayloadTooLarge(ProblemError):
    """413: body over `limits.maxBodyBytes`, or more bulk items than `limits.bulkMaxItems`."""


class UnsupportedMediaType(ProblemError):
    """415: a body the operation does not take."""


class ValidationFailed(ProblemError):
    """422: well-formed but not acceptable; `errors` points at each offending member."""


class IdempotencyKeyReused(ValidationFailed):
    """422 `idempotency_key_reused`: the key was used for a different request."""


class PreconditionRequired(ProblemError):
    """428: `If-Match` is missing."""


class RateLimited(ProblemError):
    """429: too many requests; `retry_after` says how long the server asked to wait."""


class ServerError(ProblemError):
    """5xx."""


class ServiceUnavailable(ServerError):
    """503: the server cannot use its database for a moment; retried by default."""


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    428: PreconditionRequired,
    429: RateLimited,
    503: ServiceUnavailable,
}
_BY_CODE: dict[str, type[ProblemError]] = {
    "idempotency_in_progress": IdempotencyInProgress,
    "events_pruned": EventsPruned,
    "idempotency_key_reused": IdempotencyKeyReused,
}


def problem_class(status: int, code: str) -> type[ProblemError]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else ProblemError


def read_problem(response: httpx2.Response) -> Problem | None:
    """The problem document of an error answer, or None when the body is not one."""
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return None
    body.setdefault("status", response.status_code)
    body.setdefault("detail", body.get("title", ""))
    body.setdefault("requestId", response.headers.get("x-request-id", ""))
    return cast(Problem, body)


def synthetic_problem(response: httpx2.Response) -> Problem:
    """A problem for an error answer without one (a proxy's 502 page, say).

    Callers then still get the class for its status rather than a bare parsing error.
    """
    phrase = response.reason_phrase or "error"
    return Problem(
        type="about:blank",
        title=phrase,
        status=response.status_code,
        detail=response.text[:500] or phrase,
        code=phrase.lower().replace(" ", "_"),
        requestId=response.headers.get("x-request-id", ""),
    )


def error_for(
    response: httpx2.Response, *, retry_after: float | None, retried: bool
) -> ProblemError:
    problem = read_problem(response) or synthetic_problem(response)
    kind = problem_class(response.status_code, problem["code"])
    return kind(problem, retry_after=retry_after, retried=retried)
