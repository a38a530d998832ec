"""The read-ahead that overlaps reading records with the server's answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from care_exchange_client.publishing import read_ahead


def test_items_come_in_order_and_all_of_them() -> None:
    assert list(read_ahead(range(10_000), most=7)) == list(range(10_000))


def test_the_producer_runs_ahead_no_further_than_allowed() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for number in range(100):
            produced.append(number)
            yield number

    ahead = read_ahead(items(), most=5)
    assert next(ahead) == 0
    time.sleep(0.3)  # time for a producer that would overrun to do so
    assert len(produced) <= 5 + 2  # the queue, the item in hand and the one being offered
    ahead.close()


def test_a_failure_while_reading_is_raised_to_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("a broken input")

    ahead = read_ahead(items())
    assert next(ahead) == 1
    with pytest.raises(ValueError, match="a broken input"):
        next(ahead)


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    def endless() -> Iterator[int]:
        number = 0
        while True:
            yield number
            number += 1

    ahead = read_ahead(endless(), most=3)
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    assert not [t for t in threading.enumerate() if t.name == "read-ahead" and t.is_alive()]
