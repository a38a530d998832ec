"""Token-signing keys, kept in the database so tokens survive restarts and several processes agree.

There is one current key (the newest unretired one) that signs new tokens. Rotation retires it
but keeps it published in the JWKS until every token it signed has expired, so resource servers
never see a valid token whose key has gone. These functions flush; the caller commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, Key, RSAKey, import_key
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from care_exchange_server.bodies import JwksBody
from care_exchange_server.settings import Settings
from care_exchange_server.storage.models import SigningKey
from care_exchange_server.storage.types import utcnow

DEFAULT_ALGORITHM = "RS256"
SUPPORTED_ALGORITHMS = ("RS256", "ES256")

# A kid is the key's RFC 7638 thumbprint, so a kid always names the same key material and the
# parsed key can be cached across sessions and databases.
_parsed: dict[str, Key] = {}


def generate_key(algorithm: str = DEFAULT_ALGORITHM) -> Key:
    """A new private signing key with `kid` (thumbprint), `alg` and `use` set."""
    parameters: dict[str, Any] = {"alg": algorithm, "use": "sig"}
    if algorithm == "RS256":
        return RSAKey.generate_key(2048, parameters=parameters, auto_kid=True)  # type: ignore[arg-type]
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", parameters=parameters, auto_kid=True)  # type: ignore[arg-type]
    raise ValueError(f"unsupported signing algorithm: {algorithm}")


def _as_key(row: SigningKey) -> Key:
    key = _parsed.get(row.kid)
    if key is None:
        key = import_key(row.private_jwk)
        _parsed[row.kid] = key
    return key


def key_algorithm(key: Key) -> str:
    """The one algorithm this key signs with; tokens claiming another are refused."""
    return str(key.alg or DEFAULT_ALGORITHM)


def _store(session: Session, key: Key, now: datetime) -> SigningKey:
    kid = key.kid
    assert kid is not None
    row = SigningKey(kid=kid, private_jwk=dict(key.as_dict(private=True)), created_at=now)
    session.add(row)
    session.flush()
    _parsed[kid] = key
    return row


def _current_row(session: Session) -> SigningKey | None:
    query = (
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
        .limit(1)
    )
    return session.scalars(query).first()


def current_key(session: Session, algorithm: str = DEFAULT_ALGORITHM) -> Key:
    """The key that signs new tokens, created (and flushed) on first use."""
    row = _current_row(session)
    if row is None:
        row = _store(session, generate_key(algorithm), utcnow())
    return _as_key(row)


def find_key(session: Session, kid: str) -> Key | None:
    """The stored key with this kid, current or retired; None when unknown.

    A kid is the key's thumbprint, so a parsed key never goes stale; a key deleted long after
    retirement only verified tokens that have expired since.
    """
    if kid in _parsed:
        return _parsed[kid]
    row = session.get(SigningKey, kid)
    return None if row is None else _as_key(row)


def _published_rows(session: Session, settings: Settings) -> list[SigningKey]:
    cutoff = utcnow() - timedelta(seconds=settings.access_token_lifetime_seconds)
    query = (
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return list(session.scalars(query))


def public_jwks(session: Session, settings: Settings) -> JwksBody:
    """`{"keys": [...]}`: the current key and every retired key whose tokens may still be valid."""
    current_key(session)
    keys = [dict(_as_key(row).as_dict(private=False)) for row in _published_rows(session, settings)]
    return JwksBody(keys=keys)


def rotate_keys(
    session: Session, settings: Settings, algorithm: str = DEFAULT_ALGORITHM
) -> SigningKey:
    """Make a new current key and retire the old one, which stays published for a token lifetime.

    Keys retired longer ago than that are deleted: no token they signed can still be valid, and
    private key material that is not needed should not be kept.
    """
    now = utcnow()
    lifetime = timedelta(seconds=settings.access_token_lifetime_seconds)
    for row in list(session.scalars(select(SigningKey))):
        if row.retired_at is None:
            row.retired_at = now
        elif row.retired_at <= now - lifetime:
            session.delete(row)
    session.flush()
    return _store(session, generate_key(algorithm), now)
