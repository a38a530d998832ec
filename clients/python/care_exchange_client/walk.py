"""The two drivers of a walker (see `cursors.py`): one blocking, one async, a few lines each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, Self, TypeVar

from care_exchange_client.calls import Call
from care_exchange_client.cursors import Walker

I = TypeVar("I")  # noqa: E741
P = TypeVar("P")


class Walk(Iterator[I], Generic[I, P]):
    """Items of a walk, fetched page by page as they are needed; `position` is resumable."""

    def __init__(self, send: Callable[[Call[Any]], Any], walker: Walker[I, P]) -> None:
        self._send = send
        self._walker = walker

    @property
    def position(self) -> P:
        return self._walker.position

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> I:
        while (item := self._walker.pop()) is None:
            call = self._walker.next_call()
            if call is None:
                if (item := self._walker.pop()) is None:
                    raise StopIteration
                return item
            self._walker.receive(self._send(call))
        return item


class AsyncWalk(AsyncIterator[I], Generic[I, P]):
    """`Walk` for `async for`."""

    def __init__(self, send: Callable[[Call[Any]], Awaitable[Any]], walker: Walker[I, P]) -> None:
        self._send = send
        self._walker = walker

    @property
    def position(self) -> P:
        return self._walker.position

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> I:
        while (item := self._walker.pop()) is None:
            call = self._walker.next_call()
            if call is None:
                if (item := self._walker.pop()) is None:
                    raise StopAsyncIteration
                return item
            self._walker.receive(await self._send(call))
        return item
