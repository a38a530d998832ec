"""Webhook verification: valid, rotated (two signatures), wrong secret, tampered body, stale or
future timestamps, broken headers; and a real delivery from the reference server's worker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook

from care_exchange_client import Client, WebhookVerificationError, verify_webhook
from care_exchange_client.webhooks import missed_after, parse_event, sequence_of
from tests.clients.conftest import Reference, new_record

OLD = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
EVENT = {
    "specversion": "1.0",
    "id": "evt-1",
    "source": "https://care-exchange.example.org/v1",
    "type": "org.careexchange.record.updated",
    "subject": "capacity-snapshot/cap-1",
    "time": "2026-11-20T16:31:02Z",
    "datacontenttype": "application/json",
    "sequence": "0000000000000000041",
    "subscription": "sub-1",
    "data": {"recordType": "capacity-snapshot", "id": "cap-1", "version": 1},
}
HEARTBEAT = {
    **{k: v for k, v in EVENT.items() if k not in ("sequence", "subject")},
    "id": "hb-1",
    "type": "org.careexchange.heartbeat",
    "data": {"latestSequence": 42},
}


def _signed(
    body: bytes, *secrets: str, at: int | None = None, msg_id: str = "evt-1"
) -> dict[str, str]:
    sent = at if at is not None else int(time.time())
    moment = datetime.fromtimestamp(sent, UTC)
    signatures = [Webhook(s).sign(msg_id, moment, body.decode()) for s in secrets]
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(sent),
        "Webhook-Signature": " ".join(signatures),
    }


BODY = json.dumps(EVENT).encode()


def test_a_valid_delivery_gives_the_event() -> None:
    event = verify_webhook(OLD, _signed(BODY, OLD), BODY)
    assert event["id"] == "evt-1" and sequence_of(event) == 41


def test_during_rotation_either_secret_verifies_the_two_signature_header() -> None:
    headers = _signed(BODY, OLD, NEW)
    assert len(headers["Webhook-Signature"].split(" ")) == 2
    assert verify_webhook(OLD, headers, BODY)["id"] == "evt-1"
    assert verify_webhook(NEW, headers, BODY)["id"] == "evt-1"
    # a receiver switching over holds both, and a one-signature delivery still passes
    assert verify_webhook([NEW, OLD], _signed(BODY, OLD), BODY)["id"] == "evt-1"


def _now() -> int:
    return int(time.time())


# Built when the test runs, not when it is collected, so the timestamps are as meant.
BROKEN: dict[str, Callable[[], tuple[dict[str, str], bytes]]] = {
    "wrong-secret": lambda: (_signed(BODY, NEW), BODY),
    "tampered-body": lambda: (_signed(BODY, OLD), BODY.replace(b"cap-1", b"cap-2")),
    "stale": lambda: (_signed(BODY, OLD, at=_now() - 301), BODY),
    "future": lambda: (_signed(BODY, OLD, at=_now() + 400), BODY),  # a second may pass
    "other-id": lambda: ({**_signed(BODY, OLD), "Webhook-Id": "evt-2"}, BODY),
    "missing-headers": lambda: ({"Webhook-Id": "evt-1"}, BODY),
    "malformed": lambda: ({**_signed(BODY, OLD), "Webhook-Signature": "v1"}, BODY),
    "bad-time": lambda: ({**_signed(BODY, OLD), "Webhook-Timestamp": "soon"}, BODY),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_anything_wrong_is_one_exception(case: str) -> None:
    headers, body = BROKEN[case]()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(OLD, headers, body)


def test_the_tolerance_can_be_tightened() -> None:
    headers = _signed(BODY, OLD, at=int(time.time()) - 120)
    assert verify_webhook(OLD, headers, BODY)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(OLD, headers, BODY, tolerance=60)


def test_a_signed_body_that_is_not_an_event_is_refused() -> None:
    body = b'{"hello": "world"}'
    with pytest.raises(WebhookVerificationError):
        verify_webhook(OLD, _signed(body, OLD), body)


def test_heartbeats_parse_and_reveal_gaps() -> None:
    heartbeat = parse_event(json.dumps(HEARTBEAT))
    assert sequence_of(heartbeat) is None
    assert missed_after(heartbeat, 41) and not missed_after(heartbeat, 42)
    event = parse_event(BODY)
    assert not missed_after(event, 40) and missed_after(event, 39)


@contextmanager
def _receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def _events(received: list[tuple[dict[str, str], bytes]]) -> list[tuple[dict[str, str], bytes]]:
    """The deliveries that are events, not heartbeats (an idle webhook gets those too)."""
    return [(h, b) for h, b in received if b'"org.careexchange.heartbeat"' not in b]


def _wait_for(received: list[tuple[dict[str, str], bytes]], count: int) -> None:
    deadline = time.monotonic() + 15
    while len(_events(received)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_events(received)) >= count, "no webhook delivery arrived"


def test_a_real_delivery_verifies_before_and_after_a_secret_rotation(
    reference: Reference, publisher: Client, subscriber: Client
) -> None:
    with _receiver() as (url, received):
        created = subscriber.create_subscription(
            {"types": ["capacity-snapshot"], "channel": {"type": "webhook", "url": url}}
        )
        first_secret = created["secret"]
        assert first_secret is not None
        record = new_record(reference.service_id)
        publisher.publish_record("capacity-snapshot", record)
        _wait_for(received, 1)
        headers, body = _events(received)[0]
        event = verify_webhook(first_secret, headers, body)
        assert event["subject"] == f"capacity-snapshot/{record['id']}"
        assert event["subscription"] == created["id"]

        rotated = subscriber.rotate_subscription_secret(created["id"])
        assert rotated["secret"] is not None
        publisher.publish_record("capacity-snapshot", new_record(reference.service_id))
        _wait_for(received, 2)
        headers, body = _events(received)[1]
        assert len(headers["webhook-signature"].split(" ")) == 2
        assert verify_webhook(rotated["secret"], headers, body) == verify_webhook(
            first_secret, headers, body
        )
        subscriber.delete_subscription(created["id"])
