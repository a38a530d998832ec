"""The authenticated caller, as every route and service sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from care_exchange_server.storage.enums import OrganisationKind


@dataclass(frozen=True)
class Principal:
    """Who is calling: a client of one organisation, holding the scopes its token carries."""

    client_id: str
    organisation_id: str
    organisation_kind: str
    scopes: frozenset[str]
    jti: str
    expires_at: datetime

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes and self.organisation_kind == OrganisationKind.ADMINISTRATOR
