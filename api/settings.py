"""Server settings, read from `CARE_EXCHANGE_*` environment variables."""

from __future__ import annotations

from pathlib import Path

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
    # before each retry; after the last, the subscription is marked `error`.
    webhook_retry_delays_seconds: list[float] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    webhook_timeout_seconds: float = 15.0
    webhook_allowed_hosts: list[str] = []
    webhook_heartbeat_seconds: float = 300.0
    webhook_secret_overlap_hours: float = 24.0
    # Delivered (or read) events older than this are deleted by `care-exchange db prune`.
    event_retention_days: int = 30
    worker_lease_seconds: float = 60.0
    worker_poll_seconds: float = 0.5
    worker_claim_size: int = 200
    worker_events_per_claim: int = 50

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/oauth/token"
