"""Rate limits: per client and per address at the OAuth endpoints, per client on the API.

The strategy is `limits`' sliding window counter. A fixed window lets a caller spend a whole
limit just before a window ends and again just after, twice the limit in a moment; a moving window
is exact but keeps one timestamp per request (thirty thousand a minute for one busy client, each
hit a list insertion). The sliding window counter keeps two counters per key and weighs the
previous window by how much of it still overlaps, which bounds bursts at the limit for the price
of a fixed window; every storage `limits` offers supports it, Redis among them.

Refusals are `429 rate_limited` with `Retry-After` and the draft IETF `RateLimit-Policy` and
`RateLimit` headers (draft-ietf-httpapi-ratelimit-headers), on refusals only: the hot path makes
one storage call. A refused request is not counted, so a caller that waits is let in again.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from limits import RateLimitItem
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.concurrency import run_in_threadpool

from care_exchange_server.bodies import RateLimitBody, RateLimitsBody
from care_exchange_server.problems import ProblemError
from care_exchange_server.settings import Settings, parse_rate_limit

SWEEP_SECONDS = 10.0
# Longer keys are cut: a client id is short, and a sprayer must not grow the store with huge ones.
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Limit:
    """One configured limit and the name it has in keys and in the RateLimit headers."""

    name: str
    item: RateLimitItem

    def body(self) -> RateLimitBody:
        return RateLimitBody(limit=self.item.amount, windowSeconds=self.item.get_expiry())


class _SweptMemoryStorage(MemoryStorage):
    """`limits`' memory storage without its expiry thread.

    The library starts a thread to expire counters whenever its previous one (which lives 10 ms)
    has ended: at a few hundred requests a second that is a thread every few requests, measured
    at a quarter of a millisecond a request. Here counters past their expiry are dropped when
    read, as the library does anyway, and the others are swept inline at most once every
    `SWEEP_SECONDS`, so keys never seen again do not pile up. Overrides a private method: the
    `limits` major version is pinned, and tests/api/test_rate_limits.py checks both behaviours.
    """

    def __init__(self, uri: str | None = None) -> None:
        super().__init__(uri)
        self.timer.cancel()
        self.swept = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (the library's name)
        now = time.monotonic()
        if now - self.swept >= SWEEP_SECONDS:
            self.swept = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _storage(uri: str) -> Storage:
    """The storage the URI names; memory without the library's expiry thread."""
    if uri.split(":", 1)[0] == "memory":
        return _SweptMemoryStorage(uri)
    found = storage_from_string(uri)
    if not isinstance(found, Storage):
        raise ValueError(f"{uri!r} names an asynchronous storage; use its synchronous scheme")
    return found


def _limit(name: str, text: str | None) -> Limit | None:
    return None if text is None else Limit(name, parse_rate_limit(text))


class RateLimits:
    """The limits of one app, counted in the storage its settings name."""

    def __init__(self, settings: Settings) -> None:
        self.token_per_client = _limit("token-client", settings.rate_limit_token_per_client)
        self.token_per_address = _limit("token-address", settings.rate_limit_token_per_address)
        self.api_per_client = _limit("api-client", settings.rate_limit_api_per_client)
        self.storage = _storage(settings.rate_limit_storage_uri)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)

    @property
    def blocking(self) -> bool:
        """Whether a check may wait on the network (a shared store): then not on the event loop."""
        return not isinstance(self.storage, MemoryStorage)

    def body(self) -> RateLimitsBody:
        """The limits in force, for the capability document; a limit that is off is absent."""
        found = RateLimitsBody()
        if self.token_per_client:
            found["tokenPerClient"] = self.token_per_client.body()
        if self.token_per_address:
            found["tokenPerAddress"] = self.token_per_address.body()
        if self.api_per_client:
            found["apiPerClient"] = self.api_per_client.body()
        return found

    def check_api(self, client_id: str) -> None:
        """Count one API request of an authenticated client, or refuse it with 429."""
        self._hit(self.api_per_client, client_id)

    def check_token(self, client_id: str | None, address: str | None) -> None:
        """Count one attempt at an OAuth endpoint, by its address and then its client id.

        Neither is verified: the point is to refuse before the secret is hashed. An attempt the
        address limit refuses is not counted against the client it names.
        """
        if address is not None:
            self._hit(self.token_per_address, address)
        if client_id is not None:
            self._hit(self.token_per_client, client_id)

    async def check_token_off_loop(self, client_id: str | None, address: str | None) -> None:
        """`check_token` from the event loop: in the threadpool if the store is on a network."""
        if self.blocking:
            await run_in_threadpool(self.check_token, client_id, address)
        else:
            self.check_token(client_id, address)

    def _hit(self, limit: Limit | None, key: str) -> None:
        if limit is None:
            return
        key = key[:MAX_KEY_CHARS]
        if self.limiter.hit(limit.item, limit.name, key):
            return
        stats = self.limiter.get_window_stats(limit.item, limit.name, key)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise ProblemError(
            "rate_limited",
            f"More than {limit.item.amount} requests in {limit.item.get_expiry()} seconds"
            f" ({limit.name}); retry after {wait} seconds.",
            headers={
                "Retry-After": str(wait),
                "RateLimit-Policy": (
                    f'"{limit.name}";q={limit.item.amount};w={limit.item.get_expiry()}'
                ),
                "RateLimit": f'"{limit.name}";r={stats.remaining};t={wait}',
            },
        )


def claimed_client_id(authorization: str | None, form: Iterable[tuple[str, object]]) -> str | None:
    """The client id an OAuth request claims, unverified.

    From Basic auth, the `client_id` field, or the `iss` of a client assertion (RFC 7523), in
    that order.
    """
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user, colon, _ = decoded.partition(":")
        if colon:
            return unquote(user.replace("+", " "))
    fields = {name: value for name, value in form if isinstance(value, str)}
    if fields.get("client_id"):
        return fields["client_id"]
    return _assertion_issuer(fields.get("client_assertion", ""))


def _assertion_issuer(assertion: str) -> str | None:
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) and issuer else None
