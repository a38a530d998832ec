"""RFC 7523 client authentication (`private_key_jwt`) on top of Authlib's assertion checker.

Additions to Authlib: the signature may use only the algorithms we advertise, `exp` may lie at
most `client_assertion_max_lifetime_seconds` ahead (a long-lived assertion is a bearer credential),
and each `jti` is recorded in `used_assertions` in the token request's transaction, so a captured
assertion is refused on replay even by another server process (a concurrent replay waits for the
first request's commit, then finds the jti taken).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from care_exchange_server.auth.clients import PRIVATE_KEY_JWT
from care_exchange_server.auth.oauth_client import OAuthClient
from care_exchange_server.settings import Settings
from care_exchange_server.storage.models import UsedAssertion
from care_exchange_server.storage.types import utcnow

ASSERTION_ALGORITHMS = ("RS256", "ES256")
CLOCK_SKEW_SECONDS = 30
MAX_JTI_LENGTH = 255


class PrivateKeyJWTAuthentication(JWTBearerClientAssertion):  # type: ignore[misc]
    """Registered on the authorization server as the `private_key_jwt` method."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, session: Session, settings: Settings) -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_SKEW_SECONDS)
        self.session = session
        self.settings = settings

    def get_audiences(self) -> list[str]:
        return [self.settings.token_endpoint]

    def resolve_client_public_key(self, client: OAuthClient) -> KeySet:
        try:
            return KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError) as error:
            raise InvalidClientError(description="The client has no usable keys.") from error

    def process_assertion_claims(self, assertion: str, resolve_key: KeySet) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except JoseError as error:
            raise InvalidClientError(
                description="The client assertion's signature is not valid."
            ) from error
        claims: dict[str, Any] = dict(token.claims)
        self.verify_claims(claims)
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        exp = claims.get("exp")
        if exp is None:
            raise InvalidClientError(description="The client assertion has no exp claim.")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise InvalidClientError(description="The client assertion's exp is not a number.")
        latest = time.time() + self.settings.client_assertion_max_lifetime_seconds
        if exp > latest + CLOCK_SKEW_SECONDS:
            raise InvalidClientError(
                description="The client assertion's exp is too far ahead "
                f"(at most {self.settings.client_assertion_max_lifetime_seconds} seconds): "
                "sign each assertion just before use with an exp that close (Authlib's "
                "PrivateKeyJWT sets an hour unless each assertion is given its own exp claim; "
                "see docs/authentication.md)."
            )
        jti = claims.get("jti")
        if isinstance(jti, str) and len(jti) > MAX_JTI_LENGTH:
            raise InvalidClientError(description="The client assertion's jti is too long.")
        super().verify_claims(claims)

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        """Record the jti; False when this client already used it (a replay)."""
        if not isinstance(jti, str) or not jti:
            return False
        now = utcnow()
        expires_at = datetime.fromtimestamp(claims["exp"], UTC) + timedelta(
            seconds=CLOCK_SKEW_SECONDS
        )
        self.session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now))
        try:
            with self.session.begin_nested():
                self.session.add(
                    UsedAssertion(client_id=claims["sub"], jti=jti, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True
