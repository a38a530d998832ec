"""The blocking client: the transport under `Operations`, and nothing else.

It owns an Authlib `OAuth2Client` (an httpx2 client that fetches, attaches and renews the
access token) and sends `Call`s through it with the retry rules of `calls.Exchange`.
`async_client.py` is the same few lines with `await`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar, final

import httpx2
from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
    OAuth2Client,
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
from care_exchange_client.cursors import AheadWalker, Walker
from care_exchange_client.errors import CareExchangeError, TokenError
from care_exchange_client.methods import Operations
from care_exchange_client.retry import RetryPolicy
from care_exchange_client.walk import AheadWalk, Walk

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
P = TypeVar("P")
DEFAULT_TIMEOUT_SECONDS = 30.0


def scope_text(scope: str | Sequence[str] | None) -> str | None:
    return scope if scope is None or isinstance(scope, str) else " ".join(scope)


@final
class Client(Operations):
    """A blocking client of one Care Exchange server.

    `credentials` is a `ClientSecret` or a `PrivateKey`; without it only the discovery
    documents can be read. `scope` narrows the token (all the client's scopes by default). The
    token endpoint is found in the server's RFC 8414 metadata unless `token_endpoint` is given.
    Use it as a context manager, or call `close()`, to release its connections. Threads may
    share one; two of them renewing the token at the same moment both get a valid one.
    """

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
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._token_endpoint = token_endpoint
        self._bound = False
        self._first_token = threading.Lock()
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        options = oauth_options(credentials, scope_text(scope), leeway) if credentials else {}
        self._http = OAuth2Client(
            base_url=self.base_url, timeout=timeout, transport=transport, **options
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def token(self) -> dict[str, Any] | None:
        """The access token in use (Authlib's token dict), for inspection and hand-over."""
        token: dict[str, Any] | None = self._http.token
        return token

    def fetch_token(self) -> None:
        """Get a new access token now (the client also does it by itself when needed)."""
        self._bind()
        try:
            self._http.fetch_token()
        except OAuthError as error:
            raise TokenError(error.error, error.description) from error

    def _bind(self) -> None:
        if self._bound:
            return
        if self._credentials is None:
            raise CareExchangeError("this operation needs credentials (ClientSecret/PrivateKey)")
        endpoint = self._token_endpoint
        if endpoint is None:
            endpoint = self._send(ops.get_authorization_server_metadata())["token_endpoint"]
        bind_token_endpoint(self._http, self._credentials, endpoint)
        self._bound = True

    def _request(self, call: Call[Any]) -> Any:
        options = call.request_options()
        try:
            if call.auth == "none":
                return self._http.request(call.method, call.path, withhold_token=True, **options)
            self._bind()
            if call.auth == "client":
                auth = self._http.client_auth(self._http.token_endpoint_auth_method)
                return self._http.request(
                    call.method, call.path, withhold_token=True, auth=auth, **options
                )
            if not self._http.token:
                with self._first_token:  # threads starting together share one token
                    if not self._http.token:
                        self.fetch_token()
            return self._http.request(call.method, call.path, **options)
        except OAuthError as error:  # renewing an expiring token inside Authlib
            raise TokenError(error.error, error.description) from error

    def _send(self, call: Call[T]) -> T:
        exchange = Exchange(call, self._retry)
        while True:
            exchange.sending()
            try:
                response: httpx2.Response = self._request(call)
            except httpx2.TransportError as error:
                retry = exchange.after_failure(error)
            else:
                answer = exchange.after_answer(response)
                if answer is None:
                    return exchange.result(response)
                retry = answer
            if retry.renew:
                self.fetch_token()
            self._sleep(retry.delay)

    def _walk(self, walker: Walker[I, P]) -> Walk[I, P]:
        if isinstance(walker, AheadWalker):
            return AheadWalk(self._send, walker)
        return Walk(self._send, walker)
