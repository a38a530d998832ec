"""Client credentials, turned into the options of Authlib's httpx clients.

Authlib keeps the token, renews it `leeway` seconds before it expires (the client-credentials
grant has no refresh token, so renewing means asking again) and signs `private_key_jwt`
assertions. Two things it does not do as this API needs, done here:

- Its stock `PrivateKeyJWT` signs assertions valid for an hour; the server refuses any valid
  for more than 300 seconds (a long-lived assertion is a bearer credential a thief could
  replay). `FreshAssertion` signs each one afresh with a short `exp` and its own `jti`.
- It picks RS256 whatever the key; here the algorithm follows the key (ES256 for a P-256 key,
  RS256 for RSA, Ed25519 for an Ed25519 key, though the reference server advertises only RS256
  and ES256).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc7523 import PrivateKeyJWT  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523.assertion import (  # type: ignore[import-untyped]
    private_key_jwt_sign,
)
from joserfc.jwk import ECKey, OKPKey, RSAKey, import_key

ASSERTION_LIFETIME_SECONDS = 60
DEFAULT_LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class ClientSecret:
    """A `client_secret_basic` client: id and secret sent in an HTTP Basic header."""

    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class PrivateKey:
    """A `private_key_jwt` client (RFC 7523): it proves itself with a signed assertion.

    `key` is the private key as a JWK (dict or JSON text) or PEM; its public half is what was
    registered for the client. `key_id` goes into the assertion's header (`kid`) when given or
    when the JWK has one, so a server holding several keys for the client picks the right one.
    """

    client_id: str
    key: Mapping[str, Any] | str | bytes = field(repr=False)
    key_id: str | None = None
    algorithm: str | None = None
    assertion_lifetime: int = ASSERTION_LIFETIME_SECONDS


Credentials = ClientSecret | PrivateKey


def load_private_key(key: Mapping[str, Any] | str | bytes) -> ECKey | RSAKey | OKPKey:
    if isinstance(key, Mapping):
        loaded = import_key(dict(key))
    elif isinstance(key, str) and key.lstrip().startswith("{"):
        import json

        loaded = import_key(json.loads(key))
    else:
        loaded = _import_pem(key.encode() if isinstance(key, str) else key)
    if not isinstance(loaded, ECKey | RSAKey | OKPKey) or not loaded.is_private:
        raise ValueError("private_key_jwt needs a private RSA, EC or OKP key")
    return loaded


def _import_pem(pem: bytes) -> ECKey | RSAKey | OKPKey:
    for kind in (ECKey, RSAKey, OKPKey):
        try:
            return kind.import_key(pem)
        except (ValueError, TypeError):
            continue
    raise ValueError("the key is neither a JWK nor a PEM private key")


def algorithm_for(key: ECKey | RSAKey | OKPKey) -> str:
    if isinstance(key, RSAKey):
        return "RS256"
    if isinstance(key, OKPKey):  # RFC 9864's fully specified name, not the deprecated EdDSA
        return str(key.as_dict().get("crv", "Ed25519"))
    curve = key.as_dict().get("crv")
    return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}.get(str(curve), "ES256")


class FreshAssertion(PrivateKeyJWT):  # type: ignore[misc]
    """`private_key_jwt` with a new short-lived assertion, and a new `jti`, for every request."""

    def __init__(self, token_endpoint: str, credentials: PrivateKey) -> None:
        self.key = load_private_key(credentials.key)
        kid = credentials.key_id or self.key.as_dict().get("kid")
        super().__init__(
            token_endpoint,
            headers={"kid": kid} if kid else None,
            alg=credentials.algorithm or algorithm_for(self.key),
        )
        self.lifetime = credentials.assertion_lifetime

    def sign(self, auth: Any, token_endpoint: str) -> str:
        now = int(time.time())
        claims = {"iat": now, "exp": now + self.lifetime, "jti": secrets.token_urlsafe(24)}
        signed: str = private_key_jwt_sign(
            self.key,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            claims=claims,
            header=dict(self.headers) if self.headers else None,
        )
        return signed


def oauth_options(credentials: Credentials, scope: str | None, leeway: int) -> dict[str, Any]:
    """Keyword arguments for `OAuth2Client` / `AsyncOAuth2Client`.

    The token endpoint is not known yet; `bind_token_endpoint` completes them once it is.
    """
    options: dict[str, Any] = {
        "client_id": credentials.client_id,
        "scope": scope,
        "leeway": leeway,
        "grant_type": "client_credentials",
    }
    if isinstance(credentials, ClientSecret):
        options["client_secret"] = credentials.client_secret
        options["token_endpoint_auth_method"] = "client_secret_basic"
    return options


def bind_token_endpoint(http: Any, credentials: Credentials, token_endpoint: str) -> None:
    """Tell an Authlib client where tokens come from.

    `grant_type` and `token_endpoint` in Authlib's metadata are what let it renew an expiring
    token by itself. A `private_key_jwt` assertion's audience is the token endpoint, also when
    it authenticates the client at revocation or introspection, so its signer is made here.
    """
    http.metadata["token_endpoint"] = token_endpoint
    http.metadata["grant_type"] = "client_credentials"
    if isinstance(credentials, PrivateKey):
        method = FreshAssertion(token_endpoint, credentials)
        http.client_secret = method.key
        http.token_endpoint_auth_method = method
