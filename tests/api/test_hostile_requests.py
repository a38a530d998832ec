"""Hostile requests to every operation of the spec: never a 5xx, and a refusal changes nothing.

Hypothesis builds each request from what an attacker or a careless client sends: malformed and
non-strict JSON (truncated, UTF-16, a byte-order mark, duplicate names, `NaN`, numbers out of
range, deep nesting, lone surrogates, NUL), valid bodies from the spec's own examples with one
member dropped, retyped or added, hostile query, path and header values, unknown and repeated
parameters, and wrong media types. Each runs against the world (tests/api/world.py), on SQLite
and PostgreSQL, as the party the operation's security names. After every refused request the
database must hold exactly what it held before (idempotency keys aside: a key answered with a
4xx stores that answer, by design, to replay it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.api.world import World, published_example, table_digest

pytestmark = pytest.mark.slow

SPEC = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "spec" / "openapi.yaml").read_text(encoding="utf-8")
)
METHODS = ("get", "put", "post", "delete", "patch")
EXAMPLES_PER_OPERATION = 12
# A 4xx answer to a request with an Idempotency-Key is stored to be replayed (Stripe's rule).
CHANGED_BY_REFUSALS = {"idempotency_keys"}
REQUESTS = {"sent": 0, "5xx": 0}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    definition: dict[str, Any]
    shared: tuple[dict[str, Any], ...]

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return [_resolved(p) for p in [*self.shared, *self.definition.get("parameters", [])]]

    def bodies(self) -> list[Any]:
        """The spec's example bodies, resolved: the starting points for mutation."""
        content = self.definition.get("requestBody", {}).get("content", {})
        examples = content.get("application/json", {}).get("examples", {})
        return [_resolved(example)["value"] for example in examples.values()]

    @property
    def party(self) -> str | None:
        requirements = self.definition.get("security", [])
        scopes = {scope for requirement in requirements for scope in requirement.get("oauth2", [])}
        if not requirements:
            return None
        if "admin" in scopes:
            return "admin"
        if self.path == "/v1/feedback" and self.method == "POST":
            return "subscriber"
        return "provider"


def _resolved(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
        target: Any = SPEC
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


OPERATIONS = [
    Operation(method.upper(), path, item[method], tuple(item.get("parameters", [])))
    for path, item in SPEC["paths"].items()
    for method in METHODS
    if method in item
]

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "-1",
        "0",
        "0.5",
        "1e3",
        "99",
        "007",
        "abc",
        "9" * 30,
        "%00",
        "a%00b",
        "%ED%A0%80",
        "%FF%FE",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00%2B01:00",
        "2026-13-45T25:61:00Z",
        "2026-11-29T10:00:00",
        "yesterday",
        "W%2F%221%22",
        "*",
        "..%2F..%2Fetc",
        "x" * 3000,
    ]
) | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12).map(
    lambda text: quote(text, safe="")
)
RAW_BODIES = st.sampled_from(
    [
        b'{"a": ',
        b"\xef\xbb\xbf{}",
        '{"a": 1}'.encode("utf-16"),
        b"[" * 300 + b"]" * 300,
        b'{"x": 1e400}',
        b'{"x": NaN}',
        b'{"x": ' + b"9" * 5000 + b"}",
        b'{"a": 1, "a": 2}',
        b'{"id": "\\ud800"}',
        b'{"notes": "a\\udc00b"}',
        b"\x00",
        b"null",
        b"[]",
        b'"text"',
        b"\xff\xfe\xfd",
        b"{}",
    ]
)
HOSTILE_VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [
        None,
        "",
        "\ud800",
        "a\udc00b",
        "\x00",
        10**40,
        -(10**40),
        1.5,
        True,
        [],
        {},
        [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
        "x" * 5000,
    ]
)


def _mutated(body: Any, data: st.DataObject) -> bytes:
    """A valid example with one thing wrong, encoded as the client would send it."""
    if isinstance(body, dict) and body:
        name = data.draw(st.sampled_from(sorted(body)))
        action = data.draw(st.sampled_from(["drop", "retype", "add", "duplicate"]))
        if action == "drop":
            body = {key: value for key, value in body.items() if key != name}
        elif action == "retype":
            body = {**body, name: data.draw(HOSTILE_VALUES)}
        elif action == "add":
            body = {**body, data.draw(st.sampled_from(["extra", "", "\ud800"])): 1}
        else:
            encoded = json.dumps(body)
            return (encoded[:-1] + f", {json.dumps(name)}: null}}").encode()
    return json.dumps(body).encode()


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None


def hostile_request(operation: Operation, known: dict[str, str], data: st.DataObject) -> Request:
    path = operation.path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for parameter in operation.parameters:
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            good = known.get(name, "x")
            value = data.draw(st.just(quote(good, safe="")) | HOSTILE_TEXT)
            path = path.replace("{" + name + "}", value)
        elif where == "query" and data.draw(st.booleans()):
            query.append((name, data.draw(HOSTILE_TEXT)))
            if data.draw(st.integers(0, 9)) == 0:
                query.append((name, data.draw(HOSTILE_TEXT)))
        elif where == "header" and data.draw(st.booleans()):
            header = data.draw(st.sampled_from(['"1"', 'W/"1"', "*", "", "x" * 300, "key-1"]))
            headers[name] = header
    if data.draw(st.integers(0, 4)) == 0:
        query.append(("unknown", data.draw(HOSTILE_TEXT)))
    url = path + ("?" + "&".join(f"{name}={value}" for name, value in query) if query else "")
    content: bytes | None = None
    if operation.definition.get("requestBody") or data.draw(st.integers(0, 4)) == 0:
        bases = operation.bodies()
        mutate: bool = data.draw(st.booleans())
        if bases and mutate:
            content = _mutated(data.draw(st.sampled_from(bases)), data)
        else:
            content = data.draw(RAW_BODIES)
        headers["Content-Type"] = data.draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/json",
                    "application/json; charset=utf-16",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                ]
            )
        )
    return Request(operation.method, url, headers, content)


def stored(engine: Engine) -> str:
    """A digest of every row the server keeps, except the tables a refusal may change."""
    return table_digest(engine, CHANGED_BY_REFUSALS)


@pytest.fixture(scope="module", autouse=True)
def tally() -> Iterator[None]:
    """With `pytest -s`, how many hostile requests this module sent and how many got a 5xx."""
    yield
    print(f"\nhostile requests sent: {REQUESTS['sent']}, answered 5xx: {REQUESTS['5xx']}")


@pytest.fixture
def known(world: World) -> Iterator[dict[str, str]]:
    """Real ids to aim at, so that hostile bodies reach the code behind the lookups."""
    record = published_example(world)
    feedback = world.call(
        "subscriber",
        "POST",
        "/v1/feedback",
        json={
            "kind": "question",
            "text": "Why?",
            "recordType": "capacity-snapshot",
            "recordId": record["id"],
        },
    )
    subscription = world.call(
        "provider",
        "POST",
        "/v1/subscriptions",
        json={"types": ["feedback"], "channel": {"type": "pull"}},
    )
    assert feedback.status_code == 201 and subscription.status_code == 201
    yield {
        "type": "capacity-snapshot",
        "id": record["id"],
        "serviceId": "svc-p1",
        "agreementId": "agr-subscriber",
        "feedbackId": feedback.json()["id"],
        "subscriptionId": subscription.json()["id"],
        "clientId": world["provider"].client_id,
    }


@pytest.mark.parametrize(
    "operation", OPERATIONS, ids=[f"{op.method} {op.path}" for op in OPERATIONS]
)
def test_hostile_requests_get_4xx_and_change_nothing(
    world: World, known: dict[str, str], operation: Operation
) -> None:
    app = world.client.app
    engine: Engine = app.state.engines[0]  # type: ignore[attr-defined]
    book = app.state.receipt_book  # type: ignore[attr-defined]
    book.flush()
    before = {"digest": stored(engine)}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        request = hostile_request(operation, known, data)
        response = world.call(
            operation.party,
            request.method,
            request.url,
            headers=request.headers,
            content=request.content,
        )
        REQUESTS["sent"] += 1
        REQUESTS["5xx"] += response.status_code >= 500
        assert response.status_code < 500, (request, response.text)
        book.flush()
        after = stored(engine)
        if response.status_code >= 400:
            assert after == before["digest"], (request, response.status_code, response.text)
            _is_an_error_document(request, response)
        before["digest"] = after

    one()


def _is_an_error_document(request: Request, response: Any) -> None:
    media_type = response.headers["content-type"].split(";")[0]
    body = response.json()
    if request.url.startswith("/oauth/"):
        assert "error" in body or media_type == "application/problem+json", response.text
        return
    assert media_type == "application/problem+json", (request, response.text)
    assert body["status"] == response.status_code and body["code"]
    for error in body.get("errors", []):
        assert "pointer" in error or "parameter" in error, body
