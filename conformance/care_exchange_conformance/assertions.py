"""The assertions every check makes, whichever side of the exchange it checks.

A wrong answer becomes a `Failure` carrying what was expected and the exchange that showed it.
"""

from __future__ import annotations

from typing import NoReturn

import httpx

from care_exchange_conformance.evidence import Exchange
from care_exchange_conformance.registry import CheckFailedError, Failure


class Assertions:
    """Turns what a check saw into a failure with its evidence."""

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
