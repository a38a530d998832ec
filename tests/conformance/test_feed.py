"""The feed checks pass against the reference server and catch RPDE mistakes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import rewrite_json

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


def without_deletions(page: Any) -> None:
    page["items"] = [item for item in page["items"] if item["state"] != "deleted"]


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (inclusive_cursor, ["CX-FEED-001", "CX-FEED-002", "CX-FEED-003", "CX-FEED-004"]),
        (rewrite_json(FEED_PATH.pattern, without_deletions), ["CX-FEED-003"]),
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
