"""The test helpers' own guarantees: walking a feed whose cursor misbehaves fails, never hangs.

A stub feed stands in for the server (no database), so each case costs milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from tests.api.world import World, walk_feed

BASE = "https://care-exchange.test"


def stub_feed(next_after: dict[int, int]) -> FastAPI:
    """A feed of one item per page: the page after `after` holds change `after + 1`, and its
    `next` continues after `next_after.get(after, after + 1)`; change 3 is the end."""
    app = FastAPI()

    @app.get("/feed")
    def feed(request: Request, after: int = 0) -> dict[str, Any]:
        if after >= 3:
            return {"items": [], "next": str(request.url)}
        item = {"id": f"rec-{after + 1}", "state": "updated", "modified": after + 1}
        return {"items": [item], "next": f"{BASE}/feed?after={next_after.get(after, after + 1)}"}

    return app


@pytest.fixture
def walker(request: pytest.FixtureRequest) -> Iterator[World]:
    with TestClient(stub_feed(request.param), base_url=BASE) as client:
        yield World(client)


@pytest.mark.parametrize("walker", [{}], indirect=True)
def test_walking_a_feed_returns_every_item_and_the_last_page(walker: World) -> None:
    items, last = walk_feed(walker, None, f"{BASE}/feed")
    assert [item["modified"] for item in items] == [1, 2, 3]
    assert last == f"{BASE}/feed?after=3"


@pytest.mark.parametrize(
    ("walker", "message"),
    [
        ({1: 1}, "points at itself"),  # the page after 1 points at itself
        ({2: 0}, "repeats changes"),  # the page after 2 goes back to the start
    ],
    indirect=["walker"],
)
def test_walking_a_feed_fails_when_a_page_repeats(walker: World, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        walk_feed(walker, None, f"{BASE}/feed")
