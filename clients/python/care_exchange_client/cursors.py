"""Walking many pages as one stream of items, with a position the caller can save and resume.

A walker is sans-IO: it says which call to make next, takes the answer, and hands out items one
by one, moving its position past each item as it hands it out. `Walk` and `AsyncWalk` (in
`walk.py`) drive any walker over a transport, so paging logic is written once for both clients.

Positions are small dataclasses with `to_json`/`from_json`. Save one after you have finished
with an item and a later walk from it starts at the next item:

    for item in cursor:
        handle(item)
        store(cursor.position.to_json())
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, Protocol, Self, TypeVar, runtime_checkable
from urllib.parse import parse_qsl, urlsplit

from care_exchange_client import operations as ops
from care_exchange_client.calls import Call
from care_exchange_client.errors import UnexpectedResponse
from care_exchange_client.types import Event, EventPage, FeedItem, FeedPage, Page

Item = TypeVar("Item", covariant=True)
Position = TypeVar("Position", covariant=True)
I = TypeVar("I")  # noqa: E741


class Walker(Protocol[Item, Position]):
    """What `Walk` drives: calls to make, answers to take, items to hand out."""

    @property
    def position(self) -> Position: ...

    def next_call(self) -> Call[Any] | None:
        """The next request, or None when nothing more will be asked (items may remain)."""

    def receive(self, answer: Any) -> None: ...

    def pop(self) -> Item | None:
        """The next item already received (advancing the position), or None."""


@runtime_checkable
class AheadWalker(Walker[Item, Position], Protocol):
    """A walker whose next call may be made before the last call is answered (`AheadWalk`)."""

    @property
    def ahead(self) -> bool:
        """Whether `next_call` may now be asked before the answers to the calls out."""


class _Serialisable:
    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls(**json.loads(text))


@dataclass
class FeedPosition(_Serialisable):
    """Where a reader of a record type's feed has got to: the last `modified` it took."""

    record_type: str
    after: int = 0


@dataclass
class EventPosition(_Serialisable):
    """Where a reader of a subscription's events has got to: the last `sequence` it took."""

    subscription_id: str
    after: int = 0


class PageWalker(Generic[I]):
    """Any `{items, nextPageToken}` list: the same query with each page's token until null.

    The position is the token of the page being read, so a walk can be resumed only page by
    page, and only with the same query (tokens are tied to it).
    """

    def __init__(
        self,
        build: Callable[..., Call[Page[I]]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self._build = build
        self._args = args
        self._kwargs = dict(kwargs)
        self._token: str | None = self._kwargs.pop("page_token", None)
        self._current: str | None = self._token
        self._items: deque[I] = deque()
        self._done = False

    @property
    def position(self) -> str | None:
        return self._current

    def next_call(self) -> Call[Page[I]] | None:
        if self._done:
            return None
        return self._build(*self._args, **self._kwargs, page_token=self._token)

    def receive(self, answer: Page[I]) -> None:
        self._current = self._token
        self._items.extend(answer["items"])
        self._token = answer["nextPageToken"]
        self._done = self._token is None

    def pop(self) -> I | None:
        return self._items.popleft() if self._items else None


class FeedWalker:
    """A record type's RPDE feed: follow `next` until a page comes back empty.

    Pages are followed by the server's `next` (its path and query only: the token is never sent
    to whatever host a `next` might name). The position moves per item, to its `modified`,
    which is the feed's own `after` parameter, so a walk resumes at the item after the last one
    handed out. A walk ends at the empty last page; walk again later, from the position, to
    read newer changes.
    """

    def __init__(self, position: FeedPosition, page_size: int | None = None) -> None:
        self._position = position
        self._page_size = page_size
        self._path = ops.get_feed(position.record_type).path
        self._next: dict[str, str] | None = None
        self._items: deque[FeedItem] = deque()
        self._done = False

    @property
    def position(self) -> FeedPosition:
        return self._position

    def next_call(self) -> Call[FeedPage] | None:
        if self._done:
            return None
        if self._next is None:
            after = self._position.after or None
            return ops.get_feed(self._position.record_type, after=after, page_size=self._page_size)
        return ops.follow_feed(self._path, self._next)

    def receive(self, answer: FeedPage) -> None:
        if not answer["items"]:
            self._done = True
            return
        self._items.extend(answer["items"])
        link = urlsplit(answer["next"])
        # A server behind a path prefix names it in `next`; the client's base URL has it too.
        if not link.path.endswith(self._path):
            raise UnexpectedResponse(200, answer["next"].encode(), "feed `next` for another feed")
        params = dict(parse_qsl(link.query))
        if self._page_size is not None:
            params.setdefault("page_size", str(self._page_size))
        self._next = params

    def pop(self) -> FeedItem | None:
        if not self._items:
            return None
        item = self._items.popleft()
        self._position.after = item["modified"]
        return item


class EventWalker:
    """A subscription's events after a sequence, page by page with the same `after`.

    The position moves per event to its `sequence`; a later walk from it asks for the events
    after it, which is how a pull subscription reads and how a webhook receiver fills a gap.
    """

    def __init__(self, position: EventPosition, page_size: int | None = None) -> None:
        self._position = position
        self._page_size = page_size
        self._after = position.after
        self._token: str | None = None
        self._items: deque[Event] = deque()
        self._done = False

    @property
    def position(self) -> EventPosition:
        return self._position

    def next_call(self) -> Call[EventPage] | None:
        if self._done:
            return None
        return ops.list_subscription_events(
            self._position.subscription_id,
            after=self._after or None,
            page_size=self._page_size,
            page_token=self._token,
        )

    def receive(self, answer: EventPage) -> None:
        self._items.extend(answer["items"])
        self._token = answer["nextPageToken"]
        self._done = self._token is None

    def pop(self) -> Event | None:
        if not self._items:
            return None
        event = self._items.popleft()
        if "sequence" in event:
            self._position.after = int(event["sequence"])
        return event


def page_walker(build: Callable[..., Call[Page[I]]]) -> Callable[..., PageWalker[I]]:
    def make(*args: Any, **kwargs: Any) -> PageWalker[I]:
        return PageWalker(build, args, kwargs)

    return make


def feed_walker(
    record_type: str, position: FeedPosition | None = None, *, page_size: int | None = None
) -> FeedWalker:
    """Read a record type's change feed from `position` (the start when None) to its end."""
    position = position or FeedPosition(record_type)
    if position.record_type != record_type:
        raise ValueError(f"a position in the {position.record_type} feed, not {record_type}")
    return FeedWalker(position, page_size)


def event_walker(
    subscription_id: str, position: EventPosition | None = None, *, page_size: int | None = None
) -> EventWalker:
    """Read a subscription's events after `position` (from the first when None)."""
    position = position or EventPosition(subscription_id)
    if position.subscription_id != subscription_id:
        raise ValueError(f"a position in subscription {position.subscription_id}")
    return EventWalker(position, page_size)
