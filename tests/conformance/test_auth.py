"""The auth checks pass against the reference server and each broken variant fails its own.

The variants are built here, on the reference app, as ASGI middleware or a change to its data:
a server that accepts unsigned tokens, one that verifies an HS256 token with its RSA public key
as the secret, one whose 401s carry no challenge, one whose OAuth errors are problem documents,
one that does not check signatures, one whose token responses may be cached, one that ignores
revocation; and two servers that will not narrow a subscriber's token to a read scope.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_exchange_conformance.checks import auth
from care_exchange_conformance.checks.auth import challenge, hmac_secrets, public_key_pems
from care_exchange_conformance.config import Config
from care_exchange_conformance.registry import REGISTRY
from care_exchange_conformance.registry import select as select_checks
from care_exchange_conformance.reports.json_report import as_dict
from care_exchange_conformance.runner import Report, Status, run
from care_exchange_server.auth.keys import find_key
from care_exchange_server.auth.tokens import issue_access_token
from care_exchange_server.demo import COMMISSIONER
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Client
from tests.conformance.conftest import Serve

assert auth  # registers the area's checks
AUTH = select_checks(REGISTRY.values(), only=["CX-AUTH-*"])
REFUSALS = ["CX-AUTH-007", "CX-AUTH-008", "CX-AUTH-009", "CX-AUTH-010", "CX-AUTH-011"]
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.")


def _not_passed(report: Report) -> dict[str, Status]:
    return {r.check.id: r.status for r in report.results if r.status is not Status.PASSED}


def test_the_reference_server_passes_every_auth_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, AUTH, seed=1)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in AUTH
    ]
    assert report.conforms and len(AUTH) == 17


# ---------------------------------------------------------------------- response rewriting

Change = Callable[[Scope, int, list[tuple[bytes, bytes]], bytes], tuple[int, list[Any], bytes]]


class RewriteResponses:
    """Middleware: every HTTP response goes through `change(scope, status, headers, body)`."""

    def __init__(self, app: ASGIApp, change: Change) -> None:
        self.app = app
        self.change = change

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start, *chunks = held
        body = b"".join(chunk.get("body", b"") for chunk in chunks)
        status, headers, body = self.change(scope, start["status"], list(start["headers"]), body)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def rewriting(change: Change) -> Callable[[FastAPI], None]:
    def variant(app: FastAPI) -> None:
        app.add_middleware(RewriteResponses, change=change)

    return variant


def _without(headers: list[tuple[bytes, bytes]], *names: bytes) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() not in names]


def no_bearer_challenge(
    scope: Scope, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, list[Any], bytes]:
    """A resource server that refuses tokens without saying how to authenticate."""
    if status == 401 and scope["path"].startswith("/v1/"):
        headers = _without(headers, b"www-authenticate")
    return status, headers, body


def oauth_errors_as_problems(
    scope: Scope, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, list[Any], bytes]:
    """A token endpoint that answers its errors in the API's problem format, not RFC 6749's."""
    if scope["path"] != "/oauth/token" or status < 400:
        return status, headers, body
    error = json.loads(body)
    problem = {
        "type": f"https://care-exchange.org/problems/{error['error']}",
        "title": "OAuth error",
        "status": status,
        "detail": error.get("error_description", ""),
        "code": error["error"],
        "requestId": "01JD4Z8X3K5V7N9Q2R4T6W8Y0A",
    }
    headers = _without(headers, b"content-type")
    headers.append((b"content-type", b"application/problem+json"))
    return status, headers, json.dumps(problem).encode()


def cacheable_tokens(
    scope: Scope, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, list[Any], bytes]:
    """A token endpoint whose tokens a cache may keep."""
    if scope["path"] == "/oauth/token" and status == 200:
        headers = _without(headers, b"cache-control", b"pragma")
    return status, headers, body


# ------------------------------------------------------------------------ token substitution


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str, bytes]:
    header, claims, signature = token.split(".")

    def decoded(segment: str) -> bytes:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))

    return (
        json.loads(decoded(header)),
        json.loads(decoded(claims)),
        f"{header}.{claims}",
        decoded(signature),
    )


Accepts = Callable[[FastAPI, str], Awaitable[bool]]


class SubstituteToken:
    """Middleware: a bearer token `accepts` lets through is swapped for a real token of the
    client its claims name, as if the server had verified it."""

    def __init__(self, app: ASGIApp, fastapi: FastAPI, accepts: Accepts) -> None:
        self.app = app
        self.fastapi = fastapi
        self.accepts = accepts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            scheme, _, token = headers.get(b"authorization", b"").decode().partition(" ")
            forged = scheme.lower() == "bearer" and token.count(".") == 2
            if forged and await self.accepts(self.fastapi, token):
                real = await run_in_threadpool(self._mint, _segments(token)[1]["client_id"])
                scope = dict(scope)
                scope["headers"] = [
                    (k, v) for k, v in scope["headers"] if k != b"authorization"
                ] + [(b"authorization", f"Bearer {real}".encode())]
        await self.app(scope, receive, send)

    def _mint(self, client_id: str) -> str:
        state = self.fastapi.state
        with transaction(state.sessions) as session:
            client = session.get(Client, client_id)
            assert client is not None
            return issue_access_token(session, state.settings, client)


def substituting(accepts: Accepts) -> Callable[[FastAPI], None]:
    def variant(app: FastAPI) -> None:
        app.add_middleware(SubstituteToken, fastapi=app, accepts=accepts)

    return variant


async def unsigned(app: FastAPI, token: str) -> bool:
    """The flaw of RFC 8725 section 2.1: the token's own alg chosen, and `none` honoured."""
    header, _, _, signature = _segments(token)
    return str(header.get("alg")).lower() == "none" and signature == b""


async def hmac_with_the_public_key(app: FastAPI, token: str) -> bool:
    """The key-confusion flaw: the key named by kid, used with the token's alg, so an RSA
    public key's PEM becomes an HMAC secret."""
    header, _, signing_input, signature = _segments(token)
    kid = header.get("kid")
    if header.get("alg") != "HS256" or not isinstance(kid, str):
        return False

    def pem() -> bytes | None:
        with transaction(app.state.sessions) as session:
            key: Key | None = find_key(session, kid)
            return key.as_pem(private=False) if isinstance(key, RSAKey) else None

    secret = await run_in_threadpool(pem)
    if secret is None:
        return False
    expected = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(expected, signature)


async def unchecked_signature(app: FastAPI, token: str) -> bool:
    """A server that reads a token signed with its algorithm without checking the signature."""
    header, _, _, _ = _segments(token)
    kid = header.get("kid")
    if header.get("alg") != "RS256" or not isinstance(kid, str):
        return False

    def verified() -> bool:
        with transaction(app.state.sessions) as session:
            key = find_key(session, kid)
            try:
                jws.deserialize_compact(token, key, algorithms=["RS256"])
            except JoseError:
                return False
            return True

    return not await run_in_threadpool(verified)


async def expired(app: FastAPI, token: str) -> bool:
    """A server that checks the signature and forgets the expiry time."""
    header, claims, _, _ = _segments(token)
    kid = header.get("kid")
    if not isinstance(kid, str) or not claims.get("exp", time.time()) < time.time():
        return False

    def verified() -> bool:
        with transaction(app.state.sessions) as session:
            key = find_key(session, kid)
            try:
                jws.deserialize_compact(token, key, algorithms=[str(header.get("alg"))])
            except JoseError:
                return False
            return True

    return await run_in_threadpool(verified)


# ------------------------------------------------------------------------ other variants


class IgnoreRevocation:
    """Middleware: the revocation endpoint says 200 and does nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/oauth/revoke":
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def ignore_revocation(app: FastAPI) -> None:
    app.add_middleware(IgnoreRevocation)


class RefuseNarrowing:
    """Middleware: a token endpoint that grants a client all its scopes or nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/oauth/token":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        if "scope" in parse_qs(body.decode()):
            refusal = json.dumps({"error": "invalid_scope"}).encode()
            headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": refusal})
            return

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def refuse_narrowing(app: FastAPI) -> None:
    """Not broken: RFC 6749 section 3.3 lets a server refuse a scope it will not grant."""
    app.add_middleware(RefuseNarrowing)


def subscriber_reads_nothing(app: FastAPI) -> None:
    """Not broken: a subscriber's client that holds no read scope, so none to narrow to."""
    with transaction(app.state.sessions) as session:
        (client,) = session.scalars(select(Client).where(Client.organisation_id == COMMISSIONER))
        client.scopes = " ".join(s for s in client.scopes.split() if not s.endswith(":read"))


BROKEN = {
    "accepts alg none": (substituting(unsigned), ["CX-AUTH-009"]),
    "key confusion": (substituting(hmac_with_the_public_key), ["CX-AUTH-010"]),
    "signature unchecked": (substituting(unchecked_signature), ["CX-AUTH-011"]),
    "expired token accepted": (substituting(expired), ["CX-AUTH-017"]),
    "401 without a challenge": (
        rewriting(no_bearer_challenge),
        [*REFUSALS, "CX-AUTH-012", "CX-AUTH-017"],
    ),
    "OAuth errors as problem+json": (
        rewriting(oauth_errors_as_problems),
        ["CX-AUTH-003", "CX-AUTH-004", "CX-AUTH-005", "CX-AUTH-006"],
    ),
    "cacheable token responses": (rewriting(cacheable_tokens), ["CX-AUTH-001"]),
    "revocation ignored": (ignore_revocation, ["CX-AUTH-012"]),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_variant_fails_exactly_its_checks(serve_reference: Serve, name: str) -> None:
    variant, expected = BROKEN[name]
    with serve_reference(variant) as config:
        report = run(config, AUTH, seed=1)
    assert _not_passed(report) == dict.fromkeys(expected, Status.FAILED)
    assert not report.conforms
    for result in report.results:
        for failure in result.failures:
            assert failure.exchange is not None, (result.check.id, failure.message)
    shown = json.dumps(as_dict(report, "test"))
    secrets = [party.client_secret for party in (config.publisher, config.subscriber) if party]
    assert not [secret for secret in secrets if secret in shown]
    assert not JWT.search(shown), "a token appears in the report"


def test_the_key_confusion_variant_is_caught_by_the_first_pem(serve_reference: Serve) -> None:
    variant, _ = BROKEN["key confusion"]
    with serve_reference(variant) as config:
        report = run(config, select_checks(AUTH, only=["CX-AUTH-010"]), seed=1)
    ((result),) = report.results
    (failure,) = result.failures
    assert failure.message.startswith("A token signed HS256 with SPKI PEM of the key ")
    assert failure.exchange is not None and failure.exchange.status == 200


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        (subscriber_reads_nothing, "holds no record type's read scope"),
        (refuse_narrowing, r"cannot get a token limited to [a-z-]+:read \(.* answered 400\)"),
    ],
)
def test_a_subscriber_that_cannot_narrow_to_a_read_scope_makes_cx_auth_013_not_applicable(
    serve_reference: Serve, variant: Callable[[FastAPI], None], reason: str
) -> None:
    with serve_reference(variant) as config:
        report = run(config, AUTH, seed=1)
    assert _not_passed(report) == {"CX-AUTH-013": Status.NOT_APPLICABLE}
    (result,) = [r for r in report.results if r.check.id == "CX-AUTH-013"]
    assert result.note is not None and re.search(reason, result.note)
    assert report.conforms


def _fresh_token(config: Config) -> str:
    assert config.publisher is not None
    answer = httpx.post(
        f"{config.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(config.publisher.client_id, config.publisher.client_secret),
    )
    return str(answer.json()["access_token"])


def _resigned(token: str) -> str:
    """The token with its claims kept and a signature by a key the server never had."""
    header, claims, _, _ = _segments(token)
    return jws.serialize_compact(header, json.dumps(claims), RSAKey.generate_key(2048))


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (lambda config: None, "no expired_token is configured"),
        (_fresh_token, "has not expired"),
        (lambda config: _resigned(config.expired_token), "not signed by a key of the JWKS"),
    ],
    ids=["absent", "not expired", "not the server's"],
)
def test_an_expired_token_that_proves_nothing_makes_cx_auth_017_not_applicable(
    serve_reference: Serve, given: Callable[[Config], str | None], reason: str
) -> None:
    with serve_reference() as config:
        config = dataclasses.replace(config, expired_token=given(config))
        report = run(config, select_checks(AUTH, only=["CX-AUTH-017"]), seed=1)
    ((result),) = report.results
    assert result.status is Status.NOT_APPLICABLE
    assert result.note is not None and reason in result.note


# ------------------------------------------------------------------------------ the helpers


def test_the_forged_secrets_are_the_keys_as_the_usual_libraries_write_them() -> None:
    rsa = RSAKey.generate_key(2048)
    jwk = dict(rsa.as_dict(private=False))
    public = rsa.get_op_key("verify")
    pems = public_key_pems(jwk)
    assert pems["SPKI PEM"] == rsa.as_pem(private=False)
    assert pems["PKCS#1 PEM"] == public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    ec = ECKey.generate_key("P-256")
    assert public_key_pems(dict(ec.as_dict(private=False))) == {
        "SPKI PEM": ec.as_pem(private=False)
    }
    secrets = hmac_secrets(jwk)
    assert len(secrets) == 5 and secrets["SPKI PEM without its final newline"][-1:] == b"-"
    assert public_key_pems({"kty": "oct", "k": "c2VjcmV0"}) == {}


def test_challenges_are_read_by_scheme_and_parameters() -> None:
    assert challenge('Bearer realm="care-exchange"') == ("Bearer", {"realm": "care-exchange"})
    refused = 'Bearer realm="x", error="invalid_token", error_description="say \\"no\\", twice"'
    assert challenge(refused) == (
        "Bearer",
        {"realm": "x", "error": "invalid_token", "error_description": 'say "no", twice'},
    )
    assert challenge("Bearer error=insufficient_scope,scope=a:read") == (
        "Bearer",
        {"error": "insufficient_scope", "scope": "a:read"},
    )
    assert challenge("Basic") == ("Basic", {})
