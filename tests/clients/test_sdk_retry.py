"""Retries against a real HTTP server that answers from a script: which requests are repeated,
after how long (Retry-After in seconds or as an HTTP date, else jittered backoff), and which
never are."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from care_exchange_client import (
    AsyncClient,
    Client,
    ClientSecret,
    IdempotencyInProgress,
    RateLimited,
    RetryPolicy,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
)
from care_exchange_client.retry import parse_retry_after
from tests.clients.scripted_server import Answer, Script, problem, scripted_server

ORGANISATION = {"id": "org-x", "name": "X", "kind": "provider"}
ME = "/v1/organisations/me"
UNAVAILABLE = Answer(503, problem(503, "service_unavailable"), {"Retry-After": "1"})
CREDENTIALS = ClientSecret("client", "secret")


class Sleeps:
    """Records the waits instead of waiting, so the tests check them exactly and fast."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def script() -> Iterator[Script]:
    with scripted_server() as running:
        yield running


def _client(script: Script, sleeps: Sleeps, **options: object) -> Client:
    return Client(script.base_url, CREDENTIALS, sleep=sleeps, **options)  # type: ignore[arg-type]


def test_a_read_waits_out_retry_after_in_seconds_for_real(script: Script) -> None:
    script.on(ME, UNAVAILABLE, Answer(200, ORGANISATION))
    with Client(script.base_url, CREDENTIALS) as client:
        started = time.monotonic()
        assert client.get_my_organisation() == ORGANISATION
        assert time.monotonic() - started >= 0.95
    assert len(script.calls(ME)) == 2


def test_retry_after_as_an_http_date(script: Script) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    busy = Answer(503, problem(503, "service_unavailable"), {"Retry-After": when})
    script.on(ME, busy, Answer(200, ORGANISATION))
    sleeps = Sleeps()
    with _client(script, sleeps) as client:
        client.get_my_organisation()
    assert len(sleeps.waits) == 1 and 30.0 < sleeps.waits[0] <= 60.0  # Sleeps does not sleep


def test_429_without_retry_after_backs_off_with_jitter_and_gives_up(script: Script) -> None:
    script.on(ME, Answer(429, problem(429, "rate_limited")))
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=4, backoff=0.5, max_backoff=20)
    with _client(script, sleeps, retry=policy) as client, pytest.raises(RateLimited) as limited:
        client.get_my_organisation()
    assert len(script.calls(ME)) == 4
    ceilings = [0.5, 1.0, 2.0]
    assert all(0 <= wait <= top for wait, top in zip(sleeps.waits, ceilings, strict=True))
    assert limited.value.retried


def test_503_past_the_attempts_raises_with_the_problem(script: Script) -> None:
    script.on(ME, UNAVAILABLE)
    sleeps = Sleeps()
    with _client(script, sleeps) as client, pytest.raises(ServiceUnavailable) as unavailable:
        client.get_my_organisation()
    assert sleeps.waits == [1.0, 1.0, 1.0]
    assert unavailable.value.retry_after == 1.0
    assert unavailable.value.code == "service_unavailable"


def test_a_retry_after_beyond_max_wait_is_left_to_the_caller(script: Script) -> None:
    script.on(ME, Answer(503, problem(503, "service_unavailable"), {"Retry-After": "3600"}))
    sleeps = Sleeps()
    with _client(script, sleeps) as client, pytest.raises(ServiceUnavailable) as unavailable:
        client.get_my_organisation()
    assert sleeps.waits == [] and unavailable.value.retry_after == 3600


def test_a_post_without_idempotency_key_is_never_retried(script: Script) -> None:
    # The OAuth endpoints take no key; every /v1 POST from the SDK carries one.
    script.on("/oauth/introspect", UNAVAILABLE)
    sleeps = Sleeps()
    with _client(script, sleeps) as client, pytest.raises(ServiceUnavailable):
        client.introspect_token("some-token")
    assert len(script.calls("/oauth/introspect")) == 1 and sleeps.waits == []


def test_a_post_is_retried_with_the_same_idempotency_key(script: Script) -> None:
    envelope = {"id": "r1", "version": 1}
    in_progress = Answer(409, problem(409, "idempotency_in_progress"), {"Retry-After": "1"})
    path = "/v1/records/capacity-snapshot"
    script.on(path, UNAVAILABLE, in_progress, Answer(201, envelope))
    sleeps = Sleeps()
    with _client(script, sleeps) as client:
        assert client.publish_record("capacity-snapshot", {"id": "r1"}) == envelope
    keys = {call.headers["Idempotency-Key"] for call in script.calls(path)}
    assert len(script.calls(path)) == 3 and len(keys) == 1
    assert sleeps.waits == [1.0, 1.0]


def test_idempotency_in_progress_is_raised_when_attempts_run_out(script: Script) -> None:
    path = "/v1/feedback"
    script.on(path, Answer(409, problem(409, "idempotency_in_progress"), {"Retry-After": "0"}))
    with _client(script, Sleeps()) as client, pytest.raises(IdempotencyInProgress):
        client.create_feedback({"kind": "question", "text": "?"}, idempotency_key="k-1")
    assert {c.headers["Idempotency-Key"] for c in script.calls(path)} == {"k-1"}


def test_a_delete_without_if_match_is_retried_only_when_nothing_happened(script: Script) -> None:
    path = "/v1/subscriptions/sub-1"
    script.on(path, UNAVAILABLE)
    with _client(script, Sleeps()) as client, pytest.raises(ServiceUnavailable):
        client.delete_subscription("sub-1")
    assert len(script.calls(path)) == 1
    script.on(path, Answer(429, problem(429, "rate_limited"), {"Retry-After": "0"}), Answer(204))
    with _client(script, Sleeps()) as client:
        client.delete_subscription("sub-1")
    assert len(script.calls(path)) == 3


def test_a_put_with_if_match_is_retried_and_a_412_after_it_says_so(script: Script) -> None:
    path = "/v1/records/capacity-snapshot/r1"
    stale = Answer(412, problem(412, "precondition_failed"))
    script.on(path, UNAVAILABLE, stale)
    with _client(script, Sleeps()) as client, pytest.raises(Exception) as failed:
        client.replace_record("capacity-snapshot", "r1", {"id": "r1"}, if_match=1)
    assert getattr(failed.value, "retried", False) is True
    assert [c.headers["If-Match"] for c in script.calls(path)] == ['"1"', '"1"']


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_retried_then_a_transport_error() -> None:
    sleeps = Sleeps()
    base = f"http://127.0.0.1:{_closed_port()}"
    with (
        Client(base, CREDENTIALS, token_endpoint=f"{base}/oauth/token", sleep=sleeps) as client,
        pytest.raises(TransportError),
    ):
        client.get_capabilities()
    assert len(sleeps.waits) == 3


def test_the_async_client_retries_the_same_way(script: Script) -> None:
    script.on(ME, UNAVAILABLE, Answer(200, ORGANISATION))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def read() -> object:
        async with AsyncClient(script.base_url, CREDENTIALS, sleep=sleep) as client:
            return await client.get_my_organisation()

    assert asyncio.run(read()) == ORGANISATION
    assert waits == [1.0]


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Sun, 29 Nov 2026 12:00:05 GMT", now) == 5.0
    assert parse_retry_after("Sun, 29 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_token_refused_twice_is_unauthorized_after_one_renewal(script: Script) -> None:
    challenge = {"WWW-Authenticate": 'Bearer realm="care-exchange", error="invalid_token"'}
    script.on(ME, Answer(401, problem(401, "invalid_token"), challenge))
    with _client(script, Sleeps()) as client, pytest.raises(Unauthorized) as refused:
        client.get_my_organisation()
    assert refused.value.code == "invalid_token"
    assert len(script.calls(ME)) == 2
    assert len(script.calls("/oauth/token")) == 2  # the first token and one renewal


def test_concurrent_first_calls_share_one_token(script: Script) -> None:
    script.on(ME, Answer(200, ORGANISATION))

    async def many() -> list[object]:
        async with AsyncClient(script.base_url, CREDENTIALS) as client:
            return list(await asyncio.gather(*(client.get_my_organisation() for _ in range(10))))

    assert asyncio.run(many()) == [ORGANISATION] * 10
    assert len(script.calls("/oauth/token")) == 1

    with Client(script.base_url, CREDENTIALS) as client, ThreadPoolExecutor(8) as pool:
        assert (
            list(pool.map(lambda _: client.get_my_organisation(), range(8))) == [ORGANISATION] * 8
        )
    assert len(script.calls("/oauth/token")) == 2
