"""Rate limits over real HTTP: the token endpoint per client and per address, the API per client,
429 as problem+json with Retry-After, limits that are off, and the capability document.

A test that counts requests up to a limit exactly uses a limit per hour. The sliding window
counter rounds the previous window's weighted count down, so one more request may pass just
after a window ends: with a minute's window, a test that crossed a minute's end failed.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from limits.storage import MemoryStorage
from sqlalchemy import select

from care_exchange_client import Client, ClientSecret
from care_exchange_server import rate_limits
from care_exchange_server.app import create_app, dispose
from care_exchange_server.auth import clients
from care_exchange_server.rate_limits import RateLimits, claimed_client_id
from care_exchange_server.services import directory
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.enums import AuthMethod, OrganisationKind
from care_exchange_server.storage.models import Base, Service
from care_exchange_testing.live_server import bound_socket, live_server
from tests.api.world import example_record, service_document

RECORD_TYPE = "capacity-snapshot"
SERVICE = "svc-limited"
OFF: dict[str, str | None] = {
    "rate_limit_token_per_client": "off",
    "rate_limit_token_per_address": "off",
    "rate_limit_api_per_client": "off",
}


# Generous: the machine that runs the suite may be busy, and a timeout is not what is tested.
TIMEOUT = 60.0


def _get(url: str, **options: Any) -> httpx.Response:
    return httpx.get(url, timeout=TIMEOUT, **options)


def _post(url: str, **options: Any) -> httpx.Response:
    return httpx.post(url, timeout=TIMEOUT, **options)


@dataclass(frozen=True)
class Caller:
    client_id: str
    secret: str


@dataclass(frozen=True)
class Served:
    app: FastAPI
    base_url: str
    provider: Caller
    other: Caller

    def token(self, caller: Caller) -> str:
        answer = self.token_attempt(caller.client_id, caller.secret)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def token_attempt(self, client_id: str, secret: str) -> httpx.Response:
        return _post(
            f"{self.base_url}/oauth/token",
            auth=(client_id, secret),
            data={"grant_type": "client_credentials"},
        )


Serve = Callable[..., AbstractContextManager[Served]]


def _caller(session: Any, name: str) -> Caller:
    organisation = directory.create_organisation(
        session, name, OrganisationKind.PROVIDER, f"org-{name}"
    )
    made, secret = clients.create_client(
        session,
        organisation.id,
        name,
        [f"{RECORD_TYPE}:publish", f"{RECORD_TYPE}:read"],
        AuthMethod.CLIENT_SECRET_BASIC,
    )
    assert secret is not None
    return Caller(made.client_id, secret)


@pytest.fixture
def serve(database_url: str) -> Serve:
    """Serve the reference server over real HTTP with the limits given (the rest off)."""

    @contextmanager
    def served(**limits: str | None) -> Iterator[Served]:
        listener = bound_socket()
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        chosen = {**OFF, **{f"rate_limit_{name}": value for name, value in limits.items()}}
        app = create_app(Settings(database_url=database_url, issuer=base_url, **chosen))  # type: ignore[arg-type]
        try:
            with transaction(app.state.sessions) as session:
                provider, other = _caller(session, "provider"), _caller(session, "other")
                session.add(
                    Service(
                        id=SERVICE,
                        provider_id="org-provider",
                        document=service_document(SERVICE, "org-provider"),
                    )
                )
            with live_server(app, listener=listener):
                yield Served(app, base_url, provider, other)
        finally:
            dispose(app)

    return served


def _assert_rate_limited(answer: httpx.Response, policy: str) -> int:
    """The answer is a 429 problem naming `policy`; its Retry-After in whole seconds."""
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == "rate_limited" and body["status"] == 429
    assert body["type"] == "https://care-exchange.org/problems/rate_limited"
    assert body["requestId"] == answer.headers["x-request-id"]
    retry_after = answer.headers["retry-after"]
    assert retry_after.isdigit() and int(retry_after) >= 1
    assert answer.headers["ratelimit-policy"].startswith(f'"{policy}";q=')
    assert answer.headers["ratelimit"] == f'"{policy}";r=0;t={retry_after}'
    return int(retry_after)


def _guessed_until_refused(served: Served, limit: int) -> httpx.Response:
    """Wrong secrets for the provider until one is refused: the refusal."""
    answers = []
    for _ in range(4 * limit):
        answers.append(served.token_attempt(served.provider.client_id, "not-the-secret"))
        if answers[-1].status_code == 429:
            break
    guesses = [answer.status_code for answer in answers[:-1]]
    # The sliding window counter weighs the previous window by its overlap: across a window
    # boundary one or two more attempts may pass, never twice the limit.
    assert 1 <= len(guesses) < 2 * limit and set(guesses) == {401}, guesses
    return answers[-1]


def test_guessing_a_secret_is_refused_for_that_client_alone(serve: Serve) -> None:
    with serve(token_per_client="3/hour") as served:
        refused = _guessed_until_refused(served, 3)
        assert 1 <= _assert_rate_limited(refused, "token-client") <= 3600
        assert refused.headers["ratelimit-policy"] == '"token-client";q=3;w=3600'
        # Counted by the client id claimed, before the secret is checked: the right secret is
        # refused too (no hashing), another client from the same address is not.
        assert served.token_attempt(*_secret(served.provider)).status_code == 429
        assert served.token_attempt(*_secret(served.other)).status_code == 200


def test_a_refused_client_is_let_in_after_retry_after(serve: Serve) -> None:
    # Three seconds, not one: on a loaded machine three attempts may take over a second.
    with serve(token_per_client="3 per 3 seconds") as served:
        refused = _guessed_until_refused(served, 3)
        wait = _assert_rate_limited(refused, "token-client")
        assert refused.headers["ratelimit-policy"] == '"token-client";q=3;w=3'
        # A client that honours Retry-After gets in; on a loaded machine the window may still
        # hold an attempt that finished late, so it is told to wait once more, never for long.
        for _ in range(3):
            time.sleep(wait)
            answer = served.token_attempt(*_secret(served.provider))
            if answer.status_code != 429:
                break
            wait = _assert_rate_limited(answer, "token-client")
        assert answer.status_code == 200


def _secret(caller: Caller) -> tuple[str, str]:
    return caller.client_id, caller.secret


def test_spraying_client_ids_from_one_address_is_refused(serve: Serve) -> None:
    with serve(token_per_address="4/hour") as served:
        statuses = [
            served.token_attempt(f"guess-{number}", "secret").status_code for number in range(4)
        ]
        assert statuses == [401] * 4
        refused = served.token_attempt(*_secret(served.provider))
        assert _assert_rate_limited(refused, "token-address") >= 1
        assert refused.headers["ratelimit-policy"] == '"token-address";q=4;w=3600'
        # The revocation and introspection endpoints hash the secret too: they share the count.
        revoke = _post(
            f"{served.base_url}/oauth/revoke", auth=_secret(served.provider), data={"token": "x"}
        )
        _assert_rate_limited(revoke, "token-address")


def test_the_api_limit_counts_each_client_apart(serve: Serve) -> None:
    with serve(api_per_client="5/hour", token_per_client="100/hour") as served:
        me = f"{served.base_url}/v1/records/{RECORD_TYPE}"
        busy = {"Authorization": f"Bearer {served.token(served.provider)}"}
        quiet = {"Authorization": f"Bearer {served.token(served.other)}"}
        statuses = [_get(me, headers=busy).status_code for _ in range(5)]
        assert statuses == [200] * 5
        _assert_rate_limited(_get(me, headers=busy), "api-client")
        assert _get(me, headers=quiet).status_code == 200
        # A refused request is checked after the token: without one it is a 401, not a 429.
        assert _get(me).status_code == 401


def _everything(app: FastAPI) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with app.state.sessions() as session:
        return {
            name: sorted((tuple(row) for row in session.execute(select(table))), key=repr)
            for name, table in Base.metadata.tables.items()
        }


def test_a_refused_post_stores_nothing(serve: Serve) -> None:
    with serve(api_per_client="2/hour", token_per_client="100/hour") as served:
        headers = {"Authorization": f"Bearer {served.token(served.provider)}"}
        path = f"{served.base_url}/v1/records/{RECORD_TYPE}"
        for _ in range(2):
            published = _post(path, json=example_record(RECORD_TYPE, SERVICE), headers=headers)
            assert published.status_code == 201, published.text
        before = _everything(served.app)
        assert before["records"], "the published records are in the snapshot"
        record = example_record(RECORD_TYPE, SERVICE)
        keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        _assert_rate_limited(_post(path, json=record, headers=keyed), "api-client")
        bulk = {"records": [example_record(RECORD_TYPE, SERVICE) for _ in range(3)]}
        _assert_rate_limited(
            _post(f"{served.base_url}/v1/bulk", json=bulk, headers=keyed), "api-client"
        )
        assert _everything(served.app) == before


def test_limits_that_are_off_never_answer_429(serve: Serve) -> None:
    """More attempts than any default allows in a minute, on every limit that is off."""
    with serve() as served:
        statuses = {
            served.token_attempt(served.provider.client_id, "wrong").status_code for _ in range(31)
        }
        assert statuses == {401}
        assert served.app.state.rate_limits.body() == {}
        capabilities = _get(f"{served.base_url}/.well-known/care-exchange").json()
        assert capabilities["rateLimits"] == {}


def test_the_capability_document_states_the_limits(serve: Serve) -> None:
    with serve(
        token_per_client="30/minute", token_per_address="5 per 10 seconds", api_per_client="9/hour"
    ) as served:
        capabilities = _get(f"{served.base_url}/.well-known/care-exchange").json()
    assert capabilities["rateLimits"] == {
        "tokenPerClient": {"limit": 30, "windowSeconds": 60},
        "tokenPerAddress": {"limit": 5, "windowSeconds": 10},
        "apiPerClient": {"limit": 9, "windowSeconds": 3600},
    }


def test_the_sdk_rides_through_a_real_429(serve: Serve) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with (
        serve(api_per_client="2/second") as served,
        Client(served.base_url, ClientSecret(*_secret(served.provider)), sleep=sleep) as sdk,
    ):
        names: set[str] = set()
        for _ in range(20):  # four calls meet a 429 unless a loaded machine spreads them out
            names.add(sdk.get_my_organisation()["id"])
            if waits:
                break
    assert names == {"org-provider"}
    assert waits and all(wait >= 1 and wait == int(wait) for wait in waits), waits


def test_the_default_limits_bound_the_token_endpoint_and_stay_out_of_the_way() -> None:
    defaults = Settings()
    assert defaults.rate_limit_token_per_client == "60/minute"
    assert defaults.rate_limit_token_per_address == "120/minute"
    assert defaults.rate_limit_api_per_client == "30000/minute"
    assert defaults.rate_limit_storage_uri == "memory://"


@pytest.mark.parametrize("text", ["ten a minute", "0/minute", "1/second;10/minute"])
def test_a_limit_that_cannot_be_read_is_refused_at_start(text: str) -> None:
    with pytest.raises(ValueError, match="is not one rate limit"):
        Settings(rate_limit_api_per_client=text)


@pytest.mark.parametrize("text", ["off", "OFF", "", " none "])
def test_a_limit_is_turned_off_by_name(text: str) -> None:
    assert Settings(rate_limit_token_per_client=text).rate_limit_token_per_client is None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _assertion(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


@pytest.mark.parametrize(
    ("authorization", "form", "claimed"),
    [
        (_basic("cli-1", "s"), [], "cli-1"),
        (_basic("cli%3A2", "s:s"), [("client_id", "other")], "cli:2"),
        (None, [("client_id", "cli-3")], "cli-3"),
        (None, [("client_assertion", _assertion({"iss": "cli-4", "sub": "cli-4"}))], "cli-4"),
        (None, [("client_assertion", _assertion({"sub": "cli-5"}))], None),
        (None, [("client_assertion", "not.a.jwt!")], None),
        ("Basic %%%", [], None),
        ("Bearer abc", [], None),
        (None, [], None),
    ],
)
def test_the_claimed_client_id_is_read_without_verifying(
    authorization: str | None, form: list[tuple[str, str]], claimed: str | None
) -> None:
    assert claimed_client_id(authorization, form) == claimed


def test_memory_counters_need_no_thread_and_are_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's own memory storage starts a thread every few requests; ours none."""
    limits = RateLimits(Settings(rate_limit_api_per_client="1000/second"))
    memory = limits.storage
    assert isinstance(memory, MemoryStorage)
    first_timer = memory.timer  # the library replaces it each time it starts another thread
    for number in range(5):
        limits.check_api(f"cli-{number}")
        time.sleep(0.02)
    assert memory.timer is first_timer and not first_timer.is_alive()
    assert len(memory.storage) == 5
    time.sleep(2.1)  # two one-second windows: every counter has expired
    monkeypatch.setattr(rate_limits, "SWEEP_SECONDS", 0.0)
    limits.check_api("cli-last")
    assert memory.storage and all("cli-last" in key for key in memory.storage)
