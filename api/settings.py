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

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/oauth/token"
