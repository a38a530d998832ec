"""The suite's webhook receiver verifies signatures and answers with the failures it is told."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks import Webhook

from care_exchange_conformance.receiver import Fault, Receiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + "c2VjcmV0LW9mLXNvbWVvbmUtZWxzZQ=="
BODY = '{"id": "evt-1", "sequence": "0000000000000000001", "type": "x"}'


def _post(
    url: str,
    secrets: list[str],
    moment: datetime | None = None,
    body: str = BODY,
    timeout: float = 30,
) -> httpx.Response:
    moment = moment or datetime.now(UTC)
    signature = " ".join(Webhook(secret).sign("evt-1", moment, body) for secret in secrets)
    headers = {
        "webhook-id": "evt-1",
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return httpx.post(url, content=body, headers=headers, timeout=timeout)


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[Receiver]:
    found = Receiver("127.0.0.1:0")
    yield found
    found.close()


def test_deliveries_are_verified_with_each_secret_and_recorded(receiver: Receiver) -> None:
    key, url = receiver.new_hook()
    receiver.set_secrets(key, [SECRET, OTHER])
    assert _post(url, [SECRET, OTHER]).status_code == 204
    assert _post(url, [SECRET]).status_code == 204
    stale = datetime.fromtimestamp(time.time() - 600, UTC)
    assert _post(url, [SECRET], stale).status_code == 204
    first, second, old = receiver.wait_for(key, lambda seen: len(seen) == 3, 2)
    assert first.verified_with == (SECRET, OTHER) and first.verified
    assert second.verified_with == (SECRET,) and len(second.signatures) == 1
    assert not old.verified and "no signature verifies" in (old.problem or "")
    assert first.sequence == 1 and first.webhook_id == "evt-1"


def test_injected_failures_answer_the_next_deliveries_then_stop(receiver: Receiver) -> None:
    key, url = receiver.new_hook()
    receiver.set_secrets(key, [SECRET])
    receiver.inject(key, Fault.SERVER_ERROR, retry_after="1")
    receiver.inject(key, Fault.GONE)
    receiver.inject(key, Fault.TIMEOUT, sleep_seconds=3)
    receiver.inject(key, Fault.DROP)
    refused = _post(url, [SECRET])
    assert (refused.status_code, refused.headers["retry-after"]) == (500, "1")
    assert _post(url, [SECRET]).status_code == 410
    with pytest.raises(httpx.ReadTimeout):
        _post(url, [SECRET], timeout=2)  # the receiver holds it 3 s
    with pytest.raises(httpx.RemoteProtocolError):
        _post(url, [SECRET])
    assert _post(url, [SECRET]).status_code == 204
    answered = [found.answered for found in receiver.wait_for(key, lambda s: len(s) == 5, 30)]
    assert answered == [Fault.SERVER_ERROR, Fault.GONE, Fault.TIMEOUT, Fault.DROP, None]


def test_a_heartbeat_never_takes_a_failure_meant_for_an_event(receiver: Receiver) -> None:
    key, url = receiver.new_hook()
    receiver.set_secrets(key, [SECRET])
    receiver.inject(key, Fault.GONE)
    heartbeat = '{"id": "hb-1", "type": "org.careexchange.heartbeat", "data": {}}'
    assert _post(url, [SECRET], body=heartbeat).status_code == 204
    assert _post(url, [SECRET]).status_code == 410


def test_the_public_url_is_what_subscriptions_point_at() -> None:
    receiver = Receiver("127.0.0.1:0", "https://hooks.example.net/suite/")
    try:
        key, url = receiver.new_hook()
        assert url == f"https://hooks.example.net/suite/hooks/{key}"
    finally:
        receiver.close()
