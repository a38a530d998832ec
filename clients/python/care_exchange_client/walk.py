"""The drivers of a walker (see `cursors.py`): blocking, blocking with a call ahead, async."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import Any, Generic, Self, TypeVar

from care_exchange_client.calls import Call
from care_exchange_client.cursors import AheadWalker, Walker

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


class AheadWalk(Walk[I, P]):
    """`Walk` that sends the next call while the items of the last answer are handed out.

    For a walker whose calls do not depend on the answers before them (`AheadWalker.ahead`),
    such as bulk publishing, whose next chunk is the next records: each call is sent by a thread
    of its own, and the next one is made while it is out and sent as soon as it is answered, so
    the server works on it while this thread hands out the last answer's items. One call is out
    at a time and answers are taken in order. A call that fails raises where its items would
    come; the input failing while the next call is made raises after the items before it.
    """

    def __init__(self, send: Callable[[Call[Any]], Any], walker: AheadWalker[I, P]) -> None:
        super().__init__(send, walker)
        self._ahead = walker
        self._out: Future[Any] | None = None
        self._failed: Exception | None = None

    def __next__(self) -> I:
        while (item := self._walker.pop()) is None:
            if self._out is None:
                call = self._next_call()
                if call is None:
                    if (item := self._walker.pop()) is not None:
                        return item
                    if self._failed is not None:
                        failed, self._failed = self._failed, None
                        raise failed
                    raise StopIteration
                if not self._ahead.ahead:
                    self._walker.receive(self._send(call))
                    continue
                self._out = self._start(call)
            following = self._next_call()  # made while the call before it is out
            out, self._out = self._out, None
            answer = out.result()
            if following is not None:
                self._out = self._start(following)
            self._walker.receive(answer)
        return item

    def _next_call(self) -> Call[Any] | None:
        if self._failed is not None:
            return None
        try:
            return self._walker.next_call()
        except Exception as error:  # raised once the items before it are handed out
            self._failed = error
            return None

    def _start(self, call: Call[Any]) -> Future[Any]:
        answered: Future[Any] = Future()

        def send() -> None:
            try:
                answered.set_result(self._send(call))
            except BaseException as error:  # raised by `result()` in the walking thread
                answered.set_exception(error)

        threading.Thread(target=send, name="care-exchange-send", daemon=True).start()
        return answered


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
