"""The OAuth 2.0 authorization server: client credentials, revocation and introspection.

Authlib does the protocol work (client authentication, grant dispatch, RFC 6749 error bodies);
this module binds it to a database session and settings. Authlib's core is synchronous, so the
routes read the form first and then call `token_response` and friends in a threadpool. A server
object is built per request: it is cheap and holds that request's session.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from authlib.oauth2 import AuthorizationServer, OAuth2Error  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.token_endpoint import TokenEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.util import scope_to_list  # type: ignore[import-untyped]
from sqlalchemy.orm import Session
from starlette.responses import Response

from care_exchange_server.auth.assertions import PrivateKeyJWTAuthentication
from care_exchange_server.auth.clients import CLIENT_SECRET_BASIC, PRIVATE_KEY_JWT
from care_exchange_server.auth.oauth_client import OAuthClient
from care_exchange_server.auth.tokens import (
    InvalidTokenError,
    decode_access_token,
    issue_access_token,
    principal_from_claims,
    revoke_access_token,
)
from care_exchange_server.scopes import all_scopes
from care_exchange_server.settings import Settings
from care_exchange_server.storage.models import Client, Organisation

log = logging.getLogger("care_exchange.auth")

REALM = "care-exchange"
CLIENT_AUTH_METHODS = [CLIENT_SECRET_BASIC, PRIVATE_KEY_JWT]
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
GENERIC_CLIENT_FAILURE = "Client authentication failed."
_ERROR_SAFE = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$")
_MAX_CLIENT_ID = 128


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An already-parsed form request; built before the threadpool, read only inside it."""

    def __init__(
        self, method: str, uri: str, headers: Mapping[str, str], form: dict[str, str]
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


def _safe(text: str) -> str:
    return text if _ERROR_SAFE.match(text) else "(not shown)"


class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    """The only grant: a client asks for a subset of its own scopes, all of them by default."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_requested_scope(self) -> None:
        client: OAuthClient = self.request.client
        requested = scope_to_list(self.request.payload.scope) or []
        refused = sorted(set(requested) - set(client.scopes))
        if refused:
            names = " ".join(_safe(name) for name in refused)
            raise InvalidScopeError(description=f"The client may not request: {names}")

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # Authlib's own version logs the issued token at debug level; tokens are never logged here.
        token = self.generate_token(scope=self.request.payload.scope, include_refresh_token=False)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class _ClientEndpoint(TokenEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    @property
    def care(self) -> CareExchangeAuthorizationServer:
        server: CareExchangeAuthorizationServer = self.server
        return server

    def _token(self, request: FormRequest) -> str:
        token = request.form.get("token")
        if not token:
            raise InvalidRequestError(description="Missing 'token' parameter.")
        return token


class Revocation(_ClientEndpoint):
    """RFC 7009 for access tokens, through the jti deny list.

    Answers 200 whatever the token was, so a caller learns nothing about tokens it does not hold;
    only a client of the token's own organisation actually revokes it.
    """

    ENDPOINT_NAME = "revocation"

    def create_endpoint_response(self, request: FormRequest) -> tuple[int, str, list[Any]]:
        client: OAuthClient = self.authenticate_endpoint_client(request)
        token = self._token(request)
        try:
            claims = decode_access_token(self.care.session, self.care.settings, token)
        except InvalidTokenError:
            return 200, "", NO_STORE
        if claims["org"] == client.organisation_id:
            revoke_access_token(self.care.session, claims)
            log.info("token revoked", extra={"client_id": client.client_id})
        return 200, "", NO_STORE


class Introspection(_ClientEndpoint):
    """RFC 7662: `{active: false}` for anything invalid or of another org (unless admin)."""

    ENDPOINT_NAME = "introspection"

    def create_endpoint_response(
        self, request: FormRequest
    ) -> tuple[int, dict[str, Any], list[Any]]:
        client: OAuthClient = self.authenticate_endpoint_client(request)
        token = self._token(request)
        headers = [("Content-Type", "application/json"), *NO_STORE]
        try:
            claims = decode_access_token(self.care.session, self.care.settings, token)
            principal_from_claims(self.care.session, claims)
        except InvalidTokenError:
            return 200, {"active": False}, headers
        if claims["org"] != client.organisation_id and not client.is_admin:
            return 200, {"active": False}, headers
        body = {
            "active": True,
            "token_type": "Bearer",
            **{
                name: claims[name]
                for name in ("scope", "client_id", "sub", "org", "exp", "iat", "iss", "aud", "jti")
            },
        }
        return 200, body, headers


class CareExchangeAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's server bound to one request's session and the app's settings."""

    def __init__(self, session: Session, settings: Settings) -> None:
        super().__init__(scopes_supported=all_scopes())
        self.session = session
        self.settings = settings
        self.register_grant(ClientCredentials)
        self.register_client_auth_method(
            PRIVATE_KEY_JWT, PrivateKeyJWTAuthentication(session, settings)
        )
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    def query_client(self, client_id: object) -> OAuthClient | None:
        """An active client, or None (disabled clients cannot authenticate)."""
        if not isinstance(client_id, str) or not client_id or len(client_id) > _MAX_CLIENT_ID:
            return None
        row = self.session.get(Client, client_id)
        if row is None or row.disabled_at is not None:
            return None
        organisation = self.session.get(Organisation, row.organisation_id)
        return OAuthClient(row, organisation.kind if organisation else "")

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained JWTs; only revocations are stored."""

    def generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: object = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = scope_to_list(scope) or client.scopes
        access_token = issue_access_token(self.session, self.settings, client.row, granted)
        log.info("token issued", extra={"client_id": client.client_id})
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.settings.access_token_lifetime_seconds,
            "scope": " ".join(granted),
        }

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal bus here; the request log already records the client id."""

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    def handle_response(
        self, status: int, body: Any, headers: Iterable[tuple[str, str]]
    ) -> Response:
        merged = dict(headers)
        if isinstance(body, dict):
            merged["Content-Type"] = "application/json"
            return Response(json.dumps(body), status_code=status, headers=merged)
        merged.pop("Content-Type", None)
        return Response(body or b"", status_code=status, headers=merged)

    def handle_error_response(self, request: FormRequest, error: OAuth2Error) -> Response:
        """RFC 6749 5.2 errors; invalid_client is always 401 with a Basic challenge.

        The description of a failed secret or an unknown client is the same, so the endpoint does
        not reveal which client ids exist.
        """
        status, body, headers = error(self.get_error_uri(request, error))
        if error.error == "invalid_client":
            status = 401
            described = body.get("error_description", "")
            if _tried_basic(request) or "does not exist" in described:
                body["error_description"] = GENERIC_CLIENT_FAILURE
            headers = [item for item in headers if item[0].lower() != "www-authenticate"]
            headers.append(("WWW-Authenticate", f'Basic realm="{REALM}"'))
        return self.handle_response(status, body, headers)


def _tried_basic(request: FormRequest) -> bool:
    return str(request.headers.get("Authorization", "")).lower().startswith("basic ")


def _precheck(request: FormRequest) -> OAuth2Error | None:
    """RFC 6749 section 2.3: one authentication method; RFC 7521: an assertion and its type."""
    assertion = [name for name in ASSERTION_PARAMETERS if name in request.form]
    if _tried_basic(request) and assertion:
        return InvalidRequestError(description="Use one client authentication method, not two.")
    if len(assertion) == 1:
        return InvalidRequestError(
            description="client_assertion and client_assertion_type go together."
        )
    return None


ASSERTION_PARAMETERS = ("client_assertion", "client_assertion_type")


def parse_form(
    method: str, uri: str, headers: Mapping[str, str], items: Iterable[tuple[str, Any]]
) -> FormRequest | OAuth2Error:
    """The request for Authlib, or the RFC 6749 error for repeated or non-text parameters.

    Also refuses plain-http URLs (Authlib's insecure-transport check) as an error, not a crash.
    """
    form: dict[str, str] = {}
    for name, value in items:
        if not isinstance(value, str):
            return InvalidRequestError(description="Parameters must be form-encoded text.")
        if name in form:
            return InvalidRequestError(description=f"Repeated parameter: {_safe(name)}")
        form[name] = value
    try:
        return FormRequest(method, uri, headers, form)
    except OAuth2Error as error:
        return error


def _respond(
    session: Session, settings: Settings, request: FormRequest | OAuth2Error, endpoint: str
) -> Response:
    server = CareExchangeAuthorizationServer(session, settings)
    if isinstance(request, OAuth2Error):
        return server.handle_response(*request())
    refused = _precheck(request)
    if refused is not None:
        return server.handle_error_response(request, refused)
    if endpoint == "token":
        if not request.form.get("grant_type"):
            missing = InvalidRequestError(description="Missing 'grant_type' parameter.")
            return server.handle_error_response(request, missing)
        response: Response = server.create_token_response(request)
        return response
    endpoint_response: Response = server.create_endpoint_response(endpoint, request)
    return endpoint_response


def token_response(
    session: Session, settings: Settings, request: FormRequest | OAuth2Error
) -> Response:
    """POST /oauth/token, synchronous: call it in a threadpool."""
    return _respond(session, settings, request, "token")


def revocation_response(
    session: Session, settings: Settings, request: FormRequest | OAuth2Error
) -> Response:
    """POST /oauth/revoke, synchronous: call it in a threadpool."""
    return _respond(session, settings, request, "revocation")


def introspection_response(
    session: Session, settings: Settings, request: FormRequest | OAuth2Error
) -> Response:
    """POST /oauth/introspect, synchronous: call it in a threadpool."""
    return _respond(session, settings, request, "introspection")
