"""What every check works with, and the assertions that turn a wrong answer into a report entry.

It holds the implementation's address, its clients' tokens and what it declares about itself.
"""

from __future__ import annotations

import json
import random
from typing import Any, NoReturn

import httpx

from care_exchange_conformance.config import Config
from care_exchange_conformance.evidence import Exchange
from care_exchange_conformance.registry import CheckFailedError, Failure, NotApplicableError
from care_exchange_standard.spec import load_spec

CAPABILITIES_PATH = "/.well-known/care-exchange"
MAX_SCHEMA_ERRORS = 3


class Context:
    """Shared by the checks of one run; tokens and the capability document are fetched once."""

    def __init__(
        self, config: Config, seed: int, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self.seed = seed
        self.random = random.Random(seed)
        self.http = httpx.Client(
            base_url=config.base_url,
            timeout=config.timeout_seconds,
            transport=transport,
            headers={"User-Agent": "care-exchange-conformance"},
        )
        self._tokens: dict[str, str] = {}
        self._capabilities: dict[str, Any] | None = None

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, party: str | None = None, **options: Any
    ) -> httpx.Response:
        """A request to the implementation, as `party` (by its bearer token) or anonymous."""
        headers = dict(options.pop("headers", {}) or {})
        if party is not None:
            headers["Authorization"] = f"Bearer {self.token(party)}"
        try:
            return self.http.request(method, path, headers=headers, **options)
        except httpx.HTTPError as error:
            self.fail(
                f"{method} {path} could not be completed: {error!r}.",
                "an HTTP response",
            )

    def get(self, path: str, *, party: str | None = None, **options: Any) -> httpx.Response:
        return self.request("GET", path, party=party, **options)

    def token(self, party: str) -> str:
        """An access token for a configured client, by client credentials with Basic auth."""
        if party not in self._tokens:
            client = self.config.party(party)
            if client is None:
                raise NotApplicableError(f"no {party} client is configured")
            endpoint = self.capabilities()["auth"]["tokenEndpoint"]
            answer = self.http.post(
                endpoint,
                data={"grant_type": "client_credentials"},
                auth=(client.client_id, client.client_secret),
            )
            self.expect_status(answer, 200, f"the {party} client could not get a token")
            body = self.json(answer)
            self.expect(
                isinstance(body, dict) and isinstance(body.get("access_token"), str),
                "The token response has no access_token.",
                "a JSON object with a string access_token (RFC 6749 section 5.1)",
                answer,
            )
            self._tokens[party] = body["access_token"]
        return self._tokens[party]

    def capabilities(self) -> dict[str, Any]:
        """The capability document, which says what the implementation offers."""
        if self._capabilities is None:
            answer = self.get(CAPABILITIES_PATH)
            self.expect_status(answer, 200, "the capability document could not be read")
            self._capabilities = self.expect_schema(answer, "CapabilityDocument")
        return self._capabilities

    def fail(self, message: str, expected: str, response: httpx.Response | None = None) -> NoReturn:
        exchange = Exchange.of(response) if response is not None else None
        raise CheckFailedError(Failure(message, expected, exchange))

    def expect(
        self, holds: bool, message: str, expected: str, response: httpx.Response | None = None
    ) -> None:
        if not holds:
            self.fail(message, expected, response)

    def expect_status(self, response: httpx.Response, status: int, doing: str) -> None:
        self.expect(
            response.status_code == status,
            f"{doing}: the answer was {response.status_code}.",
            f"status {status}",
            response,
        )

    def json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            self.fail("The body is not JSON.", "a JSON body", response)

    def expect_schema(self, response: httpx.Response, component: str) -> Any:
        """The JSON body, which must be valid against the spec's component of that name."""
        body = self.json(response)
        errors = list(load_spec().component(component).iter_errors(body))
        if errors:
            shown = "; ".join(
                f"at '{error.instance_path and '/' + '/'.join(map(str, error.instance_path))}': "
                f"{_shorten(error.message)}"
                for error in errors[:MAX_SCHEMA_ERRORS]
            )
            hidden = len(errors) - MAX_SCHEMA_ERRORS
            more = f" (and {hidden} more)" if hidden > 0 else ""
            self.fail(
                f"The body does not match {component}: {shown}{more}.",
                f"a body valid against #/components/schemas/{component} of spec/openapi.yaml",
                response,
            )
        return body


def _shorten(message: str, limit: int = 160) -> str:
    """A validator's message, which quotes the offending value whole, cut to a readable size."""
    return message if len(message) <= limit else f"{message[: limit - 3]}..."
