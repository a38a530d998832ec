"""Registering OAuth clients: each belongs to one organisation and holds a fixed set of scopes.

The plain secret of a `client_secret_basic` client is returned once and never stored; a
`private_key_jwt` client registers only public keys, so the server holds nothing that could be used
to impersonate it. These functions flush but do not commit: the caller owns the transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from care_exchange_server.auth.secrets import generate_secret, hash_secret
from care_exchange_server.bodies import ClientCreatedBody
from care_exchange_server.scopes import all_scopes
from care_exchange_server.services.paging import Page, keyset
from care_exchange_server.services.times import timestamp
from care_exchange_server.storage.enums import AuthMethod
from care_exchange_server.storage.models import Client, Organisation
from care_exchange_server.storage.types import utcnow

CLIENT_SECRET_BASIC, PRIVATE_KEY_JWT = AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.PRIVATE_KEY_JWT
AUTH_METHODS = tuple(AuthMethod)


def client_scopes(client: Client) -> list[str]:
    """The scopes a client may be granted, in the order they were registered."""
    return client.scopes.split()


def _checked_scopes(scopes: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(scopes))
    unknown = sorted(set(wanted) - set(all_scopes()))
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}")
    if not wanted:
        raise ValueError("a client needs at least one scope")
    return wanted


def _checked_jwks(jwks: dict[str, Any] | None) -> dict[str, Any]:
    """Public signing keys only: the server must never hold a key that can impersonate a client."""
    if not jwks or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValueError("private_key_jwt clients need a JWKS with at least one key")
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"the JWKS is not valid: {error}") from error
    public: list[dict[str, Any]] = []
    for key in key_set.keys:
        if key.key_type == "oct":
            raise ValueError("the JWKS must hold public keys, not shared secrets")
        if key.is_private:
            raise ValueError("the JWKS must hold public keys only")
        public.append(dict(key.as_dict(private=False)))
    return {"keys": public}


def create_client(
    session: Session,
    organisation_id: str,
    name: str,
    scopes: Sequence[str],
    auth_method: str,
    jwks: dict[str, Any] | None = None,
) -> tuple[Client, str | None]:
    """Register a client; the plain secret (basic clients only) is returned now and never again.

    Raises ValueError for an unknown organisation, auth method or scope, or a JWKS that is
    missing, malformed or holds private keys.
    """
    if session.get(Organisation, organisation_id) is None:
        raise ValueError(f"unknown organisation: {organisation_id}")
    if auth_method not in AUTH_METHODS:
        raise ValueError(
            f"unknown auth method: {auth_method}; use one of {', '.join(AUTH_METHODS)}"
        )
    granted = _checked_scopes(scopes)
    secret: str | None = None
    secret_hash: str | None = None
    public_jwks: dict[str, Any] | None = None
    if auth_method == CLIENT_SECRET_BASIC:
        if jwks is not None:
            raise ValueError("client_secret_basic clients do not register keys")
        secret = generate_secret()
        secret_hash = hash_secret(secret)
    else:
        public_jwks = _checked_jwks(jwks)
    client = Client(
        client_id=f"cx-{secrets.token_hex(12)}",
        organisation_id=organisation_id,
        name=name,
        auth_method=AuthMethod(auth_method),
        secret_hash=secret_hash,
        jwks=public_jwks,
        scopes=" ".join(granted),
        created_at=utcnow(),
    )
    session.add(client)
    session.flush()
    return client, secret


def renew_secret(session: Session, client_id: str) -> str | None:
    """Give a basic client a new secret, returned now and never again; the old one stops at once.

    None when there is no such client, or it authenticates with keys (private_key_jwt).
    """
    client = session.get(Client, client_id)
    if client is None or client.auth_method != AuthMethod.CLIENT_SECRET_BASIC:
        return None
    secret = generate_secret()
    client.secret_hash = hash_secret(secret)
    session.flush()
    return secret


def disable_client(session: Session, client_id: str) -> Client | None:
    """Disable at once: its tokens stop verifying and it can get no more; None if unknown."""
    client = session.get(Client, client_id)
    if client is None:
        return None
    if client.disabled_at is None:
        client.disabled_at = utcnow()
        session.flush()
    return client


def page_clients(session: Session, size: int, token: str | None) -> Page[Client]:
    """Every client, by id, a page at a time."""
    return keyset(session, select(Client), Client.client_id, size, token, {"list": "clients"})


def list_clients(
    session: Session, organisation_id: str | None = None, *, include_disabled: bool = True
) -> list[Client]:
    """Clients, oldest first; of one organisation when given."""
    query = select(Client).order_by(Client.created_at, Client.client_id)
    if organisation_id is not None:
        query = query.where(Client.organisation_id == organisation_id)
    if not include_disabled:
        query = query.where(Client.disabled_at.is_(None))
    return list(session.scalars(query))


def client_dict(client: Client, secret: str | None = None) -> ClientCreatedBody:
    body = ClientCreatedBody(
        clientId=client.client_id,
        organisationId=client.organisation_id,
        name=client.name,
        authMethod=client.auth_method,
        scopes=client_scopes(client),
        createdAt=timestamp(client.created_at),
        disabledAt=timestamp(client.disabled_at),
    )
    if secret is not None:
        body["clientSecret"] = secret
    return body
