"""RFC 9068 access tokens: JWTs signed with the current key, checked strictly on the way back in.

Verification trusts nothing in the token before the signature is checked with a key this server
holds, and only with that key's own algorithm (so `alg: none` or an HMAC signed with the public
key cannot pass). Revocation is a `jti` deny list, because a JWT cannot be recalled.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from care_exchange_server.auth.clients import client_scopes
from care_exchange_server.auth.keys import current_key, find_key, key_algorithm
from care_exchange_server.auth.principal import Principal
from care_exchange_server.settings import Settings
from care_exchange_server.storage.models import Client, Organisation, RevokedToken
from care_exchange_server.storage.types import utcnow

TOKEN_TYPE = "at+jwt"
_ACCEPTED_TYPES = {"at+jwt", "application/at+jwt"}


class InvalidTokenError(Exception):
    """The token must not be accepted; `description` is safe to show to the caller."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def issue_access_token(
    session: Session,
    settings: Settings,
    client: Client,
    scopes: Sequence[str] | None = None,
    *,
    issued_at: int | None = None,
) -> str:
    """Sign a token for `client` with `scopes` (default: all of the client's scopes).

    The lifetime always comes from settings. May create the first signing key (flushed, not
    committed). Scopes are not checked against the client here: the token endpoint does that.
    `issued_at` (epoch seconds) back-dates a token, which is how the demo and the tests give the
    conformance suite a genuinely signed token that has expired.
    """
    key = current_key(session)
    now = int(utcnow().timestamp()) if issued_at is None else issued_at
    granted = list(scopes) if scopes else client_scopes(client)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": client.client_id,
        "client_id": client.client_id,
        "aud": settings.audience,
        "iat": now,
        "exp": now + settings.access_token_lifetime_seconds,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(granted),
        "org": client.organisation_id,
    }
    header = {"alg": key_algorithm(key), "kid": key.kid, "typ": TOKEN_TYPE}
    return jwt.encode(header, claims, key, algorithms=[key_algorithm(key)], default_type=None)


@functools.lru_cache(maxsize=16)
def _claims_registry(issuer: str, audience: str) -> jwt.JWTClaimsRegistry:
    return jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
        sub={"essential": True},
        client_id={"essential": True},
        org={"essential": True},
        scope={"essential": True},
    )


# Tokens whose signature and header already passed, by (issuer, audience, token). A kid names
# fixed key material, so the signature check cannot change its verdict; the time-bound claims are
# still checked on every use. Cleared when full, which only costs a signature check per token.
_signature_checked: dict[tuple[str, str, str], dict[str, Any]] = {}
_SIGNATURE_CACHE_SIZE = 10_000


def _validated(settings: Settings, claims: dict[str, Any]) -> dict[str, Any]:
    try:
        _claims_registry(settings.issuer, settings.audience).validate(claims)
    except JoseError as error:
        raise InvalidTokenError(_claim_problem(error)) from error
    for name in ("sub", "client_id", "org", "scope"):
        if not isinstance(claims[name], str):
            raise InvalidTokenError(f"The token's {name} claim is not valid.")
    return dict(claims)


def decode_access_token(session: Session, settings: Settings, token: str) -> dict[str, Any]:
    """Signature, header and claims checks only (not revocation nor the client's state)."""
    cache_key = (settings.issuer, settings.audience, token)
    known = _signature_checked.get(cache_key)
    if known is not None:
        return _validated(settings, known)
    claims = _validated(settings, _signed_claims(session, token))
    if len(_signature_checked) >= _SIGNATURE_CACHE_SIZE:
        _signature_checked.clear()
    _signature_checked[cache_key] = claims
    return dict(claims)


def _signed_claims(session: Session, token: str) -> dict[str, Any]:
    """The claims, once the header and the signature by one of this server's keys are checked."""
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError) as error:
        raise InvalidTokenError("The token is malformed.") from error
    kid = header.get("kid")
    key = find_key(session, kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidTokenError("The token was not signed by a key of this server.")
    algorithm = key_algorithm(key)
    if header.get("alg") != algorithm:
        raise InvalidTokenError("The token's signing algorithm is not accepted.")
    if str(header.get("typ", "")).lower() not in _ACCEPTED_TYPES:
        raise InvalidTokenError("The token is not an access token (typ must be at+jwt).")
    try:
        decoded = jwt.decode(token, key, algorithms=[algorithm])
    except JoseError as error:
        raise InvalidTokenError("The token's signature is not valid.") from error
    return dict(decoded.claims)


def _claim_problem(error: JoseError) -> str:
    if isinstance(error, ExpiredTokenError):
        return "The token has expired."
    if isinstance(error, MissingClaimError):
        return "The token lacks a required claim."
    if isinstance(error, InvalidClaimError) and error.claim in ("iss", "aud"):
        return f"The token's {error.claim} claim does not name this server."
    return "The token's claims are not valid."


def is_revoked(session: Session, jti: str) -> bool:
    return session.get(RevokedToken, jti) is not None


def verify_access_token(session: Session, settings: Settings, token: str) -> Principal:
    """Who the token speaks for, or InvalidTokenError saying why it must be refused."""
    return principal_from_claims(session, decode_access_token(session, settings, token))


_CLIENTS = Client.metadata.tables[Client.__tablename__]
_ORGANISATIONS = Client.metadata.tables[Organisation.__tablename__]
_REVOKED = Client.metadata.tables[RevokedToken.__tablename__]
# Built once: on every authenticated request, constructing the statement cost more than running it.
# Exactly one row for a known client; a read may join what it fetches onto it (one round trip).
CALLER_CHECK = (
    select(
        _CLIENTS.c.disabled_at, _CLIENTS.c.organisation_id, _ORGANISATIONS.c.kind, _REVOKED.c.jti
    )
    .join(_ORGANISATIONS, _ORGANISATIONS.c.id == _CLIENTS.c.organisation_id)
    .outerjoin(_REVOKED, _REVOKED.c.jti == bindparam("jti"))
    .where(_CLIENTS.c.client_id == bindparam("client_id"))
)


def caller_parameters(claims: dict[str, Any]) -> dict[str, Any]:
    """The bound values `CALLER_CHECK` needs."""
    return {"client_id": claims["client_id"], "jti": claims["jti"]}


def principal_from_row(claims: dict[str, Any], found: Any) -> Principal:
    """The principal, once `CALLER_CHECK`'s row (None: no such client) passes.

    The deny list, the client still being active and in the token's organisation, and that
    organisation's kind.
    """
    if found is not None and found.jti is not None:
        raise InvalidTokenError("The token has been revoked.")
    if (
        found is None
        or found.disabled_at is not None
        or found.organisation_id != claims["org"]
        or claims["sub"] != claims["client_id"]
    ):
        raise InvalidTokenError("The token's client is not active.")
    return Principal(
        client_id=claims["client_id"],
        organisation_id=found.organisation_id,
        organisation_kind=found.kind,
        scopes=frozenset(claims["scope"].split()),
        jti=claims["jti"],
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


def principal_from_claims(session: Session, claims: dict[str, Any]) -> Principal:
    """The checks that need the database, in one query on every request."""
    found = session.execute(CALLER_CHECK, caller_parameters(claims)).first()
    return principal_from_row(claims, found)


def revoke_access_token(session: Session, claims: dict[str, Any]) -> None:
    """Add the token's jti to the deny list; expired entries are pruned on the way.

    The caller's transaction commits it. A savepoint absorbs the same token revoked concurrently
    by another request, whose outcome is the same.
    """
    now = utcnow()
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    if expires_at <= now or is_revoked(session, claims["jti"]):
        return
    with suppress(IntegrityError), session.begin_nested():
        session.add(RevokedToken(jti=claims["jti"], expires_at=expires_at))
