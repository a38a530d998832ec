"""Whether a request, as it goes on the wire, breaks `spec/openapi.yaml`, and how.

The generated checks (`CX-SPEC-*`) send invalid requests that change state (POST, PUT, PATCH,
DELETE) only when this judge, independently of schemathesis, finds them invalid: a conformant
implementation refuses those and stores nothing, so even a vendor's real system is left as it
was. schemathesis' own "negative" cases are sometimes valid once serialised (a number mutated to
a string of digits, an array of one value); a request the judge cannot fault is not sent.

It reads the spec's rules for every `/v1` operation: a parameter is parsed by its schema (an
integer in digits, a string to its pattern and length), an unknown or repeated query parameter
is refused, a body is held to its schema, an operation without a body refuses one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from care_exchange_standard.spec import Spec, SpecOperation, load_spec

JSON_MEDIA = "application/json"
FORM_MEDIA = "application/x-www-form-urlencoded"
_DIGITS = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


@cache
def operation(operation_id: str) -> SpecOperation:
    """The spec's operation of that id."""
    for found in load_spec().operations():
        if found.operation_id == operation_id:
            return found
    raise KeyError(operation_id)


def _resolved(spec: Spec, node: Mapping[str, Any]) -> Mapping[str, Any]:
    while isinstance(node.get("$ref"), str):
        node = spec.resolve(node["$ref"])
    return node


def parameters(found: SpecOperation) -> list[Mapping[str, Any]]:
    """The operation's parameters, its own overriding the path's, with references followed."""
    spec = load_spec()
    by_key: dict[tuple[str, str], Mapping[str, Any]] = {}
    for declared in (*found.shared_parameters, *found.declaration.get("parameters", [])):
        parameter = _resolved(spec, declared)
        name = parameter["name"]
        by_key[parameter["in"], name.lower() if parameter["in"] == "header" else name] = parameter
    return list(by_key.values())


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = _resolved(load_spec(), schema).get("type")
    if isinstance(declared, str):
        return {declared}
    return set(declared) if isinstance(declared, list) else set()


def _value_fault(name: str, where: str, raw: str, schema: Mapping[str, Any]) -> str | None:
    """What is wrong with a parameter's text, parsed by its schema; None when it is valid."""
    types = _types(schema)
    value: Any = raw
    if "integer" in types and "string" not in types:
        if not _DIGITS.fullmatch(raw):
            return f"{where} parameter {name} is {raw!r}, not an integer in digits"
        value = int(raw)
    elif "number" in types and "string" not in types:
        if not _NUMBER.fullmatch(raw):
            return f"{where} parameter {name} is {raw!r}, not a number"
        value = float(raw)
    elif types and "string" not in types:
        return None  # a boolean, array or object parameter: the spec has none; not judged
    for error in load_spec().compile(schema).iter_errors(value):
        return f"{where} parameter {name} is {raw!r}: {_short(error.message)}"
    return None


def _path_values(template: str, path: str) -> dict[str, str] | None:
    pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]*)", re.escape(template))
    matched = re.fullmatch(pattern, path)
    return None if matched is None else {k: unquote(v) for k, v in matched.groupdict().items()}


def fault(operation_id: str, request: httpx.Request, base_path: str = "") -> str | None:
    """Why the spec refuses `request` to the operation, in a phrase.

    None when the judge finds nothing wrong: the request may still be refused for what it names.
    """
    found = operation(operation_id)
    declared = parameters(found)
    path = request.url.path.removeprefix(base_path.rstrip("/"))
    values = _path_values(found.path, path)
    if values is None:
        return f"the path {path!r} does not fit {found.path} (a parameter holds '/')"
    for parameter in (p for p in declared if p["in"] == "path"):
        name = parameter["name"]
        problem = _value_fault(name, "path", values.get(name, ""), parameter["schema"])
        if problem:
            return problem
    problem = _query_fault(declared, request)
    if problem:
        return problem
    for parameter in (p for p in declared if p["in"] == "header"):
        sent = request.headers.get_list(parameter["name"])
        if not sent:
            if parameter.get("required"):
                return f"the required header {parameter['name']} is missing"
            continue
        # what the server reads: HTTP drops the whitespace around a field value
        value = sent[0].strip(" \t")
        problem = _value_fault(parameter["name"], "header", value, parameter["schema"])
        if problem:
            return problem
    return _body_fault(found, request)


def _query_fault(declared: Sequence[Mapping[str, Any]], request: httpx.Request) -> str | None:
    known = {p["name"]: p for p in declared if p["in"] == "query"}
    pairs = parse_qsl(request.url.query.decode("ascii", "replace"), keep_blank_values=True)
    seen: set[str] = set()
    for name, value in pairs:
        if name not in known:
            return f"the query parameter {name!r} is unknown"
        if name in seen:
            return f"the query parameter {name} is repeated"
        seen.add(name)
        problem = _value_fault(name, "query", value, known[name]["schema"])
        if problem:
            return problem
    missing = [name for name, p in known.items() if p.get("required") and name not in seen]
    return f"the required query parameter {missing[0]} is missing" if missing else None


def _body_fault(found: SpecOperation, request: httpx.Request) -> str | None:
    content = request.content
    body = found.declaration.get("requestBody")
    if body is None:
        return "a body is sent to an operation that declares none" if content else None
    if not content:
        return "the required body is missing" if body.get("required") else None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    documented: Mapping[str, Any] = body.get("content", {})
    if media not in documented:
        return f"the body is {media or 'untyped'}, not {' or '.join(documented)}"
    schema = documented[media].get("schema", {})
    if media == FORM_MEDIA:
        pairs = parse_qsl(content.decode("utf-8", "replace"), keep_blank_values=True)
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            return "a form field is repeated"
        parsed: Any = dict(pairs)
    else:
        try:
            parsed = json.loads(content)
        except ValueError:
            return "the body is not JSON"
    for error in load_spec().compile(schema).iter_errors(parsed):
        where = "/" + "/".join(map(str, error.instance_path)) if error.instance_path else "/"
        return f"the body at {where}: {_short(error.message)}"
    return None


def _short(message: str, limit: int = 120) -> str:
    return message if len(message) <= limit else f"{message[: limit - 3]}..."
