"""The generated checks (schemathesis against the spec) pass against the reference server, leave
it as they found it, repeat with their seed, and catch what they are for."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_exchange_conformance import generation
from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.config import Config, ConfigError, load
from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import select
from care_exchange_conformance.requests_judge import fault
from care_exchange_conformance.runner import Status, run, run_check
from care_exchange_standard.spec import load_spec
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import middleware, rewrite_json

GENERATED = select(all_checks(), only=["CX-SPEC-*"])
SEED = 3
# Each broken variant runs every generated check, with three examples an operation where any
# request to the broken operation shows its fault: about half the time of the default five.
# A fault that only some requests meet (an invalid request that also asks for a large page)
# keeps the five.
FEW_EXAMPLES = 3
JSON, TEXT = "application/json", "text/plain"
ADMIN_OPERATIONS = {
    "GET /v1/admin/organisations",
    "POST /v1/admin/organisations",
    "GET /v1/admin/clients",
    "POST /v1/admin/clients",
    "DELETE /v1/admin/clients/{clientId}",
}
WRITES_OF_SLOW_BODIES = {
    "POST /v1/records/{type}",
    "PUT /v1/records/{type}/{id}",
    "POST /v1/services",
    "PUT /v1/services/{serviceId}",
}
# What the provider and the commissioner can list: a run must leave each list as it found it.
LISTS = [
    ("publisher", "/v1/agreements"),
    ("publisher", "/v1/services"),
    ("publisher", "/v1/delegations"),
    ("publisher", "/v1/subscriptions"),
    ("subscriber", "/v1/subscriptions"),
    ("publisher", "/v1/feedback"),
    ("subscriber", "/v1/feedback"),
]


def _lists(context: Context) -> dict[tuple[str, str], list[Any]]:
    seen: dict[tuple[str, str], list[Any]] = {}
    for party, path in LISTS:
        answer = context.get(path, party=party, params={"page_size": "200"})
        assert answer.status_code == 200, answer.text
        seen[party, path] = answer.json()["items"]
    return seen


def test_the_reference_server_passes_every_generated_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        context = Context(config, SEED)
        try:
            before = _lists(context)
            results = [run_check(found, context) for found in GENERATED]
            found = generation.outcome(context)
            assert context.clean_up() == []
            after = _lists(context)
        finally:
            context.close()
    assert [(r.check.id, r.status, r.failures, r.note) for r in results] == [
        (check.id, Status.PASSED, (), None) for check in GENERATED
    ]
    assert len(GENERATED) == 5
    # Every operation but the administrator's is called, and nothing is left behind.
    assert set(found.not_called) == ADMIN_OPERATIONS | WRITES_OF_SLOW_BODIES
    assert len(found.sent) == len(list(load_spec().operations())) - len(found.not_called)
    assert found.parties == {"publisher", "subscriber"}
    assert before == after


def test_a_run_repeats_with_its_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same seed draws the same requests, whatever modules are loaded; another seed draws
    others."""
    schema = generation._schema()
    operation = schema["/v1/agreements"]["GET"]
    from schemathesis import GenerationMode

    def drawn(seed: int) -> list[Any]:
        context = Context(Config(base_url="http://127.0.0.1:9"), seed)
        try:
            cases = generation.Generator(context)._draw(operation, GenerationMode.NEGATIVE)
        finally:
            context.close()
        return [(case.query, case.headers) for case in cases]

    first = drawn(11)
    # Hypothesis would draw constants from the source of local modules loaded since.
    (tmp_path / "cx_local_constants.py").write_text(
        "".join(f"VALUE_{n} = {n + 7919}\nTEXT_{n} = 'status-{n}'\n" for n in range(300))
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("cx_local_constants")
    assert drawn(11) == first
    assert drawn(12) != first
    assert len(drawn(11)) == 5


def test_generated_examples_is_configured_and_checked(tmp_path: Path) -> None:
    settings = tmp_path / "conformance.toml"
    settings.write_text('base_url = "https://api.example.org"\ngenerated_examples = 12\n')
    assert load(settings).generated_examples == 12
    assert (
        load(settings, {"CARE_EXCHANGE_CONFORMANCE_GENERATED_EXAMPLES": "2"}).generated_examples
        == 2
    )
    assert load(None, {"CARE_EXCHANGE_CONFORMANCE_BASE_URL": "https://x"}).generated_examples == 5
    with pytest.raises(ConfigError, match="generated_examples"):
        load(settings, {"CARE_EXCHANGE_CONFORMANCE_GENERATED_EXAMPLES": "0"})


def _request(method: str, url: str, **options: Any) -> httpx.Request:
    return httpx.Request(method, f"https://api.example.org{url}", **options)


@pytest.mark.parametrize(
    ("operation", "request_", "expected"),
    [
        ("listAgreements", _request("GET", "/v1/agreements?page_size=20"), None),
        ("listAgreements", _request("GET", "/v1/agreements?status=active&page_size=200"), None),
        ("listAgreements", _request("GET", "/v1/agreements?page_size=201"), "page_size"),
        ("listAgreements", _request("GET", "/v1/agreements?page_size=%2B1"), "in digits"),
        ("listAgreements", _request("GET", "/v1/agreements?page_size=1&page_size=2"), "repeated"),
        ("listAgreements", _request("GET", "/v1/agreements?colour=red"), "unknown"),
        ("listAgreements", _request("GET", "/v1/agreements?page_token="), "page_token"),
        ("getAgreement", _request("GET", "/v1/agreements/agr-1"), None),
        ("getAgreement", _request("GET", "/v1/agreements/-agr"), "agreementId"),
        ("getAgreement", _request("GET", "/v1/agreements/a%2Fb"), "agreementId"),
        ("getRecord", _request("GET", "/v1/records/no-such-type/x"), "type"),
        (
            "createSubscription",
            _request("POST", "/v1/subscriptions", json={"types": ["capacity-snapshot"]}),
            "channel",
        ),
        (
            "createSubscription",
            _request(
                "POST",
                "/v1/subscriptions",
                json={"types": ["capacity-snapshot"], "channel": {"type": "pull"}},
            ),
            None,
        ),
        (
            "createSubscription",
            _request(
                "POST",
                "/v1/subscriptions",
                json={"types": ["capacity-snapshot"], "channel": {"type": "pull"}},
                headers={"Idempotency-Key": " "},
            ),
            "Idempotency-Key",
        ),
        (
            "createSubscription",
            _request(
                "POST",
                "/v1/subscriptions",
                content=b"{",
                headers={"content-type": "application/json"},
            ),
            "not JSON",
        ),
        (
            "createSubscription",
            _request(
                "POST", "/v1/subscriptions", content=b"x", headers={"content-type": "text/plain"}
            ),
            "text/plain",
        ),
        ("retractRecord", _request("DELETE", "/v1/records/capacity-snapshot/r-1"), "If-Match"),
        (
            "retractRecord",
            _request("DELETE", "/v1/records/capacity-snapshot/r-1", headers={"If-Match": '"1"'}),
            None,
        ),
        (
            "revokeAgreement",
            _request("POST", "/v1/agreements/agr-1/revoke", json={}),
            "declares none",
        ),
        (
            "requestToken",
            _request(
                "POST",
                "/oauth/token",
                content=b"grant_type=client_credentials",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            None,
        ),
        (
            "requestToken",
            _request(
                "POST",
                "/oauth/token",
                content=b"grant_type=password",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            "grant_type",
        ),
    ],
)
def test_the_judge_reads_the_spec_as_a_server_must(
    operation: str, request_: httpx.Request, expected: str | None
) -> None:
    found = fault(operation, request_)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found, found


def test_the_judge_reads_paths_under_the_base_url() -> None:
    request = httpx.Request("GET", "https://api.example.org/care/v1/agreements/agr-1")
    assert fault("getAgreement", request, "/care") is None


# ------------------------------------------------------------------------ broken variants


def _answer(status: int, body: dict[str, Any], media: str) -> Callable[[Send], Any]:
    async def send_it(send: Send) -> None:
        content = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", media.encode()),
                    (b"content-length", str(len(content)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})

    return send_it


def _query(scope: Scope) -> list[tuple[str, str]]:
    raw: bytes = scope.get("query_string", b"")
    return parse_qsl(raw.decode("ascii", "replace"), keep_blank_values=True)


def _large_page(value: str) -> bool:
    return value.isdigit() and 100 < int(value) <= 200


class CrashOnLargePages:
    """A broken variant: a valid `page_size` above 100 crashes every list with a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(
            name == "page_size" and _large_page(value) for name, value in _query(scope)
        ):
            problem = {"type": "about:blank", "title": "Internal error", "status": 500}
            await _answer(500, problem, "application/problem+json")(send)
            return
        await self.app(scope, receive, send)


def change_answer(
    method: str, path_prefix: str, status: int | None = None, media: bytes | None = None
) -> Variant:
    """A broken variant: 200 answers to `method` under `path_prefix` get another status or
    media type."""

    def apply(app: FastAPI) -> None:
        class Change:
            def __init__(self, inner: ASGIApp) -> None:
                self.inner = inner

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if (
                    scope["type"] != "http"
                    or scope["method"] != method
                    or not scope["path"].startswith(path_prefix)
                ):
                    await self.inner(scope, receive, send)
                    return

                async def changed(message: Message) -> None:
                    if message["type"] == "http.response.start" and message["status"] == 200:
                        message = dict(message)
                        if status is not None:
                            message["status"] = status
                        if media is not None:
                            message["headers"] = [
                                (name, media if name == b"content-type" else value)
                                for name, value in message["headers"]
                            ]
                    await send(message)

                await self.inner(scope, receive, changed)

        app.add_middleware(Change)

    return apply


class AcceptAnyPageSize:
    """A broken variant: an invalid `page_size` is ignored instead of refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            pairs = _query(scope)
            kept = [
                (name, value)
                for name, value in pairs
                if name != "page_size" or (value.isdigit() and 1 <= int(value) <= 200)
            ]
            if kept != pairs:
                scope = {**scope, "query_string": urlencode(kept).encode("ascii")}
        await self.app(scope, receive, send)


def _break_pages(body: Any) -> None:
    if isinstance(body, dict) and "items" in body:
        body["items"] = {"agreements": body["items"]}


@pytest.mark.parametrize(
    ("variant", "expected", "examples"),
    [
        # A 500 is undocumented everywhere, and no refusal of an invalid request that also
        # asks for a large page.
        (middleware(CrashOnLargePages), ["CX-SPEC-001", "CX-SPEC-002", "CX-SPEC-005"], 5),
        (change_answer("GET", "/v1/services", status=203), ["CX-SPEC-002"], FEW_EXAMPLES),
        (change_answer("GET", "/v1/feed/", media=b"text/plain"), ["CX-SPEC-003"], FEW_EXAMPLES),
        (rewrite_json("/v1/agreements", _break_pages), ["CX-SPEC-004"], FEW_EXAMPLES),
        (middleware(AcceptAnyPageSize), ["CX-SPEC-005"], FEW_EXAMPLES),
    ],
    ids=[
        "a-500-for-a-valid-page-size",
        "an-undocumented-status",
        "the-feed-as-text-plain",
        "a-list-body-that-breaks-its-schema",
        "an-invalid-page-size-accepted",
    ],
)
def test_a_broken_variant_fails_exactly_its_check(
    serve_reference: Serve, variant: Variant, expected: list[str], examples: int
) -> None:
    with serve_reference(variant) as config:
        report = run(replace(config, generated_examples=examples), GENERATED, seed=SEED)
    assert report.not_cleaned_up == []
    failed = [r for r in report.results if r.status is not Status.PASSED]
    assert [r.check.id for r in failed] == expected, [r.failures for r in failed]
    for result in failed:
        [failure] = result.failures
        assert failure.message.startswith(("GET ", "POST ", "PUT ", "PATCH ", "DELETE "))
        assert "a generated valid request" in failure.message or (
            "a generated invalid request (" in failure.message
        )
        if result.check.id == "CX-SPEC-004":
            assert "Response violates schema at '/items' (type):" in failure.message
        assert failure.exchange is not None
        assert failure.exchange.request_headers.get("authorization", "").endswith("<redacted>")
        assert "Bearer ey" not in json.dumps(failure.exchange.as_dict())


def test_fewer_examples_send_fewer_requests_and_leave_no_files(
    serve_reference: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # Hypothesis would keep its caches in .hypothesis/ here
    with serve_reference() as config:
        context = Context(replace(config, generated_examples=1), SEED)
        try:
            for found in GENERATED:
                assert run_check(found, context).status is Status.PASSED
            sent = generation.outcome(context).sent
            context.clean_up()
        finally:
            context.close()
    assert max(sent.values()) <= 2  # one valid and one invalid request at most
    assert list(tmp_path.iterdir()) == []


class SubscribeWhateverIsSent:
    """A broken variant: any POST /v1/subscriptions makes a pull subscription, however invalid
    the request (its body and Idempotency-Key are ignored)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/v1/subscriptions"
        ):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"types": ["capacity-snapshot"], "channel": {"type": "pull"}}).encode()
        kept = [
            (name, value)
            for name, value in scope["headers"]
            if name not in (b"content-length", b"content-type", b"idempotency-key")
        ]
        headers = [
            *kept,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        message = await receive()
        while message.get("more_body"):
            message = await receive()

        async def replaced() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers, "query_string": b""}, replaced, send)


def test_what_an_invalid_request_created_is_removed(serve_reference: Serve) -> None:
    with serve_reference(middleware(SubscribeWhateverIsSent)) as config:
        report = run(config, GENERATED, seed=SEED)
        context = Context(config, SEED)
        try:
            left = context.get("/v1/subscriptions", party="publisher").json()["items"]
        finally:
            context.close()
    assert [r.check.id for r in report.results if r.status is Status.FAILED] == ["CX-SPEC-005"]
    [failure] = next(r for r in report.results if r.status is Status.FAILED).failures
    assert failure.message.startswith("POST /v1/subscriptions, a generated invalid request")
    assert report.not_cleaned_up == [] and left == []
