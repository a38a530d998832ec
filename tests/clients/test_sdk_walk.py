"""The blocking client's bulk walk keeps one chunk ahead: sent while the last one's results are
handed out, and never further; errors still come in input order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from care_exchange_client import Client, ClientSecret, Forbidden
from care_exchange_client.types import Limits
from care_exchange_client.walk import AheadWalk
from tests.clients.scripted_server import Answer, Script, problem, scripted_server

BULK = "/v1/bulk"
LIMITS = Limits(maxBodyBytes=100_000, pageSizeDefault=50, pageSizeMax=200, bulkMaxItems=2)
TWO_PUBLISHED = Answer(
    200,
    {
        "results": [
            {"index": index, "status": 201, "recordType": "x", "id": f"r{index}", "version": 1}
            for index in range(2)
        ]
    },
)


@pytest.fixture
def script() -> Iterator[Script]:
    with scripted_server() as running:
        yield running


@pytest.fixture
def client(script: Script) -> Iterator[Client]:
    with Client(script.base_url, ClientSecret("client", "secret")) as opened:
        yield opened


def records(count: int) -> list[dict[str, Any]]:
    return [{"recordType": "x", "id": f"r{index}"} for index in range(count)]


def bulk_calls_reach(script: Script, count: int) -> bool:
    deadline = time.monotonic() + 5
    while len(script.calls(BULK)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(script.calls(BULK)) == count


def test_the_next_chunk_is_sent_while_the_last_ones_results_are_handed_out(
    script: Script, client: Client
) -> None:
    script.on(BULK, TWO_PUBLISHED)
    walk = client.publish_many(records(6), limits=LIMITS)
    assert isinstance(walk, AheadWalk)
    first = next(walk)
    assert first.index == 0 and first.published
    assert bulk_calls_reach(script, 2)  # the second chunk is out while the first is handed out
    time.sleep(0.2)
    assert len(script.calls(BULK)) == 2  # and no further: the third waits for the second
    assert [result.index for result in walk] == [1, 2, 3, 4, 5]
    assert len(script.calls(BULK)) == 3


def test_a_chunk_refused_as_a_whole_raises_after_the_results_before_it(
    script: Script, client: Client
) -> None:
    script.on(BULK, TWO_PUBLISHED, Answer(403, problem(403, "forbidden")))
    walk = client.publish_many(records(6), limits=LIMITS)
    assert [next(walk).index, next(walk).index] == [0, 1]
    with pytest.raises(Forbidden):
        next(walk)
    assert len(script.calls(BULK)) == 2  # nothing is sent after a refused chunk


def test_an_input_that_fails_raises_after_the_results_of_what_was_read(
    script: Script, client: Client
) -> None:
    def failing() -> Iterator[dict[str, Any]]:
        yield from records(3)
        raise ValueError("the file went away")

    script.on(BULK, TWO_PUBLISHED)
    walk = client.publish_many(failing(), limits=LIMITS)
    assert [next(walk).index, next(walk).index] == [0, 1]
    with pytest.raises(ValueError, match="the file went away"):
        next(walk)
    assert len(script.calls(BULK)) == 1  # the chunk being made when it failed is not sent
