"""The scopes the server knows: read and publish per record type, plus the named areas."""

from __future__ import annotations

from care_exchange_server.auth.principal import Principal
from care_exchange_server.problems import ProblemError
from care_exchange_standard import load_standard

AREA_SCOPES = ("services", "agreements", "subscriptions", "feedback", "admin", "returns")


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


def require_scope(principal: Principal, scope: str) -> None:
    """403 `insufficient_scope` naming the scope needed, unless the token carries it."""
    if principal.has(scope):
        return
    raise ProblemError(
        "insufficient_scope",
        f"This operation needs the scope '{scope}'.",
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
    )
