"""The scopes the server knows: read and publish per record type, plus the named areas."""

from __future__ import annotations

from schemas import load_standard

AREA_SCOPES = ("services", "agreements", "subscriptions", "feedback", "admin")


def read_scope(record_type: str) -> str:
    return f"{record_type}:read"


def publish_scope(record_type: str) -> str:
    return f"{record_type}:publish"


def all_scopes() -> list[str]:
    """Every scope, in a stable order for metadata documents."""
    per_type = [
        scope
        for name in load_standard().record_types
        for scope in (read_scope(name), publish_scope(name))
    ]
    return [*per_type, *AREA_SCOPES]
