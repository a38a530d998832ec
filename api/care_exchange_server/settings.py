"""Server settings, read from `CARE_EXCHANGE_*` environment variables."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from limits import RateLimitItem, parse_many
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Everything an operator may change; defaults run the embedded SQLite server."""

    model_config = SettingsConfigDict(env_prefix="CARE_EXCHANGE_", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'care-exchange.sqlite3'}"
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "care-exchange"
    access_token_lifetime_seconds: int = 900
    client_assertion_max_lifetime_seconds: int = 300
    max_body_bytes: int = 1_048_576
    page_size_default: int = 50
    page_size_max: int = 200
    bulk_max_items: int = 500
    idempotency_retention_hours: int = 24
    log_level: str = "INFO"
    # Webhook delivery. The delays are those of Standard Webhooks: before the first attempt, then
    # before each retry. A failing streak ends in `error` once it has lasted their sum (after the
    # first) and had as many attempts as there are delays, whatever `Retry-After` asked for.
    webhook_retry_delays_seconds: list[float] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    webhook_timeout_seconds: float = 15.0
    webhook_allowed_hosts: list[str] = []
    webhook_heartbeat_seconds: float = 300.0
    webhook_secret_overlap_hours: float = 24.0
    # Delivered (or read) events older than this are deleted by `care-exchange db prune`.
    event_retention_days: int = 30
    # Renewed while delivering; at least twice the webhook timeout (checked at start).
    worker_lease_seconds: float = 30.0
    worker_poll_seconds: float = 0.5
    worker_claim_size: int = 200
    worker_events_per_claim: int = 50
    # Rate limits, in the `limits` library's notation; "off" (or empty) turns one off. A full
    # conformance run makes about 26 token requests for one client and 30 from one address in a
    # minute, the benchmarks a few thousand API requests for one client: the defaults leave them
    # twice that or more. A scrypt check takes 50-150 ms: one address can cause 6-18 s of hashing
    # a minute, and guessing one client's secret half that.
    rate_limit_token_per_client: str | None = Field(
        default="60/minute",
        description=(
            "Attempts per OAuth client id at the token, revocation and introspection endpoints,"
            " counted before the client is authenticated: each attempt costs a scrypt hash, so"
            " this bounds both the work and the guessing of one client's secret."
        ),
    )
    rate_limit_token_per_address: str | None = Field(
        default="120/minute",
        description=(
            "Attempts per remote address at the same endpoints, whatever client they name, so"
            " that spraying many client ids from one address is bounded too. Behind a proxy the"
            " address is the one uvicorn reports (see its --forwarded-allow-ips)."
        ),
    )
    rate_limit_api_per_client: str | None = Field(
        default="30000/minute",
        description=(
            "Requests per authenticated client to the API, counted once its token is verified"
            " and before any work is done."
        ),
    )
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description=(
            "Where the counters live, as a `limits` storage URI. `memory://` counts in each"
            " process separately: with N processes (`serve --workers N`, or several hosts) a"
            " client may make up to N times each limit. Point it at a shared store such as"
            " `redis://host:6379` (needs the `redis` package) to count across processes."
        ),
    )

    @field_validator(
        "rate_limit_token_per_client", "rate_limit_token_per_address", "rate_limit_api_per_client"
    )
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        """One limit in the `limits` notation, or None for none; refused at start if unreadable."""
        if value is None or value.strip().lower() in ("", "off", "none"):
            return None
        parse_rate_limit(value)
        return value.strip()

    @model_validator(mode="after")
    def _deliverable(self) -> Settings:
        """Refuse, at start, delivery settings that cannot work together.

        A worker whose lease ran out mid-request would be taken over while still sending, and
        one that can never start a request inside its lease would spin delivering nothing.
        """
        problems = delivery_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/oauth/token"


def parse_rate_limit(text: str) -> RateLimitItem:
    """The one limit `text` states (`"30/minute"`, `"5 per 10 seconds"`)."""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise ValueError(
            f"{text!r} is not one rate limit such as '30/minute' or '5 per 10 seconds' (or 'off')"
        )
    return items[0]


def delivery_problems(settings: Settings) -> list[str]:
    """What is wrong with the webhook and worker settings, naming each variable and its rule."""
    found: list[str] = []
    delays = settings.webhook_retry_delays_seconds
    positive = {
        "WEBHOOK_TIMEOUT_SECONDS": settings.webhook_timeout_seconds,
        "WEBHOOK_HEARTBEAT_SECONDS": settings.webhook_heartbeat_seconds,
        "WORKER_POLL_SECONDS": settings.worker_poll_seconds,
        "WORKER_CLAIM_SIZE": settings.worker_claim_size,
        "WORKER_EVENTS_PER_CLAIM": settings.worker_events_per_claim,
    }
    found += [
        f"CARE_EXCHANGE_{name} must be greater than 0 (it is {value:g})"
        for name, value in positive.items()
        if not value > 0
    ]
    if not delays:
        found.append("CARE_EXCHANGE_WEBHOOK_RETRY_DELAYS_SECONDS must list at least one delay")
    elif any(not delay >= 0 for delay in delays) or any(a > b for a, b in pairwise(delays)):
        found.append(
            "CARE_EXCHANGE_WEBHOOK_RETRY_DELAYS_SECONDS must be ascending and not negative"
            f" (it is {delays})"
        )
    if not settings.worker_lease_seconds >= 2 * settings.webhook_timeout_seconds:
        found.append(
            f"CARE_EXCHANGE_WORKER_LEASE_SECONDS ({settings.worker_lease_seconds:g}) must be at"
            " least twice CARE_EXCHANGE_WEBHOOK_TIMEOUT_SECONDS"
            f" ({settings.webhook_timeout_seconds:g}): a request to a webhook starts only when"
            " it can end before the lease does, and the lease is renewed while delivering"
        )
    return found
