"""RFC 8414 authorization server metadata, built from settings so it always names this issuer."""

from __future__ import annotations

from care_exchange_server.auth.assertions import ASSERTION_ALGORITHMS
from care_exchange_server.auth.server import CLIENT_AUTH_METHODS
from care_exchange_server.bodies import AuthorizationServerMetadataBody
from care_exchange_server.scopes import all_scopes
from care_exchange_server.settings import Settings


def authorization_server_metadata(settings: Settings) -> AuthorizationServerMetadataBody:
    """What a client needs to get and manage tokens here; only client credentials exist."""
    methods = [str(method) for method in CLIENT_AUTH_METHODS]
    algorithms = list(ASSERTION_ALGORITHMS)
    return AuthorizationServerMetadataBody(
        issuer=settings.issuer,
        token_endpoint=settings.token_endpoint,
        revocation_endpoint=f"{settings.issuer}/oauth/revoke",
        introspection_endpoint=f"{settings.issuer}/oauth/introspect",
        jwks_uri=f"{settings.issuer}/jwks.json",
        grant_types_supported=["client_credentials"],
        response_types_supported=[],
        token_endpoint_auth_methods_supported=methods,
        token_endpoint_auth_signing_alg_values_supported=algorithms,
        revocation_endpoint_auth_methods_supported=methods,
        revocation_endpoint_auth_signing_alg_values_supported=algorithms,
        introspection_endpoint_auth_methods_supported=methods,
        introspection_endpoint_auth_signing_alg_values_supported=algorithms,
        scopes_supported=all_scopes(),
    )
