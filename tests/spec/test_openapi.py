"""Checks of the normative OpenAPI document, `spec/openapi.yaml`.

The document references the standard's JSON Schemas by relative path (`../schemas/...`); every
check here resolves them from the local files and never from the network.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urldefrag

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from care_exchange_standard import SCHEMA_DIR, Standard

SPEC_PATH = Path(__file__).resolve().parents[2] / "spec" / "openapi.yaml"
SPEC_URI = SPEC_PATH.as_uri()
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PROBLEM_JSON = "application/problem+json"
STANDARD_REF_PREFIX = "../schemas/"

JSON = Any


# ------------------------------------------------------------------------------------ helpers


def escape(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def lookup(document: JSON, pointer: str) -> JSON:
    """The value at a JSON Pointer (the part after `#`) inside a document."""
    node = document
    for raw in pointer.split("/")[1:] if pointer else []:
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


@dataclass(frozen=True)
class Located:
    """A node of the OpenAPI document with its JSON Pointer, after following local `$ref`s."""

    node: JSON
    pointer: str

    def child(self, *tokens: str) -> Located:
        node = self.node
        for token in tokens:
            node = node[token]
        return Located(node, self.pointer + "".join("/" + escape(t) for t in tokens))


@dataclass(frozen=True)
class Operation:
    """One operation of the document, with the path-level parameters it inherits."""

    spec: Mapping[str, JSON]
    path: str
    method: str
    located: Located

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def node(self) -> Mapping[str, JSON]:
        node: Mapping[str, JSON] = self.located.node
        return node

    @property
    def under_v1(self) -> bool:
        return self.path.startswith("/v1/")

    def deref(self, located: Located) -> Located:
        return deref(self.spec, located)

    def parameters(self) -> list[Mapping[str, JSON]]:
        path_item = self.spec["paths"][self.path]
        raw = [*path_item.get("parameters", []), *self.node.get("parameters", [])]
        return [deref(self.spec, Located(p, "")).node for p in raw]

    def parameter(self, name: str, location: str) -> Mapping[str, JSON] | None:
        for parameter in self.parameters():
            if parameter["name"].lower() == name.lower() and parameter["in"] == location:
                return parameter
        return None

    def responses(self) -> dict[str, Located]:
        responses = self.located.child("responses")
        return {status: self.deref(responses.child(status)) for status in responses.node}

    def request_body(self) -> Located | None:
        if "requestBody" not in self.node:
            return None
        return self.deref(self.located.child("requestBody"))


def deref(spec: Mapping[str, JSON], located: Located) -> Located:
    """Follow local `$ref`s (`#/components/...`) until a node that is not a reference."""
    while isinstance(located.node, dict) and "$ref" in located.node:
        target = located.node["$ref"]
        if not target.startswith("#"):
            break
        located = Located(lookup(spec, target[1:]), target[1:])
    return located


def walk(node: JSON) -> Iterator[Mapping[str, JSON]]:
    """Every object in a JSON document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def media_types(operation: Operation) -> Iterator[tuple[str, Located]]:
    """Every media type object of an operation's request body and responses, labelled."""
    body = operation.request_body()
    if body is not None:
        for name in body.node.get("content", {}):
            yield f"{operation} request {name}", body.child("content", name)
    for status, response in operation.responses().items():
        for name in response.node.get("content", {}):
            yield f"{operation} {status} {name}", response.child("content", name)


def cause(error: ValidationError) -> ValidationError:
    """The most specific cause of an error: inside `oneOf`, the branch with the fewest errors."""
    while error.context:
        branches: dict[str | int, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        error = min(branches.values(), key=len)[0]
    return error


def record_type_names() -> set[str]:
    return {path.stem for path in (SCHEMA_DIR / "records").glob("*.json")}


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to open a network connection while a test runs."""

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def spec() -> dict[str, JSON]:
    loaded: dict[str, JSON] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def operations(spec: dict[str, JSON]) -> list[Operation]:
    found = []
    for path, path_item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in path_item:
                pointer = f"/paths/{escape(path)}/{method}"
                found.append(Operation(spec, path, method, Located(path_item[method], pointer)))
    assert found, "the document has no operations"
    return found


@pytest.fixture(scope="module")
def declared_scopes(spec: dict[str, JSON]) -> set[str]:
    scopes: set[str] = set()
    for scheme in spec["components"]["securitySchemes"].values():
        for flow in scheme.get("flows", {}).values():
            scopes.update(flow["scopes"])
    return scopes


@pytest.fixture(scope="module")
def registry(spec: dict[str, JSON], standard: Standard) -> Registry[Any]:
    """The standard's schemas by `$id` and by file URI, and the OpenAPI document itself."""
    by_file = [
        (path.as_uri(), Resource.from_contents(standard.documents[uri], DRAFT202012))
        for uri, path in standard.paths.items()
    ]
    return standard.registry.with_resources(
        [*by_file, (SPEC_URI, Resource.from_contents(spec, DRAFT202012))]
    )


def fail_on(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------ tests


def test_document_is_valid_openapi_3_1(spec: dict[str, JSON]) -> None:
    assert spec["openapi"] == "3.1.0"
    assert spec["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    validate(spec, base_uri=SPEC_URI)


def test_every_operation_has_a_unique_operation_id(operations: list[Operation]) -> None:
    ids = [op.node.get("operationId") for op in operations]
    fail_on([f"{op}: no operationId" for op, i in zip(operations, ids, strict=True) if not i])
    assert len(ids) == len(set(ids)), "operationIds are not unique"


def test_every_operation_has_a_success_response(operations: list[Operation]) -> None:
    fail_on(
        [
            f"{op}: no 2xx response"
            for op in operations
            if not any(status.startswith("2") for status in op.responses())
        ]
    )


def test_v1_operations_describe_errors_as_problem_details(operations: list[Operation]) -> None:
    problems = []
    for op in operations:
        if not op.under_v1:  # discovery and OAuth endpoints have their own error formats
            continue
        errors = {s: r for s, r in op.responses().items() if s.startswith("4")}
        if not any(PROBLEM_JSON in r.node.get("content", {}) for r in errors.values()):
            problems.append(f"{op}: no 4xx response with {PROBLEM_JSON}")
        problems += [
            f"{op} {status}: error body is not {PROBLEM_JSON}"
            for status, response in errors.items()
            if set(response.node.get("content", {})) != {PROBLEM_JSON}
        ]
    fail_on(problems)


def test_problem_details_share_the_problem_schema(operations: list[Operation]) -> None:
    fail_on(
        [
            f"{label}: schema is not #/components/schemas/Problem"
            for op in operations
            for label, media in media_types(op)
            if label.endswith(PROBLEM_JSON)
            and media.node.get("schema") != {"$ref": "#/components/schemas/Problem"}
        ]
    )


def test_every_operation_declares_security(
    operations: list[Operation], declared_scopes: set[str]
) -> None:
    problems = []
    for op in operations:
        if "security" not in op.node:
            problems.append(f"{op}: no security entry")
            continue
        security = op.node["security"]
        if op.under_v1 and not security:
            problems.append(f"{op}: a /v1 operation must require a token")
        if not op.under_v1 and security:
            problems.append(f"{op}: discovery and OAuth endpoints need no token")
        problems += [
            f"{op}: undeclared scope {scope!r}"
            for requirement in security
            for scopes in requirement.values()
            for scope in scopes
            if scope not in declared_scopes
        ]
    fail_on(problems)


def test_protected_operations_answer_401_and_403_with_a_challenge(
    operations: list[Operation],
) -> None:
    problems = []
    for op in (op for op in operations if op.under_v1):
        responses = op.responses()
        needs_scope = any(scopes for r in op.node["security"] for scopes in r.values())
        for status in ("401", "403") if needs_scope else ("401",):
            if status not in responses:
                problems.append(f"{op}: no {status} response")
            elif "WWW-Authenticate" not in responses[status].node.get("headers", {}):
                problems.append(f"{op} {status}: no WWW-Authenticate header")
    fail_on(problems)


def test_every_response_carries_a_request_id(operations: list[Operation]) -> None:
    fail_on(
        [
            f"{op} {status}: no X-Request-ID header"
            for op in operations
            for status, response in op.responses().items()
            if "X-Request-ID" not in response.node.get("headers", {})
        ]
    )


def test_every_v1_post_accepts_an_idempotency_key(operations: list[Operation]) -> None:
    problems = []
    for op in operations:
        if op.method != "post" or not op.under_v1:
            continue
        parameter = op.parameter("Idempotency-Key", "header")
        if parameter is None:
            problems.append(f"{op}: no Idempotency-Key header parameter")
        elif (parameter["schema"].get("minLength"), parameter["schema"].get("maxLength")) != (
            1,
            255,
        ):
            problems.append(f"{op}: Idempotency-Key must be a string of 1 to 255 characters")
    fail_on(problems)


def test_record_changes_require_if_match(operations: list[Operation]) -> None:
    fail_on(
        [
            f"{op}: If-Match is not a required header parameter"
            for op in operations
            if op.path.startswith("/v1/records/") and op.method in ("put", "delete")
            if not (op.parameter("If-Match", "header") or {}).get("required")
        ]
    )


def test_references_to_the_standard_resolve_to_local_files(spec: dict[str, JSON]) -> None:
    references = {
        node["$ref"]
        for node in walk(spec)
        if isinstance(node.get("$ref"), str) and node["$ref"].startswith(STANDARD_REF_PREFIX)
    }
    assert references, "the document references none of the standard's schemas"
    problems = []
    for reference in sorted(references):
        url, fragment = urldefrag(reference)
        target = (SPEC_PATH.parent / url).resolve()
        if not target.is_file():
            problems.append(f"{reference}: {target} does not exist")
            continue
        try:
            lookup(json.loads(target.read_text(encoding="utf-8")), fragment)
        except (KeyError, IndexError, ValueError):
            problems.append(f"{reference}: #{fragment} is not in {target.name}")
    fail_on(problems)


def test_every_record_type_is_in_the_type_path_parameter(operations: list[Operation]) -> None:
    expected = record_type_names()
    assert expected, "no record schemas found"
    typed = [(op, op.parameter("type", "path")) for op in operations]
    typed_ops = [(op, p) for op, p in typed if p is not None]
    assert typed_ops, "no operation has a `type` path parameter"
    problems = []
    for op, parameter in typed_ops:
        schema = op.deref(Located(parameter["schema"], "")).node
        if set(schema.get("enum", [])) != expected:
            problems.append(f"{op}: type enum {sorted(schema.get('enum', []))}")
    fail_on(problems)


def test_record_schema_and_scopes_cover_every_record_type(
    spec: dict[str, JSON], declared_scopes: set[str]
) -> None:
    names = record_type_names()
    record = spec["components"]["schemas"]["Record"]
    assert {item["$ref"] for item in record["oneOf"]} == {
        f"{STANDARD_REF_PREFIX}records/{name}.json" for name in names
    }
    missing = {f"{n}:{a}" for n in names for a in ("read", "publish")} - declared_scopes
    assert not missing, f"scopes not declared: {sorted(missing)}"


def test_request_bodies_and_success_responses_have_examples(
    operations: list[Operation],
) -> None:
    fail_on(
        [
            f"{label}: no example"
            for op in operations
            for label, media in media_types(op)
            if (" request " in label or " 2" in label)
            and not (media.node.get("examples") or "example" in media.node)
        ]
    )


def test_every_example_matches_its_schema(
    spec: dict[str, JSON], operations: list[Operation], registry: Registry[Any]
) -> None:
    """Spectral cannot check examples of schemas with `$id`s (see .spectral.yaml); this does."""
    checked, problems = 0, []
    for op in operations:
        for label, media in media_types(op):
            if "schema" not in media.node:
                continue
            validator = Draft202012Validator(
                {"$ref": f"{SPEC_URI}#{media.pointer}/schema"},
                registry=registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            for name, example in media.node.get("examples", {}).items():
                checked += 1
                value = deref(spec, Located(example, "")).node["value"]
                for error in map(cause, validator.iter_errors(value)):
                    where = "/" + "/".join(map(str, error.absolute_path))
                    problems.append(f"{label} example {name!r} at {where}: {error.message}")
    assert checked, "no examples found"
    fail_on(problems)


def test_an_idempotency_key_brings_its_errors_into_the_documented_answers(
    operations: list[Operation],
) -> None:
    """A bad key is 400 `invalid_header`, a reused one 422: every operation taking one says so."""
    fail_on(
        [
            f"{op}: takes an Idempotency-Key but does not document {status}"
            for op in operations
            if op.parameter("Idempotency-Key", "header") is not None
            for status in ("400", "422")
            if status not in op.responses()
        ]
    )


def test_every_declared_scope_is_used_and_described_as_used(
    operations: list[Operation], declared_scopes: set[str], spec: dict[str, JSON]
) -> None:
    used = {
        scope
        for op in operations
        for requirement in op.node.get("security", [])
        for scope in requirement.get("oauth2", [])
    }
    assert declared_scopes == used
    flows = spec["components"]["securitySchemes"]["oauth2"]["flows"]
    descriptions = [text for flow in flows.values() for text in flow["scopes"].values()]
    assert not [text for text in descriptions if "no operation uses it" in text]


def test_the_webhook_url_rule_is_a_schema_not_only_prose(spec: dict[str, JSON]) -> None:
    webhook = spec["components"]["schemas"]["SubscriptionChannel"]["oneOf"][0]
    assert webhook["properties"]["url"]["pattern"] == "^[Hh][Tt][Tt][Pp][Ss]?://"
    capability = spec["components"]["schemas"]["CapabilityDocument"]["properties"]
    assert "webhookUrlSchemes" in capability["subscriptions"]["required"]
