"""When a request may be sent again, and after how long.

The rule is that a repeat must never do something twice. So:

- `GET` is always safe.
- `POST` is safe only with an `Idempotency-Key`: the server replays the first answer. The SDK
  gives every `/v1` POST a key unless the caller gives one, so in practice only the OAuth
  endpoints (`/oauth/revoke`, `/oauth/introspect`, which take no key) are never retried.
- `PUT` and `DELETE` that carry `If-Match` are safe: the spec says a repeat of one that took
  effect answers `412` (or `410` for a retraction), never a second version. The error then says
  `retried=True`, so a caller can tell "someone else changed it" from "my first try landed".
- `PUT` without `If-Match` (a service entry) and `PATCH` (a subscription) send whole values, so
  a repeat leaves the same state: safe.
- `DELETE` without `If-Match` (a subscription, a client, a delegation) would turn a success into
  `404` if repeated after it landed, so it is retried only when the server certainly did
  nothing: `429`, or a connection that was never made.

Retried answers are `429`, `503` and `409 idempotency_in_progress` (the first request with the
key is still running), each honouring `Retry-After` (seconds or an HTTP date). Without one, the
wait grows exponentially with full jitter, so many clients that failed together do not come
back together. A `Retry-After` longer than `max_wait` is not waited out: the error is raised
with `retry_after` set, for the caller to schedule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum


class Safety(Enum):
    """How freely a request may be repeated (see the module's docstring)."""

    ALWAYS = "always"
    NOT_PROCESSED_ONLY = "not-processed-only"
    NEVER = "never"


def safety(method: str, headers: dict[str, str]) -> Safety:
    names = {name.lower() for name in headers}
    if method in ("GET", "HEAD", "OPTIONS", "PUT", "PATCH"):
        return Safety.ALWAYS
    if method == "POST":
        return Safety.ALWAYS if "idempotency-key" in names else Safety.NEVER
    if method == "DELETE":
        return Safety.ALWAYS if "if-match" in names else Safety.NOT_PROCESSED_ONLY
    return Safety.NEVER


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (RFC 9110 10.2.3), or None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them.

    `max_attempts` counts the first; 1 switches retries off.
    """

    max_attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 20.0
    max_wait: float = 120.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """The wait before attempt `attempt + 1`, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)


NO_RETRIES = RetryPolicy(max_attempts=1)
