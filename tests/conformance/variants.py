"""Broken variants of the reference server, built in the tests and never in production code.

Each is an ASGI middleware a test adds to the app before it is served, so the suite meets a
server that makes one mistake, and the test can require the check that catches it to fail.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_exchange_server.auth.tokens import issue_access_token
from care_exchange_server.demo import COMMISSIONER, OTHER
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Client
from care_exchange_testing.reference import Variant


def middleware(kind: Any) -> Callable[[FastAPI], None]:
    return lambda app: app.add_middleware(kind)


class PlainJsonErrors:
    """A broken variant: refusals say `application/json` instead of `application/problem+json`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def relabel(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = message["headers"]
                assert isinstance(headers, list)
                message = {
                    **message,
                    "headers": [
                        (k, b"application/json" if v == b"application/problem+json" else v)
                        for k, v in headers
                    ],
                }
            await send(message)

        await self.app(scope, receive, relabel)  # type: ignore[arg-type]


def rewrite_json(paths: str, change: Callable[[Any], None]) -> Variant:
    """A broken variant: JSON bodies answered at `paths` (a pattern) are changed in place."""

    def apply(app: FastAPI) -> None:
        pattern = re.compile(paths)

        class Rewrite:
            def __init__(self, inner: ASGIApp) -> None:
                self.inner = inner

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] != "http" or not pattern.fullmatch(scope["path"]):
                    await self.inner(scope, receive, send)
                    return
                started: list[MutableMapping[str, Any]] = []

                async def changed(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        started.append(dict(message))
                        return
                    body = json.loads(message["body"])
                    change(body)
                    content = json.dumps(body).encode()
                    start = started[0]
                    start["headers"] = [
                        (name, str(len(content)).encode() if name == b"content-length" else value)
                        for name, value in start["headers"]
                    ]
                    await send(start)
                    await send({"type": "http.response.body", "body": content})

                await self.inner(scope, receive, changed)

        app.add_middleware(Rewrite)

    return apply


def hide_items(paths: str) -> Variant:
    """A broken variant: lists at `paths` have no items, as if nothing had been recorded."""

    def empty(body: Any) -> None:
        if isinstance(body, dict) and "items" in body:
            body["items"] = []

    return rewrite_json(paths, empty)


def leak_private_key(app: FastAPI) -> None:
    """A broken variant: the JWKS carries each key's private exponent."""

    def add_private_exponent(document: Any) -> None:
        for key in document["keys"]:
            key["d"] = "c2VjcmV0"

    rewrite_json("/jwks.json", add_private_exponent)(app)


def _organisation(authorization: bytes) -> str | None:
    token = authorization.removeprefix(b"Bearer ").decode()
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    found: Any = payload.get("org")
    return found if isinstance(found, str) else None


def leak_on(
    paths: str,
    methods: tuple[str, ...] = ("GET",),
    treated_as: str = COMMISSIONER,
    caller: str = OTHER,
) -> Variant:
    """A broken variant: on matching requests `caller` (the outsider, or the second provider) is
    treated as another organisation (the subscriber with an agreement, or the provider), as a
    server that forgot to check the caller's organisation on that path would."""

    def apply(app: FastAPI) -> None:
        with transaction(app.state.sessions) as session:
            client = session.scalars(
                select(Client).where(Client.organisation_id == treated_as)
            ).first()
            assert client is not None
            token = issue_access_token(session, app.state.settings, client)
        pattern = re.compile(paths)

        class Leak:
            def __init__(self, inner: ASGIApp) -> None:
                self.inner = inner

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if (
                    scope["type"] == "http"
                    and scope["method"] in methods
                    and pattern.fullmatch(scope["path"])
                ):
                    headers = dict(scope["headers"])
                    if _organisation(headers.get(b"authorization", b"")) == caller:
                        headers[b"authorization"] = f"Bearer {token}".encode()
                        scope = {**scope, "headers": list(headers.items())}
                await self.inner(scope, receive, send)

        app.add_middleware(Leak)

    return apply
