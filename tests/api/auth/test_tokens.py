"""`verify_access_token` refuses every kind of bad token; key rotation keeps old tokens valid."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy.orm import Session, sessionmaker

from care_exchange_server.auth import keys
from care_exchange_server.auth.clients import disable_client
from care_exchange_server.auth.keys import current_key, public_jwks, rotate_keys
from care_exchange_server.auth.tokens import (
    InvalidTokenError,
    issue_access_token,
    verify_access_token,
)
from care_exchange_server.settings import Settings
from care_exchange_server.storage.models import Client, RevokedToken, SigningKey
from care_exchange_server.storage.types import utcnow
from tests.api.auth.conftest import MakeClient
from tests.api.auth.helpers import Registered, get_token


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as opened:
        yield opened


@pytest.fixture
def registered(make_client: MakeClient) -> Registered:
    return make_client()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _claims(settings: Settings, registered: Registered, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": registered.client_id,
        "client_id": registered.client_id,
        "aud": settings.audience,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "scope": "services",
        "org": registered.organisation_id,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed(session: Session, claims: dict[str, Any], **header: Any) -> str:
    key = current_key(session)
    session.commit()
    full = {"alg": "RS256", "kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(full, claims, key, default_type=None)


def _refused(session: Session, settings: Settings, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        verify_access_token(session, settings, token)
    return caught.value.description


def _client(session: Session, registered: Registered) -> Client:
    row = session.get(Client, registered.client_id)
    assert row is not None
    return row


def test_a_good_token_gives_the_principal(
    session: Session, settings: Settings, registered: Registered
) -> None:
    token = issue_access_token(session, settings, _client(session, registered), ["services"])
    principal = verify_access_token(session, settings, token)
    assert principal.client_id == registered.client_id
    assert principal.organisation_id == registered.organisation_id
    assert principal.organisation_kind == "provider"
    assert principal.scopes == frozenset({"services"})
    assert principal.expires_at > utcnow() + timedelta(
        seconds=settings.access_token_lifetime_seconds - 60
    )
    hand_made = _signed(session, _claims(settings, registered))
    assert verify_access_token(session, settings, hand_made).scopes == frozenset({"services"})


def test_malformed_tokens_are_refused(session: Session, settings: Settings) -> None:
    for token in ("", "abc", "a.b.c", "é.b.c", "eyJ9.e30.xx"):
        assert _refused(session, settings, token)


def test_alg_none_is_refused(session: Session, settings: Settings, registered: Registered) -> None:
    kid = current_key(session).kid
    header = _b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": kid}).encode())
    payload = _b64(json.dumps(_claims(settings, registered)).encode())
    assert "algorithm" in _refused(session, settings, f"{header}.{payload}.")


def test_hmac_signed_with_the_public_key_is_refused(
    session: Session, settings: Settings, registered: Registered
) -> None:
    key = current_key(session)
    assert isinstance(key, RSAKey)
    public_pem = key.as_pem(private=False)
    header = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).encode())
    payload = _b64(json.dumps(_claims(settings, registered)).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}.{_b64(signature)}"
    assert "algorithm" in _refused(session, settings, token)


def test_wrong_audience_and_issuer_are_refused(
    session: Session, settings: Settings, registered: Registered
) -> None:
    wrong_aud = _signed(session, _claims(settings, registered, aud="someone-else"))
    assert "aud" in _refused(session, settings, wrong_aud)
    wrong_iss = _signed(session, _claims(settings, registered, iss="https://evil.example"))
    assert "iss" in _refused(session, settings, wrong_iss)


def test_expired_token_is_refused(
    session: Session, settings: Settings, registered: Registered
) -> None:
    past = int(time.time()) - 3600
    token = _signed(session, _claims(settings, registered, iat=past - 900, exp=past))
    assert _refused(session, settings, token) == "The token has expired."


def test_missing_claims_are_refused(
    session: Session, settings: Settings, registered: Registered
) -> None:
    for name in ("jti", "exp", "org", "scope", "client_id"):
        token = _signed(session, _claims(settings, registered, **{name: None}))
        assert _refused(session, settings, token)


def test_wrong_typ_is_refused(session: Session, settings: Settings, registered: Registered) -> None:
    token = _signed(session, _claims(settings, registered), typ="JWT")
    assert "typ" in _refused(session, settings, token)


def test_unknown_kid_and_foreign_key_are_refused(
    session: Session, settings: Settings, registered: Registered
) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"alg": "RS256"}, auto_kid=True)
    claims = _claims(settings, registered)
    foreign = jwt.encode({"alg": "RS256", "kid": stranger.kid, "typ": "at+jwt"}, claims, stranger)
    assert _refused(session, settings, foreign)
    ours = current_key(session).kid
    forged = jwt.encode({"alg": "RS256", "kid": ours, "typ": "at+jwt"}, claims, stranger)
    assert "signature" in _refused(session, settings, forged)


def test_bad_signature_and_tampered_payload_are_refused(
    session: Session, settings: Settings, registered: Registered
) -> None:
    token = issue_access_token(session, settings, _client(session, registered), ["services"])
    header, payload, signature = token.split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    assert "signature" in _refused(session, settings, f"{header}.{payload}.{flipped}")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "admin services"
    tampered = _b64(json.dumps(claims).encode())
    assert "signature" in _refused(session, settings, f"{header}.{tampered}.{signature}")


def test_revoked_jti_and_disabled_client_are_refused(
    session: Session, settings: Settings, make_client: MakeClient
) -> None:
    first, second = make_client(), make_client()
    revoked = _signed(session, _claims(settings, first, jti="gone"))
    session.add(RevokedToken(jti="gone", expires_at=utcnow() + timedelta(hours=1)))
    session.commit()
    assert _refused(session, settings, revoked) == "The token has been revoked."
    token = issue_access_token(session, settings, _client(session, second))
    session.commit()
    assert verify_access_token(session, settings, token)
    disable_client(session, second.client_id)
    session.commit()
    assert "client" in _refused(session, settings, token)


def test_org_claim_must_match_the_client(
    session: Session, settings: Settings, registered: Registered
) -> None:
    token = _signed(session, _claims(settings, registered, org="org-other"))
    assert _refused(session, settings, token)


def test_rotation_keeps_old_tokens_valid_and_publishes_both_keys(
    client: TestClient,
    session: Session,
    settings: Settings,
    registered: Registered,
) -> None:
    old_token = get_token(client, registered)
    old_kid = jwt.decode(old_token, KeySet.import_key_set(client.get("/jwks.json").json())).header[
        "kid"
    ]
    new_row = rotate_keys(session, settings)
    session.commit()
    assert new_row.kid != old_kid
    published = {key["kid"] for key in client.get("/jwks.json").json()["keys"]}
    assert published == {old_kid, new_row.kid}
    new_token = get_token(client, registered)
    assert (
        jwt.decode(new_token, KeySet.import_key_set(client.get("/jwks.json").json())).header["kid"]
        == new_row.kid
    )
    assert verify_access_token(session, settings, old_token).client_id == registered.client_id
    assert verify_access_token(session, settings, new_token).client_id == registered.client_id
    introspected = client.post(
        "/oauth/introspect",
        data={"token": old_token},
        auth=(registered.client_id, registered.secret or ""),
    )
    assert introspected.json()["active"] is True


def test_long_retired_keys_leave_the_jwks(session: Session, settings: Settings) -> None:
    first = current_key(session).kid
    rotate_keys(session, settings)
    session.commit()
    old = session.get(SigningKey, first)
    assert old is not None
    old.retired_at = utcnow() - timedelta(seconds=settings.access_token_lifetime_seconds + 1)
    session.commit()
    assert first not in {key["kid"] for key in public_jwks(session, settings)["keys"]}
    rotate_keys(session, settings)
    session.commit()
    assert session.get(SigningKey, first) is None


def test_keys_survive_a_restart(
    sessions: sessionmaker[Session], settings: Settings, registered: Registered
) -> None:
    from care_exchange_server.app import create_app, dispose

    with sessions() as session:
        token = issue_access_token(session, settings, _client(session, registered))
        session.commit()
    keys._parsed.clear()  # nothing cached: the key must come back from the database
    restarted = create_app(settings)
    try:
        with restarted.state.sessions() as session:
            assert verify_access_token(session, settings, token).client_id == registered.client_id
    finally:
        dispose(restarted)


def test_a_token_accepted_once_is_still_refused_once_expired(
    session: Session, settings: Settings, registered: Registered, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accepted signatures are remembered; the time-bound claims are checked on every use."""
    token = _signed(session, _claims(settings, registered, exp=int(time.time()) + 60))
    assert verify_access_token(session, settings, token).client_id == registered.client_id
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    assert _refused(session, settings, token) == "The token has expired."


def test_a_remembered_signature_does_not_carry_over_to_another_issuer(
    session: Session, settings: Settings, registered: Registered
) -> None:
    token = _signed(session, _claims(settings, registered))
    assert verify_access_token(session, settings, token)
    elsewhere = settings.model_copy(update={"issuer": "https://elsewhere.test"})
    assert "iss" in _refused(session, elsewhere, token)
