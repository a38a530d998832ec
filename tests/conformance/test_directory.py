"""The provider directory entry checks pass against the reference server, leave the publisher's
entry as they found it, and catch a server that loses what it stores, takes another
organisation's id, or lets a subscriber have an entry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from care_exchange_server.demo import COMMISSIONER, PROVIDER
from care_exchange_server.services import directory
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import _organisation, leak_on, rewrite_json

DIRECTORY = select(all_checks(), only=["CX-DIR-*"])
ENTRY = "/v1/organisations/me/directory-entry"


def test_the_reference_server_passes_every_directory_check(serve_reference: Serve) -> None:
    entries: list[Any] = []

    def remember(app: FastAPI) -> None:
        entries.append(app)

    with serve_reference(remember) as config:
        app = entries[0]
        with app.state.sessions() as session:
            before = directory.provider_entry(session, PROVIDER)
        report = run(config, DIRECTORY, seed=17)
        with app.state.sessions() as session:
            after = directory.provider_entry(session, PROVIDER)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in DIRECTORY
    ]
    assert [found.id for found in DIRECTORY] == ["CX-DIR-001", "CX-DIR-002", "CX-DIR-003"]
    assert before is not None and after == before


def _loses_the_website(body: Any) -> None:
    """A server that drops a member of the entry it stores."""
    if isinstance(body, dict) and body.get("directoryType") == "provider":
        body.pop("website", None)


def foreign_ids_taken(app: FastAPI) -> None:
    """A broken variant: the entry's id is never compared with the caller's organisation (the
    request's id is made the caller's before the server sees it, as a server that ignored it
    and stored the entry under the caller would)."""

    class Rewrite:
        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] != "PUT" or scope["path"] != ENTRY:
                await self.inner(scope, receive, send)
                return
            headers = dict(scope["headers"])
            caller = _organisation(headers.get(b"authorization", b""))
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = json.loads(b"".join(chunks))
            if isinstance(body, dict) and caller is not None:
                body["id"] = caller
            content = json.dumps(body).encode()
            headers[b"content-length"] = str(len(content)).encode()
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": content, "more_body": False}

            changed = {**scope, "headers": list(headers.items())}
            await self.inner(changed, replay, send)

    app.add_middleware(Rewrite)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (rewrite_json(ENTRY, _loses_the_website), ["CX-DIR-001"]),
        (foreign_ids_taken, ["CX-DIR-002"]),
        (
            leak_on(ENTRY, ("GET", "PUT"), treated_as=PROVIDER, caller=COMMISSIONER),
            ["CX-DIR-003"],
        ),
    ],
    ids=["entry-not-kept", "foreign-id-taken", "subscriber-has-an-entry"],
)
def test_a_broken_directory_path_fails_exactly_its_check(
    serve_reference: Serve, variant: Variant, expected: list[str]
) -> None:
    with serve_reference(variant) as config:
        report = run(config, DIRECTORY, seed=17)
    assert [r.check.id for r in report.results if r.status is not Status.PASSED] == expected
