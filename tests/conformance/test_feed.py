"""The feed checks pass against the reference server and catch RPDE mistakes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from tests.conformance.conftest import Serve, Variant

FEED = select(all_checks(), only=["CX-FEED-*"])
FEED_PATH = re.compile(r"/v1/feed/[^/]+")


def test_the_reference_server_passes_every_feed_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, FEED, seed=11)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in FEED
    ]
    assert len(FEED) == 4


def inclusive_cursor(app: FastAPI) -> None:
    """A broken variant: `after=N` reads from N, not after it (`>=` for `>`)."""

    class Inclusive:
        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and FEED_PATH.fullmatch(scope["path"]):
                query = re.sub(
                    rb"after=(\d+)",
                    lambda found: b"after=%d" % max(int(found[1]) - 1, 0),
                    scope["query_string"],
                )
                scope = {**scope, "query_string": query}
            await self.inner(scope, receive, send)

    app.add_middleware(Inclusive)


def rewrite_feed(change: Callable[[dict[str, object]], dict[str, object]]) -> Variant:
    """A broken variant whose feed pages are rewritten by `change`."""

    def apply(app: FastAPI) -> None:
        class Rewrite:
            def __init__(self, inner: ASGIApp) -> None:
                self.inner = inner

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] != "http" or not FEED_PATH.fullmatch(scope["path"]):
                    await self.inner(scope, receive, send)
                    return
                held: list[Message] = []

                async def hold(message: Message) -> None:
                    held.append(message)

                await self.inner(scope, receive, hold)
                start, *chunks = held
                page = json.loads(b"".join(chunk.get("body", b"") for chunk in chunks))
                body = json.dumps(change(page)).encode()
                headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})

        app.add_middleware(Rewrite)

    return apply


def without_deletions(page: dict[str, object]) -> dict[str, object]:
    items = page["items"]
    assert isinstance(items, list)
    return {**page, "items": [item for item in items if item["state"] != "deleted"]}


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (inclusive_cursor, ["CX-FEED-001", "CX-FEED-002", "CX-FEED-003", "CX-FEED-004"]),
        (rewrite_feed(without_deletions), ["CX-FEED-003"]),
    ],
    ids=["cursor-includes-after", "deleted-items-missing"],
)
def test_a_broken_feed_fails_its_checks(
    serve_reference: Serve, variant: Variant, expected: list[str]
) -> None:
    with serve_reference(variant) as config:
        report = run(config, FEED, seed=11)
    failed = [r for r in report.results if r.status is not Status.PASSED]
    assert [r.check.id for r in failed] == expected
    assert all(r.status is Status.FAILED for r in failed)
