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

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'care-exchange.sqlite3'}",
        description="The database, as an SQLAlchemy URL: the embedded SQLite file by default,"
        " `postgresql+psycopg://user:password@host/dbname` in production.",
    )
    issuer: str = Field(
        default="http://127.0.0.1:8000",
        description="The server's public base URL, as clients reach it (https, no trailing"
        " slash): the `iss` of its tokens and the base of the links it writes. `serve` and"
        " `run` use their own address when it is not set.",
    )
    audience: str = Field(
        default="care-exchange",
        description="The `aud` claim of the access tokens the server issues and accepts.",
    )
    access_token_lifetime_seconds: int = Field(
        default=900, description="How long an access token lasts."
    )
    client_assertion_max_lifetime_seconds: int = Field(
        default=300,
        description="How far ahead a `private_key_jwt` client assertion may expire; a longer"
        " one is refused, as a long-lived assertion is as good as a password.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        description="The largest request body accepted (`limits.maxBodyBytes`); a larger one is"
        " `413 payload_too_large`.",
    )
    page_size_default: int = Field(
        default=50, description="Items in a page of a listing when `page_size` is not given."
    )
    page_size_max: int = Field(
        default=200, description="The largest `page_size` a client may ask for."
    )
    bulk_max_items: int = Field(
        default=500,
        description="The most records in one bulk request (`limits.bulkMaxItems`); more is"
        " `413 too_many_items`.",
    )
    idempotency_retention_hours: int = Field(
        default=24,
        description="How long an `Idempotency-Key` and its stored answer are kept (the standard"
        " asks for at least 24 hours); `db prune` deletes older ones.",
    )
    log_level: str = Field(
        default="INFO", description="The level of the JSON log lines: DEBUG, INFO, WARNING, ERROR."
    )
    # Webhook delivery. The delays are those of Standard Webhooks: before the first attempt, then
    # before each retry. A failing streak ends in `error` once it has lasted their sum (after the
    # first) and had as many attempts as there are delays, whatever `Retry-After` asked for.
    webhook_retry_delays_seconds: list[float] = Field(
        default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000],
        description="Seconds to wait before the first delivery attempt, then before each retry"
        " (Standard Webhooks' schedule), ascending. A subscription whose deliveries fail for"
        " the whole schedule goes to `error`.",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0,
        description="How long a receiver has to answer a delivery before it counts as failed.",
    )
    webhook_allowed_hosts: list[str] = Field(
        default=[],
        description="Networks (CIDR, e.g. `10.0.0.0/8`) that webhook URLs may point into despite"
        " being private or loopback; plain http is then accepted too. Empty: public https"
        " receivers only.",
    )
    webhook_heartbeat_seconds: float = Field(
        default=300.0,
        description="After this long without a delivery, a webhook gets a heartbeat event"
        " carrying the last sequence, so a receiver can spot a gap.",
    )
    webhook_secret_overlap_hours: float = Field(
        default=24.0,
        description="After a subscription's secret is rotated, how long deliveries are also"
        " signed with the previous secret.",
    )
    # Delivered (or read) events older than this are deleted by `care-exchange db prune`.
    event_retention_days: int = Field(
        default=30,
        description="Events delivered (or read, for pull subscriptions) longer ago than this"
        " are deleted by `care-exchange db prune`; undelivered ones are kept.",
    )
    # Renewed while delivering; at least twice the webhook timeout (checked at start).
    worker_lease_seconds: float = Field(
        default=30.0,
        description="How long a worker holds a subscription it is delivering before another"
        " may take it over; renewed while delivering, and at least twice the webhook timeout.",
    )
    worker_poll_seconds: float = Field(
        default=0.5, description="How often an idle worker looks for events to deliver."
    )
    worker_claim_size: int = Field(
        default=200,
        description="The most subscriptions one worker delivers to at once (and its most open"
        " connections).",
    )
    worker_events_per_claim: int = Field(
        default=50,
        description="The most events of one subscription a worker takes in one claim.",
    )
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

    # Return templates. Their expressions come from other organisations: each runs in a worker
    # process, stopped when it takes longer or grows larger than this, failing its field only.
    return_seconds_per_field: float = Field(
        default=2.0,
        gt=0,
        description="Wall-clock seconds one field's expression may take before it is stopped.",
    )
    return_memory_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=64 * 1024 * 1024,
        description=(
            "Memory a return's expressions may take, beyond what the process that evaluates"
            " them holds once started."
        ),
    )

    return_workers: int = Field(
        default=2,
        ge=1,
        description=(
            "Warm processes that evaluate returns' expressions, each serving one request at a"
            " time; further requests wait for one."
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
