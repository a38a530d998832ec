"""Client registration and secrets: hashed at rest, scopes and keys checked on the way in."""

from __future__ import annotations

import pytest
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.auth.clients import create_client, disable_client, list_clients
from care_exchange_server.auth.secrets import (
    COST,
    Cost,
    generate_secret,
    hash_secret,
    verify_secret,
)
from care_exchange_server.storage.models import Client
from tests.api.auth.helpers import add_organisation


def test_the_server_hashes_at_full_cost_and_checks_any_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The suite hashes cheaply (tests/conftest.py); the server's own cost is scrypt's 2**14."""
    assert Cost().n == 2**14
    secret = generate_secret()
    cheap = hash_secret(secret)
    assert cheap.split("$")[1] == str(2**10)
    monkeypatch.setattr(COST, "n", Cost().n)
    full = hash_secret(secret)
    assert full.split("$")[1:4] == ["16384", "8", "1"]
    assert verify_secret(secret, full) and verify_secret(secret, cheap)
    assert not verify_secret(secret + "x", full)


def test_secret_hashing_round_trip() -> None:
    secret = generate_secret()
    assert len(secret) >= 40
    encoded = hash_secret(secret)
    assert secret not in encoded
    assert encoded.startswith("scrypt$")
    assert hash_secret(secret) != encoded  # salted
    assert verify_secret(secret, encoded)
    assert not verify_secret(secret + "x", encoded)
    assert not verify_secret(secret, "garbage")
    assert not verify_secret(secret, "bcrypt$1$2$3$4$5")


def test_secrets_are_stored_only_hashed(sessions: sessionmaker[Session]) -> None:
    organisation = add_organisation(sessions)
    with sessions() as session:
        client, secret = create_client(
            session, organisation, "feeder", ["services"], "client_secret_basic"
        )
        session.commit()
    assert secret
    with sessions() as session:
        raw = session.execute(
            text("SELECT * FROM clients WHERE client_id = :id"), {"id": client.client_id}
        ).one()
        assert all(secret not in str(value) for value in raw)
        row = session.get(Client, client.client_id)
        assert row is not None and row.secret_hash is not None
        assert verify_secret(secret, row.secret_hash)


def test_unknown_scopes_are_refused_by_name(sessions: sessionmaker[Session]) -> None:
    organisation = add_organisation(sessions)
    with sessions() as session, pytest.raises(ValueError, match="bogus, everything"):
        create_client(
            session, organisation, "x", ["services", "everything", "bogus"], "client_secret_basic"
        )


def test_other_registration_errors(sessions: sessionmaker[Session]) -> None:
    organisation = add_organisation(sessions)
    private = RSAKey.generate_key(2048, auto_kid=True)
    with sessions() as session:
        with pytest.raises(ValueError, match="unknown organisation"):
            create_client(session, "nope", "x", ["services"], "client_secret_basic")
        with pytest.raises(ValueError, match="auth method"):
            create_client(session, organisation, "x", ["services"], "client_secret_post")
        with pytest.raises(ValueError, match="JWKS"):
            create_client(session, organisation, "x", ["services"], "private_key_jwt")
        with pytest.raises(ValueError, match="public keys only"):
            create_client(
                session,
                organisation,
                "x",
                ["services"],
                "private_key_jwt",
                {"keys": [private.as_dict(private=True)]},
            )
        shared = OctKey.generate_key(256)
        with pytest.raises(ValueError, match="public keys"):
            create_client(
                session,
                organisation,
                "x",
                ["services"],
                "private_key_jwt",
                {"keys": [shared.as_dict(private=True)]},
            )


def test_private_key_jwt_client_has_no_secret(sessions: sessionmaker[Session]) -> None:
    organisation = add_organisation(sessions)
    key = RSAKey.generate_key(2048, auto_kid=True)
    with sessions() as session:
        client, secret = create_client(
            session,
            organisation,
            "x",
            ["services"],
            "private_key_jwt",
            {"keys": [key.as_dict(private=False)]},
        )
        session.commit()
    assert secret is None
    assert client.secret_hash is None
    assert client.jwks == {"keys": [key.as_dict(private=False)]}


def test_list_and_disable(sessions: sessionmaker[Session]) -> None:
    first, second = add_organisation(sessions), add_organisation(sessions)
    with sessions() as session:
        a, _ = create_client(session, first, "a", ["services"], "client_secret_basic")
        create_client(session, second, "b", ["services"], "client_secret_basic")
        session.commit()
        assert [c.client_id for c in list_clients(session, first)] == [a.client_id]
        assert len(list_clients(session)) == 2
        disabled = disable_client(session, a.client_id)
        session.commit()
        assert disabled is not None and disabled.disabled_at is not None
        assert disable_client(session, "cx-unknown") is None
        assert list_clients(session, first, include_disabled=False) == []
        assert session.scalars(select(Client.client_id)).all()
