"""The suite in the server's place, delivering events to a subscriber's own webhook endpoint.

`care-exchange conformance receiver URL --secret whsec_...` checks the other side of webhooks: a
subscriber's endpoint must accept what a conformant server sends (Standard Webhooks signatures,
two of them during a secret rotation, the same `webhook-id` again on a retry) and refuse what it
must not trust (a wrong signature, a body changed after signing, a stale timestamp). The events
are the spec's own examples with fresh ids, so a receiver that parses them parses real events.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from care_exchange_conformance.assertions import Assertions
from care_exchange_standard.spec import load_spec

CLOUDEVENTS_JSON = "application/cloudevents+json"
EXAMPLES = ("webhooks", "subscriptionEvent", "post", "requestBody", "content", CLOUDEVENTS_JSON)


def example_event(kind: str) -> dict[str, Any]:
    """The spec's example webhook event of that kind (`updated`, `heartbeat`)."""
    node: Any = load_spec().document
    for member in EXAMPLES:
        node = node[member]
    event: dict[str, Any] = json.loads(json.dumps(node["examples"][kind]["value"]))
    return event


class Sender(Assertions):
    """Shared by the checks of one `conformance receiver` run: the endpoint and its secret."""

    def __init__(
        self,
        url: str,
        secret: str,
        seed: int,
        timeout_seconds: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.secret = secret
        self.random = random.Random(seed)
        self.sequence = 0
        self.http = httpx.Client(
            timeout=timeout_seconds,
            transport=transport,
            headers={"User-Agent": "care-exchange-conformance"},
        )

    def close(self) -> None:
        self.http.close()

    def event(self, kind: str = "updated") -> dict[str, Any]:
        """A new event of that kind, never sent before; a record event takes the next number."""
        event = example_event(kind)
        event["id"] = f"evt-conformance-{self.random.getrandbits(64):016x}"
        event["time"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        if "sequence" in event:
            self.sequence += 1
            event["sequence"] = str(self.sequence).zfill(19)
        return event

    @staticmethod
    def body(event: dict[str, Any]) -> bytes:
        """An event as the bytes sent and signed."""
        return json.dumps(event, separators=(",", ":")).encode()

    def deliver(
        self,
        event: dict[str, Any],
        *,
        secrets: Sequence[str] | None = None,
        signed_body: bytes | None = None,
        sent_at: datetime | None = None,
    ) -> httpx.Response:
        """POST `event` as a server would, signed with `secrets` (the endpoint's by default).

        `signed_body` is signed in place of the body sent, and `sent_at` is the timestamp
        claimed, so a check can send what a conformant receiver must refuse.
        """
        body = self.body(event)
        moment = sent_at or datetime.now(UTC)
        signed = (signed_body or body).decode()
        signature = " ".join(
            Webhook(secret).sign(event["id"], moment, signed)
            for secret in (secrets if secrets is not None else [self.secret])
        )
        headers = {
            "webhook-id": event["id"],
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": signature,
            "content-type": CLOUDEVENTS_JSON,
        }
        try:
            return self.http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            self.fail(f"POST {self.url} could not be completed: {error!r}.", "an HTTP response")

    def expect_acknowledged(self, answer: httpx.Response, what: str) -> None:
        self.expect(
            200 <= answer.status_code < 300,
            f"{what} was answered {answer.status_code}.",
            "a 2xx acknowledgement (anything else makes the server retry, then give up)",
            answer,
        )

    def expect_refused(self, answer: httpx.Response, what: str) -> None:
        self.expect(
            400 <= answer.status_code < 500,
            f"{what} was answered {answer.status_code}"
            + (", as if it were genuine." if answer.status_code < 300 else "."),
            "a 4xx refusal: a delivery that does not verify must not be acted on, and a 5xx "
            "would have a server retry it",
            answer,
        )
