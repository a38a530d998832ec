"""The methods of both clients, declared once.

Each attribute of `Operations` wraps a builder from `operations.py` (or a walker from
`cursors.py`/`bulk.py`) in a descriptor. Read from a `Client` it is a blocking method; read
from an `AsyncClient` the same attribute is a coroutine method, because it hands the built call
to that client's `_send`. The overloads of `__get__` tell type checkers which, so
`client.get_record(...)` is a `RecordEnvelope` and `await aclient.get_record(...)` is too,
without a second copy of any signature.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Self, TypeVar, overload

from care_exchange_client import operations as ops
from care_exchange_client.bulk import BulkWalker
from care_exchange_client.calls import Call
from care_exchange_client.cursors import PageWalker, Walker, event_walker, feed_walker
from care_exchange_client.types import Page
from care_exchange_client.walk import AsyncWalk, Walk

if TYPE_CHECKING:
    from care_exchange_client.async_client import AsyncClient
    from care_exchange_client.client import Client

P = ParamSpec("P")
T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
Pos = TypeVar("Pos")


class operation_method(Generic[P, T]):  # noqa: N801 (used like a decorator)
    """An operation: build the call, send it with the client that holds the method."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(
        self, obj: AsyncClient, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: Client, owner: type[Any]) -> Callable[P, T]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build, send = self.build, obj._send

        @functools.wraps(build)
        def method(*args: Any, **kwargs: Any) -> Any:
            return send(build(*args, **kwargs))

        return method


class Paged(Generic[P, I]):
    """A list operation: call it for one page, or `.all(...)` for every item of every page."""

    def __init__(self, client: Client, build: Callable[P, Call[Page[I]]]) -> None:
        self._client = client
        self._build = build
        functools.update_wrapper(self, build)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Page[I]:
        return self._client._send(self._build(*args, **kwargs))

    def all(self, *args: P.args, **kwargs: P.kwargs) -> Walk[I, str | None]:
        """Every item from the page of `page_token` (the first when absent) to the last."""
        return Walk(self._client._send, PageWalker(self._build, args, kwargs))


class AsyncPaged(Generic[P, I]):
    """`Paged` for `AsyncClient`: `await` a page, `async for` over `.all(...)`."""

    def __init__(self, client: AsyncClient, build: Callable[P, Call[Page[I]]]) -> None:
        self._client = client
        self._build = build
        functools.update_wrapper(self, build)

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Page[I]:
        return await self._client._send(self._build(*args, **kwargs))

    def all(self, *args: P.args, **kwargs: P.kwargs) -> AsyncWalk[I, str | None]:
        """Every item from the page of `page_token` (the first when absent) to the last."""
        return AsyncWalk(self._client._send, PageWalker(self._build, args, kwargs))


class paged_method(Generic[P, I]):  # noqa: N801
    """A list operation: `Paged` on a `Client`, `AsyncPaged` on an `AsyncClient`."""

    def __init__(self, build: Callable[P, Call[Page[I]]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: AsyncClient, owner: type[Any]) -> AsyncPaged[P, I]: ...
    @overload
    def __get__(self, obj: Client, owner: type[Any]) -> Paged[P, I]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        from care_exchange_client.async_client import AsyncClient

        return (AsyncPaged if isinstance(obj, AsyncClient) else Paged)(obj, self.build)


class walker_method(Generic[P, I, Pos]):  # noqa: N801
    """A walk over many calls (feed, events, bulk): an iterator, or an async iterator."""

    def __init__(self, make: Callable[P, Walker[I, Pos]]) -> None:
        self.make = make
        self.__doc__ = make.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: AsyncClient, owner: type[Any]) -> Callable[P, AsyncWalk[I, Pos]]: ...
    @overload
    def __get__(self, obj: Client, owner: type[Any]) -> Callable[P, Walk[I, Pos]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        make, walk = self.make, obj._walk

        @functools.wraps(make)
        def method(*args: Any, **kwargs: Any) -> Any:
            return walk(make(*args, **kwargs))

        return method


class Operations:
    """Every operation of the spec (by its operationId's snake_case name) and the walks."""

    # discovery
    get_root = operation_method(ops.get_root)
    get_capabilities = operation_method(ops.get_capabilities)
    get_health = operation_method(ops.get_health)
    get_readiness = operation_method(ops.get_readiness)
    get_authorization_server_metadata = operation_method(ops.get_authorization_server_metadata)
    get_jwks = operation_method(ops.get_jwks)
    get_open_api_document = operation_method(ops.get_open_api_document)
    get_open_api_json = operation_method(ops.get_open_api_json)
    get_api_reference = operation_method(ops.get_api_reference)
    get_standard_file = operation_method(ops.get_standard_file)
    get_problem_type = operation_method(ops.get_problem_type)
    # OAuth
    request_token = operation_method(ops.request_token)
    revoke_token = operation_method(ops.revoke_token)
    introspect_token = operation_method(ops.introspect_token)
    # records
    publish_record = operation_method(ops.publish_record)
    list_records = paged_method(ops.list_records)
    get_record = operation_method(ops.get_record)
    replace_record = operation_method(ops.replace_record)
    retract_record = operation_method(ops.retract_record)
    list_record_versions = paged_method(ops.list_record_versions)
    publish_bulk = operation_method(ops.publish_bulk)
    get_feed = operation_method(ops.get_feed)
    # feedback and receipts
    create_feedback = operation_method(ops.create_feedback)
    list_feedback = paged_method(ops.list_feedback)
    get_feedback = operation_method(ops.get_feedback)
    reply_to_feedback = operation_method(ops.reply_to_feedback)
    list_access_receipts = paged_method(ops.list_access_receipts)
    summarise_access_receipts = operation_method(ops.summarise_access_receipts)
    # return templates
    create_return_template = operation_method(ops.create_return_template)
    list_return_templates = paged_method(ops.list_return_templates)
    get_return_template = operation_method(ops.get_return_template)
    retire_return_template = operation_method(ops.retire_return_template)
    list_return_template_versions = paged_method(ops.list_return_template_versions)
    create_return_template_version = operation_method(ops.create_return_template_version)
    get_return_template_coverage = operation_method(ops.get_return_template_coverage)
    fill_return = operation_method(ops.fill_return)
    # subscriptions
    create_subscription = operation_method(ops.create_subscription)
    list_subscriptions = paged_method(ops.list_subscriptions)
    get_subscription = operation_method(ops.get_subscription)
    update_subscription = operation_method(ops.update_subscription)
    delete_subscription = operation_method(ops.delete_subscription)
    rotate_subscription_secret = operation_method(ops.rotate_subscription_secret)
    get_subscription_status = operation_method(ops.get_subscription_status)
    list_subscription_events = operation_method(ops.list_subscription_events)
    # directory
    get_my_organisation = operation_method(ops.get_my_organisation)
    get_my_directory_entry = operation_method(ops.get_my_directory_entry)
    replace_my_directory_entry = operation_method(ops.replace_my_directory_entry)
    list_services = paged_method(ops.list_services)
    create_service = operation_method(ops.create_service)
    get_service = operation_method(ops.get_service)
    replace_service = operation_method(ops.replace_service)
    list_delegations = paged_method(ops.list_delegations)
    create_delegation = operation_method(ops.create_delegation)
    revoke_delegation = operation_method(ops.revoke_delegation)
    # agreements
    list_agreements = paged_method(ops.list_agreements)
    create_agreement = operation_method(ops.create_agreement)
    get_agreement = operation_method(ops.get_agreement)
    accept_agreement = operation_method(ops.accept_agreement)
    decline_agreement = operation_method(ops.decline_agreement)
    revoke_agreement = operation_method(ops.revoke_agreement)
    # admin
    list_organisations = paged_method(ops.list_organisations)
    create_organisation = operation_method(ops.create_organisation)
    list_clients = paged_method(ops.list_clients)
    create_client = operation_method(ops.create_client)
    delete_client = operation_method(ops.delete_client)

    # walks over many calls
    feed = walker_method(feed_walker)
    events = walker_method(event_walker)
    publish_many = walker_method(BulkWalker)
