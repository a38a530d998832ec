"""Authentication and authorisation: tokens, their errors and refusals, scopes, revocation.

Tokens by client credentials and the RFC 6749 errors of the token endpoint; the refusal of every
token that must not be accepted; scopes; revocation (RFC 7009) and introspection (RFC 7662).

The refusals are tried on a real protected operation, the list of the first declared record type
the publisher may list, and each forgery is preceded by the same request with the real token, so
a server that refuses everything cannot pass them. Forged tokens are built from the real token's
claims: unsigned (`alg: none`), signed HS256 with the server's own public key as the HMAC secret
(key confusion), and with a claim changed under the original signature.

A client cannot ask for a short-lived token (its lifetime is the server's choice,
`auth.accessTokenLifetimeSeconds`) and the suite cannot sign one, so the expired token is given in
the configuration (`expired_token`): one the server issued to the publisher, kept until its `exp`
passed. The check first proves it genuine (signed by a key of the JWKS, `exp` in the past), so a
refusal for any other reason cannot pass it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey, import_key

from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import NotApplicableError, check, spec_clause

REALM = "care-exchange"
AUDIENCE = "care-exchange"
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
TOKEN_CLAIMS = ("iss", "sub", "client_id", "aud", "exp", "iat", "jti", "scope", "org")
INTROSPECTED_CLAIMS = ("scope", "client_id", "sub", "org", "exp", "iat", "iss", "aud", "jti")
_AUTH_PARAM = re.compile(
    r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*(?:,|$)'
)

PROTECTED_401 = spec_clause("components", "headers", "WWW-Authenticate-Bearer")


# ------------------------------------------------------------------------------------ helpers


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_segment(value: dict[str, Any]) -> str:
    return _b64encode(json.dumps(value, separators=(",", ":")).encode())


def _decoded(context: Context, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWS compact token's header and claims, read without checking the signature."""
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three segments")
        header, claims = (json.loads(_b64decode(part)) for part in parts[:2])
    except ValueError as error:
        context.fail(
            f"The access token is not a JWS compact serialisation ({error}).",
            "an RFC 9068 JWT access token: header.claims.signature",
        )
    context.expect(
        isinstance(header, dict) and isinstance(claims, dict),
        "The access token's header or claims are not JSON objects.",
        "an RFC 9068 JWT access token",
    )
    return header, claims


def challenge(value: str) -> tuple[str, dict[str, str]]:
    """The scheme of a `WWW-Authenticate` challenge and its auth-params (RFC 9110 11.6.1)."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        found = _AUTH_PARAM.match(rest, position)
        if found is None or found.end() == position:
            break
        name, raw = found[1].lower(), found[2]
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(name, raw)
        position = found.end()
    return scheme, params


def _media_type(response: httpx.Response) -> str:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower()


def _directives(response: httpx.Response, header: str) -> set[str]:
    return {
        part.strip().lower()
        for value in response.headers.get_list(header)
        for part in value.split(",")
        if part.strip()
    }


def _expect_not_cached(context: Context, answer: httpx.Response, what: str) -> None:
    context.expect(
        "no-store" in _directives(answer, "cache-control"),
        f"{what} may be cached: Cache-Control is {answer.headers.get('cache-control')!r}.",
        "Cache-Control: no-store (RFC 6749 section 5.1; #/components/headers/"
        "Cache-Control-NoStore)",
        answer,
    )


def _expect_oauth_error(
    context: Context, answer: httpx.Response, status: int, error: str, doing: str
) -> dict[str, Any]:
    """An RFC 6749 section 5.2 error: the status, the code, JSON (not problem details), no-store."""
    context.expect_status(answer, status, doing)
    context.expect(
        _media_type(answer) == "application/json",
        f"The OAuth error is {_media_type(answer) or 'untyped'}, not application/json.",
        "an RFC 6749 section 5.2 error body, application/json (OAuth errors are not problem "
        "details)",
        answer,
    )
    body: dict[str, Any] = context.expect_schema(answer, "OAuthError")
    context.expect(
        body["error"] == error,
        f"The error is {body['error']!r}.",
        f"error {error!r} (RFC 6749 section 5.2)",
        answer,
    )
    _expect_not_cached(context, answer, "The OAuth error")
    return body


def _scopes(context: Context, party: str) -> set[str]:
    """The scopes of `party`'s token with all its client's scopes."""
    return set(str(context.token_body(party).get("scope", "")).split())


def _protected_path(context: Context) -> str:
    """A real protected operation every implementation offers: the list of one record type.

    The first declared type the publisher's token may list (by its read or publish scope), so
    that the real token is accepted there; the first declared type if it may list none.
    """
    types = context.capabilities()["recordTypes"]
    if not types:
        raise NotApplicableError("the capability document declares no record type")
    held = _scopes(context, "publisher")
    listable = [name for name in types if {f"{name}:read", f"{name}:publish"} & held]
    return f"/v1/records/{(listable or types)[0]}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _accepted(context: Context, token: str) -> str:
    """The protected path, once the token is shown to be accepted there."""
    path = _protected_path(context)
    answer = context.get(path, headers=_bearer(token))
    context.expect_status(
        answer, 200, f"GET {path} with the publisher's real token (before forging it)"
    )
    return path


def _expect_refused(context: Context, answer: httpx.Response, *, token_sent: bool = True) -> None:
    """A 401 with the RFC 6750 challenge and an `invalid_token` problem, as the spec says."""
    context.expect_status(
        answer, 401, "the token was not refused" if token_sent else "the request was not refused"
    )
    values = answer.headers.get_list("www-authenticate")
    context.expect(
        bool(values),
        "The 401 has no WWW-Authenticate header.",
        'WWW-Authenticate: Bearer realm="care-exchange"... (RFC 6750 section 3)',
        answer,
    )
    scheme, params = challenge(values[0])
    context.expect(
        scheme.lower() == "bearer" and params.get("realm") == REALM,
        f"The challenge is {values[0]!r}.",
        f'a Bearer challenge with realm="{REALM}"',
        answer,
    )
    if token_sent:
        context.expect(
            params.get("error") == "invalid_token" and bool(params.get("error_description")),
            f"The challenge is {values[0]!r}.",
            'error="invalid_token" and an error_description in the challenge',
            answer,
        )
    else:
        context.expect(
            "error" not in params,
            f"The challenge is {values[0]!r}, with an error although no token was sent.",
            f'Bearer realm="{REALM}" with no error parameter (RFC 6750 section 3.1)',
            answer,
        )
    context.expect_problem(answer, 401, "invalid_token")


def _forged(header: dict[str, Any], claims_segment: str, signature: bytes | None = None) -> str:
    return f"{_json_segment(header)}.{claims_segment}.{_b64encode(signature or b'')}"


# ---------------------------------------------------------------- key encodings (key confusion)


def public_key_pems(jwk: dict[str, Any]) -> dict[str, bytes]:
    """The PEM encodings a careless verifier might take as an HMAC secret, by name.

    SubjectPublicKeyInfo (and PKCS#1 for RSA), as the usual libraries write them.
    """
    if jwk.get("kty") not in ("RSA", "EC"):
        return {}
    try:
        key = import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError):
        return {}
    if not isinstance(key, RSAKey | ECKey):
        return {}
    pems = {"SPKI PEM": key.as_pem(private=False)}
    public = key.get_op_key("verify")
    if isinstance(public, rsa.RSAPublicKey):
        pems["PKCS#1 PEM"] = public.public_bytes(Encoding.PEM, PublicFormat.PKCS1)
    return pems


def hmac_secrets(jwk: dict[str, Any]) -> dict[str, bytes]:
    """Every form of a public key tried as an HS256 secret, by name.

    Each PEM with and without its final newline, and the JWK itself as JSON.
    """
    pems = public_key_pems(jwk)
    return (
        pems
        | {f"{name} without its final newline": pem.rstrip(b"\n") for name, pem in pems.items()}
        | {"the JWK as JSON": json.dumps(jwk, separators=(",", ":")).encode()}
    )


def _jwks(context: Context) -> list[dict[str, Any]]:
    answer = context.get(context.endpoint("jwks_uri"))
    context.expect_status(answer, 200, "the JWKS could not be read")
    document = context.json(answer)
    keys = document.get("keys") if isinstance(document, dict) else None
    context.expect(
        isinstance(keys, list) and any(isinstance(key, dict) for key in keys),
        "The JWKS holds no key.",
        "the token-signing keys at jwks_uri",
        answer,
    )
    assert isinstance(keys, list)
    return [key for key in keys if isinstance(key, dict)]


def _as_set(value: Any) -> set[Any]:
    if isinstance(value, list):
        return set(value)
    return set(value.split()) if isinstance(value, str) else {value}


# ------------------------------------------------------------------------------------- checks


@check(
    "CX-AUTH-001",
    "A client gets an access token by client credentials with HTTP Basic",
    clause=spec_clause("paths", "/oauth/token", "post", "responses", "200"),
)
def token_by_client_credentials(context: Context) -> None:
    answer = context.token_response("publisher")
    context.expect_status(answer, 200, "the publisher could not get a token")
    context.expect(
        _media_type(answer) == "application/json",
        f"The token response is {_media_type(answer) or 'untyped'}.",
        "application/json (RFC 6749 section 5.1)",
        answer,
    )
    body = context.json(answer)
    token_type = body.get("token_type") if isinstance(body, dict) else None
    context.expect(
        isinstance(token_type, str) and token_type.lower() == "bearer",
        f"The token_type is {token_type!r}.",
        "token_type Bearer (RFC 6750 section 4)",
        answer,
    )
    expires_in = body.get("expires_in")
    context.expect(
        type(expires_in) is int and expires_in > 0,
        f"expires_in is {expires_in!r}.",
        "expires_in, a positive integer number of seconds",
        answer,
    )
    _expect_not_cached(context, answer, "The token response")
    context.expect(
        "no-cache" in _directives(answer, "pragma"),
        f"The token response lacks Pragma: no-cache (it is {answer.headers.get('pragma')!r}).",
        "Pragma: no-cache (RFC 6749 section 5.1; #/components/headers/Pragma-NoCache)",
        answer,
    )
    context.expect_schema(answer, "TokenResponse")


@check(
    "CX-AUTH-002",
    "The access token is an RFC 9068 JWT carrying the claims the standard lists",
    clause="spec/openapi.yaml#/info/description",
)
def token_is_a_jwt(context: Context) -> None:
    body = context.token_body("publisher")
    header, claims = _decoded(context, body["access_token"])
    typ = str(header.get("typ", "")).lower()
    context.expect(
        typ in ACCESS_TOKEN_TYPES,
        f"The token's typ is {header.get('typ')!r}.",
        "typ at+jwt (RFC 9068 section 2.1)",
    )
    missing = [name for name in TOKEN_CLAIMS if name not in claims]
    context.expect(
        not missing,
        f"The token lacks the claims {missing}.",
        f"the claims {', '.join(TOKEN_CLAIMS)} (RFC 9068 section 2.2 and the spec's "
        "Authorisation convention)",
    )
    client_id, _ = context.credentials("publisher")
    issuer = context.capabilities()["auth"]["issuer"]
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    wrong = [
        f"{name} is {claims[name]!r}, not {wanted!r}"
        for name, wanted in (("sub", client_id), ("client_id", client_id), ("iss", issuer))
        if claims[name] != wanted
    ]
    if AUDIENCE not in audiences:
        wrong.append(f"aud is {claims['aud']!r}, without {AUDIENCE!r}")
    if (
        not all(type(claims[name]) is int for name in ("exp", "iat"))
        or claims["exp"] <= claims["iat"]
    ):
        wrong.append(f"exp {claims['exp']!r} is not an integer after iat {claims['iat']!r}")
    if set(str(claims["scope"]).split()) != set(str(body.get("scope", "")).split()):
        wrong.append("scope is not the scope the token response granted")
    for name in ("jti", "org"):
        if not isinstance(claims[name], str) or not claims[name]:
            wrong.append(f"{name} is not a non-empty string")
    context.expect(
        not wrong,
        f"The token's claims are wrong: {'; '.join(wrong)}.",
        "sub and client_id the client's id, iss the capability document's issuer, aud "
        f"{AUDIENCE!r}, exp after iat, scope as granted, a jti and the caller's org",
    )
    kids = [key.get("kid") for key in _jwks(context)]
    context.expect(
        header.get("kid") in kids,
        f"The token's kid {header.get('kid')!r} names no key of the JWKS ({kids}).",
        "a token signed with a key published at jwks_uri, named by its kid",
    )


@check(
    "CX-AUTH-003",
    "A wrong client secret is 401 invalid_client with a Basic challenge",
    clause=spec_clause("components", "responses", "OAuthInvalidClient"),
)
def wrong_secret(context: Context) -> None:
    client_id, _ = context.credentials("publisher")
    wrong = f"wrong-{context.random.getrandbits(64):016x}"
    answer = context.post_form(
        context.capabilities()["auth"]["tokenEndpoint"],
        {"grant_type": "client_credentials"},
        basic=(client_id, wrong),
    )
    _expect_oauth_error(context, answer, 401, "invalid_client", "a wrong secret was not refused")
    values = answer.headers.get_list("www-authenticate")
    context.expect(
        any(challenge(value)[0].lower() == "basic" for value in values),
        f"The WWW-Authenticate header is {values or 'absent'}.",
        "a Basic challenge, the scheme the client tried (RFC 6749 section 5.2)",
        answer,
    )


@check(
    "CX-AUTH-004",
    "An unknown grant type is 400 unsupported_grant_type",
    clause=spec_clause("components", "responses", "OAuthBadRequest"),
)
def unknown_grant(context: Context) -> None:
    answer = context.token_response(
        "publisher", grant_type="urn:care-exchange:conformance:no-such-grant"
    )
    _expect_oauth_error(
        context, answer, 400, "unsupported_grant_type", "an unknown grant type was not refused"
    )


@check(
    "CX-AUTH-005",
    "A token request without grant_type is 400 invalid_request",
    clause=spec_clause("components", "responses", "OAuthBadRequest"),
)
def missing_grant(context: Context) -> None:
    answer = context.token_response("publisher", grant_type=None)
    _expect_oauth_error(
        context, answer, 400, "invalid_request", "a request without grant_type was not refused"
    )


@check(
    "CX-AUTH-006",
    "A scope the client does not hold is 400 invalid_scope",
    clause=spec_clause("components", "schemas", "TokenRequest", "properties", "scope"),
)
def scope_not_held(context: Context) -> None:
    held = _scopes(context, "publisher")
    others = [scope for scope in context.capabilities()["scopes"] if scope not in held]
    wanted = others[0] if others else "care-exchange-conformance:no-such-scope"
    answer = context.token_response("publisher", scope=wanted)
    _expect_oauth_error(
        context,
        answer,
        400,
        "invalid_scope",
        f"the scope {wanted!r} was granted to a client that does not hold it",
    )


@check(
    "CX-AUTH-007",
    "A protected operation without a token is 401 with a bare Bearer challenge",
    clause=PROTECTED_401,
)
def no_token(context: Context) -> None:
    answer = context.get(_protected_path(context))
    _expect_refused(context, answer, token_sent=False)


@check(
    "CX-AUTH-008",
    "A malformed token is 401 invalid_token",
    clause=PROTECTED_401,
)
def malformed_token(context: Context) -> None:
    answer = context.get(_protected_path(context), headers=_bearer("not-a-jwt"))
    _expect_refused(context, answer)


@check(
    "CX-AUTH-009",
    "An unsigned token (alg: none) is 401 invalid_token",
    clause=PROTECTED_401,
)
def unsigned_token(context: Context) -> None:
    token = context.token("publisher")
    path = _accepted(context, token)
    for alg in ("none", "None", "NONE"):
        forged = _forged({"alg": alg, "typ": "at+jwt"}, token.split(".")[1])
        answer = context.get(path, headers=_bearer(forged))
        context.expect(
            answer.status_code == 401,
            f"An unsigned token (alg {alg!r}) with the real token's claims was not refused: "
            f"the answer was {answer.status_code}.",
            "status 401 (RFC 8725 section 3.1: never accept alg none)",
            answer,
        )
        _expect_refused(context, answer)


@check(
    "CX-AUTH-010",
    "A token signed HS256 with the server's public key as the secret is 401 (key confusion)",
    clause=PROTECTED_401,
)
def key_confusion(context: Context) -> None:
    token = context.token("publisher")
    path = _accepted(context, token)
    header, _ = _decoded(context, token)
    keys = _jwks(context)
    named = [key for key in keys if "kid" in header and key.get("kid") == header["kid"]]
    forged_header = {"alg": "HS256", "typ": "at+jwt"} | (
        {"kid": header["kid"]} if "kid" in header else {}
    )
    claims_segment = token.split(".")[1]
    signing_input = f"{_json_segment(forged_header)}.{claims_segment}".encode("ascii")
    for key in named or keys:
        for name, secret in hmac_secrets(key).items():
            signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
            forged = _forged(forged_header, claims_segment, signature)
            answer = context.get(path, headers=_bearer(forged))
            context.expect(
                answer.status_code == 401,
                f"A token signed HS256 with {name} of the key {key.get('kid')!r} as the HMAC "
                f"secret was not refused: the answer was {answer.status_code}.",
                "status 401: a key verifies only with its own algorithm (RFC 8725 section 2.1)",
                answer,
            )
            _expect_refused(context, answer)


@check(
    "CX-AUTH-011",
    "A token whose claims were changed after signing is 401 invalid_token",
    clause=PROTECTED_401,
)
def changed_claims(context: Context) -> None:
    token = context.token("publisher")
    path = _accepted(context, token)
    _, claims = _decoded(context, token)
    header_segment, _, signature = token.split(".")
    exp = claims.get("exp")
    claims["exp"] = (exp if type(exp) is int else 0) + 3600
    forged = f"{header_segment}.{_json_segment(claims)}.{signature}"
    _expect_refused(context, context.get(path, headers=_bearer(forged)))


@check(
    "CX-AUTH-012",
    "A token revoked by its own client is 401 invalid_token from then on",
    clause=spec_clause("paths", "/oauth/revoke", "post"),
)
def revoked_token(context: Context) -> None:
    token = context.new_token("publisher")["access_token"]
    path = _accepted(context, token)
    answer = context.post_form(
        context.endpoint("revocation_endpoint"),
        {"token": token, "token_type_hint": "access_token"},
        basic=context.credentials("publisher"),
    )
    context.expect_status(answer, 200, "the revocation was not accepted")
    _expect_refused(context, context.get(path, headers=_bearer(token)))


@check(
    "CX-AUTH-013",
    "A token without the needed scope is 403 insufficient_scope with its challenge",
    clause=spec_clause("components", "responses", "Forbidden"),
)
def insufficient_scope(context: Context) -> None:
    held = _scopes(context, "subscriber")
    readable = [
        name
        for name in context.capabilities()["recordTypes"]
        if f"{name}:read" in held and f"{name}:publish" not in held
    ]
    if not readable:
        raise NotApplicableError(
            "the subscriber's client holds no record type's read scope without its publish scope"
        )
    record_type = readable[0]
    needed, narrow = f"{record_type}:publish", f"{record_type}:read"
    granted = context.token_response("subscriber", scope=narrow)
    if granted.status_code != 200:
        raise NotApplicableError(
            f"the subscriber's client cannot get a token limited to {narrow} "
            f"(the token endpoint answered {granted.status_code})"
        )
    body = context.json(granted)
    context.expect(
        isinstance(body, dict) and isinstance(body.get("access_token"), str),
        "The token response has no access_token.",
        "a JSON object with a string access_token (RFC 6749 section 5.1)",
        granted,
    )
    if needed in str(body.get("scope", narrow)).split():
        raise NotApplicableError(f"the subscriber's token limited to {narrow} carries {needed}")
    answer = context.request(
        "POST",
        f"/v1/records/{record_type}",
        headers=_bearer(body["access_token"]),
        json=context.new_record(record_type),
    )
    context.expect_status(answer, 403, f"publishing with a token limited to {narrow}")
    context.expect_problem(answer, 403, "insufficient_scope")
    values = answer.headers.get_list("www-authenticate")
    scheme, params = challenge(values[0]) if values else ("", {})
    context.expect(
        scheme.lower() == "bearer"
        and params.get("error") == "insufficient_scope"
        and needed in params.get("scope", "").split(),
        f"The WWW-Authenticate header is {values or 'absent'}.",
        f'Bearer error="insufficient_scope", scope="{needed}" (RFC 6750 section 3.1)',
        answer,
    )


@check(
    "CX-AUTH-014",
    "Introspection of an active token by its own client gives its claims",
    clause=spec_clause("components", "schemas", "IntrospectionResponse"),
)
def introspect_active(context: Context) -> None:
    token = context.token("publisher")
    _, claims = _decoded(context, token)
    answer = context.post_form(
        context.endpoint("introspection_endpoint"),
        {"token": token},
        basic=context.credentials("publisher"),
    )
    context.expect_status(answer, 200, "the token could not be introspected")
    body = context.expect_schema(answer, "IntrospectionResponse")
    context.expect(
        body["active"] is True,
        "An active token is reported inactive to its own client.",
        '"active": true (RFC 7662 section 2.2)',
        answer,
    )

    def same(name: str) -> bool:
        if name in ("scope", "aud"):
            return _as_set(body[name]) == _as_set(claims.get(name))
        return bool(body[name] == claims.get(name))

    differ = [name for name in INTROSPECTED_CLAIMS if not same(name)]
    context.expect(
        not differ,
        f"The introspection differs from the token's own claims in {differ}.",
        "the token's claims, as issued",
        answer,
    )


@check(
    "CX-AUTH-015",
    "Introspection of a token the server never issued is inactive",
    clause=spec_clause("paths", "/oauth/introspect", "post"),
)
def introspect_garbage(context: Context) -> None:
    answer = context.post_form(
        context.endpoint("introspection_endpoint"),
        {"token": f"not-a-token-{context.random.getrandbits(64):016x}"},
        basic=context.credentials("publisher"),
    )
    context.expect_status(answer, 200, "introspecting an unknown token")
    body = context.expect_schema(answer, "IntrospectionResponse")
    context.expect(
        body == {"active": False},
        f"An unknown token is reported as {body}.",
        '{"active": false} and nothing else (RFC 7662 section 2.2)',
        answer,
    )


@check(
    "CX-AUTH-016",
    "Revoking a token the server never issued is 200 with an empty body",
    clause=spec_clause("paths", "/oauth/revoke", "post", "responses", "200"),
)
def revoke_unknown(context: Context) -> None:
    answer = context.post_form(
        context.endpoint("revocation_endpoint"),
        {"token": f"not-a-token-{context.random.getrandbits(64):016x}"},
        basic=context.credentials("publisher"),
    )
    context.expect_status(answer, 200, "revoking an unknown token (RFC 7009 section 2.2)")
    context.expect(
        not answer.content,
        "The revocation's answer has a body.",
        "an empty body, whether or not the token was known",
        answer,
    )


def _signed_by_one_of(token: str, keys: list[dict[str, Any]]) -> bool:
    """Whether a key of the JWKS, the one its `kid` names, verifies the token's signature."""
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        return False
    for jwk in keys:
        if jwk.get("kid") != header.get("kid"):
            continue
        try:
            jws.deserialize_compact(token, import_key(jwk), algorithms=[str(header.get("alg"))])
        except (JoseError, ValueError, TypeError, KeyError):
            continue
        return True
    return False


@check(
    "CX-AUTH-017",
    "A token past its expiry time is 401 invalid_token",
    clause=PROTECTED_401,
)
def expired_token(context: Context) -> None:
    token = context.config.expired_token
    if token is None:
        raise NotApplicableError(
            "no expired_token is configured: give the suite a token your server issued to the "
            "publisher's client, kept until its exp passed"
        )
    path = _accepted(context, context.token("publisher"))
    _, claims = _decoded(context, token)
    exp = claims.get("exp")
    if type(exp) is not int or exp >= time.time():
        raise NotApplicableError(f"the configured expired_token has not expired (exp {exp!r})")
    if not _signed_by_one_of(token, _jwks(context)):
        raise NotApplicableError(
            "the configured expired_token is not signed by a key of the JWKS, so refusing it "
            "would prove nothing about expiry"
        )
    _expect_refused(context, context.get(path, headers=_bearer(token)))
