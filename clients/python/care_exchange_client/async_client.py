"""The async client: `client.py`'s transport with `await`, for asyncio (and anyio) programs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar, final

import anyio
import httpx2
from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
    AsyncOAuth2Client,
    OAuthError,
)

from care_exchange_client import operations as ops
from care_exchange_client.auth import (
    DEFAULT_LEEWAY_SECONDS,
    Credentials,
    bind_token_endpoint,
    oauth_options,
)
from care_exchange_client.calls import Call, Exchange
from care_exchange_client.client import DEFAULT_TIMEOUT_SECONDS, scope_text
from care_exchange_client.cursors import Walker
from care_exchange_client.errors import CareExchangeError, TokenError
from care_exchange_client.methods import Operations
from care_exchange_client.retry import RetryPolicy
from care_exchange_client.walk import AsyncWalk

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
P = TypeVar("P")


@final
class AsyncClient(Operations):
    """`Client` for async code: every operation is awaited, every walk is `async for`."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None = None,
        *,
        scope: str | Sequence[str] | None = None,
        token_endpoint: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        leeway: int = DEFAULT_LEEWAY_SECONDS,
        transport: httpx2.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._token_endpoint = token_endpoint
        self._bound = False
        self._first_token = anyio.Lock()
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        options = oauth_options(credentials, scope_text(scope), leeway) if credentials else {}
        self._http = AsyncOAuth2Client(
            base_url=self.base_url, timeout=timeout, transport=transport, **options
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def token(self) -> dict[str, Any] | None:
        token: dict[str, Any] | None = self._http.token
        return token

    async def fetch_token(self) -> None:
        await self._bind()
        try:
            await self._http.fetch_token()
        except OAuthError as error:
            raise TokenError(error.error, error.description) from error

    async def _bind(self) -> None:
        if self._bound:
            return
        if self._credentials is None:
            raise CareExchangeError("this operation needs credentials (ClientSecret/PrivateKey)")
        endpoint = self._token_endpoint
        if endpoint is None:
            metadata = await self._send(ops.get_authorization_server_metadata())
            endpoint = metadata["token_endpoint"]
        bind_token_endpoint(self._http, self._credentials, endpoint)
        self._bound = True

    async def _request(self, call: Call[Any]) -> Any:
        options = call.request_options()
        try:
            if call.auth == "none":
                return await self._http.request(
                    call.method, call.path, withhold_token=True, **options
                )
            await self._bind()
            if call.auth == "client":
                auth = self._http.client_auth(self._http.token_endpoint_auth_method)
                return await self._http.request(
                    call.method, call.path, withhold_token=True, auth=auth, **options
                )
            if not self._http.token:
                async with self._first_token:  # tasks starting together share one token
                    if not self._http.token:
                        await self.fetch_token()
            return await self._http.request(call.method, call.path, **options)
        except OAuthError as error:
            raise TokenError(error.error, error.description) from error

    async def _send(self, call: Call[T]) -> T:
        exchange = Exchange(call, self._retry)
        while True:
            exchange.sending()
            try:
                response: httpx2.Response = await self._request(call)
            except httpx2.TransportError as error:
                retry = exchange.after_failure(error)
            else:
                answer = exchange.after_answer(response)
                if answer is None:
                    return exchange.result(response)
                retry = answer
            if retry.renew:
                await self.fetch_token()
            await self._sleep(retry.delay)

    def _walk(self, walker: Walker[I, P]) -> AsyncWalk[I, P]:
        return AsyncWalk(self._send, walker)
