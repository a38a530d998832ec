"""One request described as data, and the rules for its answer: the core both clients share.

An operation builds a `Call` (method, path, query, body, headers, how to read a success); a
client only sends it. `Exchange` decides, answer by answer, whether to renew the token, wait and
send again, or finish, so the retry and error rules exist once and the two transports stay a
few lines of I/O each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

import httpx2

from care_exchange_client.errors import (
    ProblemError,
    TokenError,
    TransportError,
    UnexpectedResponse,
    error_for,
)
from care_exchange_client.retry import RetryPolicy, Safety, parse_retry_after, safety

T = TypeVar("T")
Auth = Literal["bearer", "client", "none"]
RETRIED_STATUSES = frozenset({429, 503})
_INVALID_TOKEN = re.compile(r'error\s*=\s*"?invalid_token', re.IGNORECASE)


def encode_json(body: Any) -> bytes:
    """Strict JSON (I-JSON) as the server requires: no NaN or Infinity, UTF-8 as is.

    Keys keep the caller's order; `bulk` sorts them itself where it needs a canonical body.
    """
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def json_result(response: httpx2.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as error:
        raise UnexpectedResponse(response.status_code, response.content, "not JSON") from error


def no_content(response: httpx2.Response) -> None:
    return None


def text_result(response: httpx2.Response) -> str:
    return response.text


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request ready to send and how to read its successful answer."""

    operation_id: str
    method: str
    path: str
    read: Callable[[httpx2.Response], T]
    params: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: Auth = "bearer"
    # Error statuses that are answers of the operation, read like a success (a probe's 503).
    answers: frozenset[int] = frozenset()

    @property
    def safety(self) -> Safety:
        return safety(self.method, dict(self.headers))

    def request_options(self) -> dict[str, Any]:
        headers = dict(self.headers)
        if self.content is not None:
            headers["Content-Type"] = "application/json"
        options: dict[str, Any] = {"params": dict(self.params), "headers": headers}
        if self.content is not None:
            options["content"] = self.content
        if self.form is not None:
            options["data"] = dict(self.form)
        return options


def json_call(
    operation_id: str,
    method: str,
    path: str,
    *,
    body: Any = None,
    params: Mapping[str, str | int | None] | None = None,
    headers: Mapping[str, str | None] | None = None,
    auth: Auth = "bearer",
) -> Call[Any]:
    """A call whose success is a JSON body; `None` parameters and headers are left out."""
    return Call(
        operation_id,
        method,
        path,
        json_result,
        params={k: str(v) for k, v in (params or {}).items() if v is not None},
        content=None if body is None else encode_json(body),
        headers={k: v for k, v in (headers or {}).items() if v is not None},
        auth=auth,
    )


@dataclass
class Retry:
    """Send the call again after `delay` seconds, with a fresh token first if `renew`."""

    delay: float
    renew: bool = False


class Exchange(Generic[T]):
    """The attempts at one call: what to do after each answer or failure."""

    def __init__(self, call: Call[T], policy: RetryPolicy) -> None:
        self.call = call
        self.policy = policy
        self.attempt = 0
        self.renewed = False

    def sending(self) -> None:
        self.attempt += 1

    def after_failure(self, error: httpx2.TransportError) -> Retry:
        """Retry a broken connection when the call is safe to repeat, else raise."""
        safe = self.call.safety
        never_sent = isinstance(
            error, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout
        )
        if safe is Safety.ALWAYS or (safe is Safety.NOT_PROCESSED_ONLY and never_sent):
            delay = self.policy.delay(self.attempt, None)
            if delay is not None:
                return Retry(delay)
        raise TransportError(
            f"{self.call.method} {self.call.path} failed after {self.attempt} attempt(s): "
            f"{type(error).__name__}: {error}"
        ) from error

    def after_answer(self, response: httpx2.Response) -> Retry | None:
        """None when the answer is final (then `result` reads it)."""
        status = response.status_code
        if status in self.call.answers:
            return None
        if status == 401 and self.call.auth == "bearer" and not self.renewed:
            challenge = response.headers.get("www-authenticate", "")
            if _INVALID_TOKEN.search(challenge):
                # Revoked, or expired early (a clock apart, a key rotated): one fresh token.
                self.renewed = True
                return Retry(0.0, renew=True)
        if not self._retriable(response):
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        delay = self.policy.delay(self.attempt, retry_after)
        return None if delay is None else Retry(delay)

    def _retriable(self, response: httpx2.Response) -> bool:
        safe = self.call.safety
        status = response.status_code
        if status == 429:
            return safe is not Safety.NEVER
        if safe is not Safety.ALWAYS:
            return False
        if status in RETRIED_STATUSES:
            return True
        if status == 409 and "idempotency-key" in {k.lower() for k in self.call.headers}:
            try:
                return bool(json.loads(response.content).get("code") == "idempotency_in_progress")
            except (ValueError, AttributeError):
                return False
        return False

    def result(self, response: httpx2.Response) -> T:
        if response.status_code < 400 or response.status_code in self.call.answers:
            return self.call.read(response)
        if self.call.auth == "client" or self.call.path.startswith("/oauth/"):
            refused = _token_error(response)
            if refused is not None:
                raise refused
        raise self._problem(response)

    def _problem(self, response: httpx2.Response) -> ProblemError:
        return error_for(
            response,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            retried=self.attempt > 1,
        )


def _token_error(response: httpx2.Response) -> TokenError | None:
    """The RFC 6749 error of an OAuth endpoint; None when the body is a problem document."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = cast("str | None", body.get("error_description"))
        return TokenError(body["error"], description, response.status_code)
    return None
