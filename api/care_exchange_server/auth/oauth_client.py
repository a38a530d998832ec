"""The Authlib view of a registered client: what it may authenticate with and ask for."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin  # type: ignore[import-untyped]

from care_exchange_server.auth.clients import CLIENT_SECRET_BASIC, client_scopes
from care_exchange_server.auth.secrets import verify_secret
from care_exchange_server.storage.enums import OrganisationKind
from care_exchange_server.storage.models import Client

CLIENT_CREDENTIALS = "client_credentials"


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """Wraps a `Client` row; only the client-credentials grant exists, so no redirect URIs."""

    def __init__(self, row: Client, organisation_kind: str) -> None:
        self.row = row
        self.organisation_kind = organisation_kind

    @property
    def client_id(self) -> str:
        return self.row.client_id

    @property
    def organisation_id(self) -> str:
        return self.row.organisation_id

    @property
    def scopes(self) -> list[str]:
        return client_scopes(self.row)

    @property
    def is_admin(self) -> bool:
        """May see every organisation's tokens: the `admin` scope in an administrator org."""
        return "admin" in self.scopes and self.organisation_kind == OrganisationKind.ADMINISTRATOR

    @property
    def jwks(self) -> dict[str, Any]:
        return dict(self.row.jwks or {"keys": []})

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.scopes)
        return " ".join(name for name in scope.split() if name in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        if self.row.auth_method != CLIENT_SECRET_BASIC or not self.row.secret_hash:
            return False
        return verify_secret(client_secret, self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.row.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == CLIENT_CREDENTIALS
