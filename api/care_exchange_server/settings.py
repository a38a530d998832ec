"""Server settings, read from `CARE_EXCHANGE_*` environment variables."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from pydantic import Field, model_validator
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
        description="Address space of the process that evaluates a return's expressions.",
    )

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
