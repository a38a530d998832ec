"""Tokens: by client secret and by private_key_jwt (ES256, RS256), renewed before expiry and
once after the server refuses one as invalid, refused clients as `TokenError`."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any, Final

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from care_exchange_client import AsyncClient, Client, ClientSecret, PrivateKey, TokenError
from care_exchange_client.auth import FreshAssertion
from care_exchange_client.types import ClientRequest
from care_exchange_server.demo import PROVIDER
from tests.clients.conftest import Reference, new_record

TYPE: Final = "capacity-snapshot"


def _key_client(admin: Client, key: ECKey | RSAKey) -> str:
    public = key.as_dict(private=False)
    request: ClientRequest = {
        "organisationId": PROVIDER,
        "name": f"SDK key client {uuid.uuid4().hex[:6]}",
        "scopes": [f"{TYPE}:publish", "services"],
        "authMethod": "private_key_jwt",
        "jwks": {"keys": [public]},  # type: ignore[list-item]
    }
    created = admin.create_client(request)
    assert created["authMethod"] == "private_key_jwt"
    assert "clientSecret" not in created
    return created["clientId"]


def _keys() -> list[Any]:
    return [
        pytest.param(lambda: ECKey.generate_key("P-256", {"kid": "sdk-ec"}), id="ES256"),
        pytest.param(lambda: RSAKey.generate_key(2048, {"kid": "sdk-rsa"}), id="RS256"),
    ]


def test_a_client_secret_gets_a_token_that_works(publisher: Client) -> None:
    assert publisher.token is None
    organisation = publisher.get_my_organisation()
    assert organisation["id"] == PROVIDER
    assert publisher.token is not None
    introspected = publisher.introspect_token(publisher.token["access_token"])
    assert introspected["active"] is True
    assert introspected["org"] == PROVIDER


@pytest.mark.parametrize("make_key", _keys())
def test_private_key_jwt_gets_tokens_with_fresh_assertions(
    reference: Reference, admin: Client, make_key: Any
) -> None:
    key = make_key()
    client_id = _key_client(admin, key)
    credentials = PrivateKey(client_id, key.as_dict(private=True))
    with Client(reference.base_url, credentials) as client:
        envelope = client.publish_record(TYPE, new_record(reference.service_id))
        assert envelope["submittedBy"] == PROVIDER
        first = client.token
        client.fetch_token()  # a second assertion: a replayed jti would be refused
        assert client.token is not None and first is not None
        assert client.token["access_token"] != first["access_token"]
        # the assertion authenticates the client at introspection too (audience: token endpoint)
        assert client.introspect_token(client.token["access_token"])["active"] is True


def test_a_pem_key_works_as_well_as_a_jwk(reference: Reference, admin: Client) -> None:
    key = ECKey.generate_key("P-256")
    client_id = _key_client(admin, key)
    pem = key.as_pem(private=True)
    with Client(reference.base_url, PrivateKey(client_id, pem)) as client:
        assert client.get_my_organisation()["id"] == PROVIDER


def test_the_token_is_renewed_before_it_expires(reference: Reference) -> None:
    # A leeway as long as the token's life makes every token due for renewal at once.
    with reference.client("publisher", leeway=900) as client:
        client.get_my_organisation()
        assert client.token is not None
        first = client.token["access_token"]
        client.get_my_organisation()
        assert client.token["access_token"] != first


def test_a_revoked_token_is_replaced_once_and_the_call_goes_through(publisher: Client) -> None:
    publisher.get_my_organisation()
    assert publisher.token is not None
    revoked = publisher.token["access_token"]
    publisher.revoke_token(revoked)
    assert publisher.introspect_token(revoked) == {"active": False}
    assert publisher.get_my_organisation()["id"] == PROVIDER
    assert publisher.token["access_token"] != revoked


def test_a_wrong_secret_is_a_token_error(reference: Reference) -> None:
    party = reference.party("publisher")
    credentials = ClientSecret(party.client_id, "wrong")
    with Client(reference.base_url, credentials) as client, pytest.raises(TokenError) as refused:
        client.get_my_organisation()
    assert refused.value.error == "invalid_client"


def test_request_token_returns_a_separate_narrower_token(publisher: Client) -> None:
    token = publisher.request_token(scope=f"{TYPE}:publish")
    assert token["scope"] == f"{TYPE}:publish"
    assert token["token_type"] == "Bearer"
    assert publisher.token is None or publisher.token["access_token"] != token["access_token"]


def test_discovery_needs_no_credentials(reference: Reference) -> None:
    with Client(reference.base_url) as anonymous:
        assert anonymous.get_root()["links"]["capabilities"] == "/.well-known/care-exchange"
        assert anonymous.get_capabilities()["limits"]["bulkMaxItems"] >= 1
        assert anonymous.get_jwks()["keys"]
        metadata = anonymous.get_authorization_server_metadata()
        assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
        assert anonymous.get_open_api_document().startswith("openapi: 3.1")


def test_async_private_key_jwt_and_renewal(reference: Reference, admin: Client) -> None:
    key = ECKey.generate_key("P-256")
    client_id = _key_client(admin, key)

    async def flow() -> tuple[str, str]:
        async with AsyncClient(
            reference.base_url, PrivateKey(client_id, key.as_dict(private=True)), leeway=900
        ) as client:
            await client.get_my_organisation()
            assert client.token is not None
            first = str(client.token["access_token"])
            await client.get_my_organisation()
            return first, str(client.token["access_token"])

    first, second = asyncio.run(flow())
    assert first != second


@pytest.mark.parametrize(
    ("make_key", "algorithm"),
    [
        (lambda: OKPKey.generate_key("Ed25519", {"kid": "sdk-ed"}), "Ed25519"),
        (lambda: ECKey.generate_key("P-256", {"kid": "sdk-ec"}), "ES256"),
        (lambda: RSAKey.generate_key(2048, {"kid": "sdk-rsa"}), "RS256"),
    ],
)
def test_each_assertion_is_short_lived_fresh_and_signed_for_the_key(
    make_key: Any, algorithm: str
) -> None:
    key = make_key()
    endpoint = "https://exchange.example.org/oauth/token"
    signer = FreshAssertion(endpoint, PrivateKey("cli-1", key.as_dict(private=True)))
    owner = SimpleNamespace(client_id="cli-1")
    first, second = signer.sign(owner, endpoint), signer.sign(owner, endpoint)
    decoded = [jwt.decode(signed, key, algorithms=[algorithm]) for signed in (first, second)]
    header, claims = decoded[0].header, decoded[0].claims
    assert (header["alg"], header["kid"]) == (algorithm, key.kid)
    assert (claims["iss"], claims["sub"], claims["aud"]) == ("cli-1", "cli-1", endpoint)
    assert 0 < claims["exp"] - claims["iat"] <= 60
    assert claims["jti"] != decoded[1].claims["jti"]
