"""JSONata's own syntax tree (jsonata-python's parser), cut down to what `compiling` runs.

The tree is the reference implementation's, so paths, steps and their filters are grouped as
JSONata evaluates them. Anything outside the part the native evaluator knows (an object
constructor of anything but literals, a lambda, sorting, a range, a regular expression, `[]`
and the like) raises `NotNativeError`, and the caller leaves the expression to jsonatapy.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any


class NotNativeError(Exception):
    """The expression uses JSONata the native evaluator does not run; jsonatapy must."""


def jsonata_python() -> Any:
    """jsonata-python, imported without the recursion limit it sets for the whole process.

    Importing it raises Python's limit to 10,000 for everybody; a checker has no business
    changing that, and an expression nested too deep to parse is refused as not parsing.
    """
    limit = sys.getrecursionlimit()
    try:
        import jsonata  # type: ignore[import-untyped]
    finally:
        sys.setrecursionlimit(limit)
    return jsonata


@dataclass
class Node:
    """One node: `kind` says which, the rest only as that kind needs."""

    kind: str
    value: Any = None
    children: list[Node] = field(default_factory=list)
    # predicates ([...]) after a path step or any other node
    filters: list[Node] = field(default_factory=list)


BINARY = {"=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "&", "in", "and", "or"}
_BOOKKEEPING = {"_outer_instance", "position", "bp", "lbp", "id", "_jsonata_lambda", "level"}
_BOOKKEEPING |= {"thunk", "type", "value", "consarray"}
_ATTRIBUTES = {
    "path": {"steps"},
    "name": {"stages"},
    "variable": {"predicate", "stages"},
    "string": set(),
    "number": set(),
    "value": set(),
    "binary": {"lhs", "rhs"},
    "unary": {"expression", "expressions", "lhs_object"},
    "block": {"expressions", "predicate", "stages"},
    "condition": {"condition", "then", "_else"},
    "bind": {"lhs", "rhs"},
    "function": {"procedure", "arguments", "predicate", "stages"},
}
_STEPS = {"name", "variable", "block", "function"}


def parse(text: str) -> Node:
    """The tree of `text`; NotNativeError when it does not parse or strays outside."""
    try:
        tree = jsonata_python().Jsonata(text).ast
    except RecursionError:
        raise
    except Exception as error:  # jsonata-python raises its own exception types
        raise NotNativeError(f"does not parse: {error}") from None
    return _converted(tree)


def _converted(symbol: Any) -> Node:
    kind = symbol.type
    present = {
        key
        for key, value in vars(symbol).items()
        if key not in _BOOKKEEPING and value is not None and value is not False and value != []
    }
    if kind not in _ATTRIBUTES or not present <= _ATTRIBUTES[kind]:
        raise NotNativeError(f"{kind} {symbol.value!r} with {sorted(present)}")
    node = _node(kind, symbol)
    for stage in [*(getattr(symbol, "stages", None) or []), *(symbol.predicate or [])]:
        if stage.type != "filter":
            raise NotNativeError(f"a {stage.type} stage")
        node.filters.append(_converted(stage.expr))
    return node


def _literal_object(pairs: list[Any]) -> dict[str, Any]:
    """An object constructor of literal keys and values: the object it always makes."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key.type != "string" or value.type not in ("string", "number", "value"):
            raise NotNativeError("an object constructor of anything but literals")
        if key.value in found or key.stages or key.predicate or value.stages or value.predicate:
            raise NotNativeError("an object constructor JSONata refuses or filters")
        found[key.value] = value.value
    return found


def _node(kind: str, symbol: Any) -> Node:
    if kind in ("string", "number", "value"):
        return Node("literal", symbol.value)
    if kind in ("name", "variable"):
        return Node(kind, symbol.value)
    if kind == "path":
        for index, step in enumerate(symbol.steps):
            if step.type not in _STEPS or (step.type == "variable" and index > 0):
                raise NotNativeError(f"a {step.type} as a path step")
        return Node("path", children=[_converted(step) for step in symbol.steps])
    if kind == "binary":
        if symbol.value not in BINARY:
            raise NotNativeError(f"the operator {symbol.value!r}")
        return Node("binary", symbol.value, [_converted(symbol.lhs), _converted(symbol.rhs)])
    if kind == "unary":
        if symbol.value == "-":
            return Node("negate", children=[_converted(symbol.expression)])
        if symbol.value == "[":
            return Node("array", children=[_converted(item) for item in symbol.expressions])
        if symbol.value == "{":
            return Node("literal", _literal_object(symbol.lhs_object))
        raise NotNativeError(f"the constructor {symbol.value!r}")
    if kind == "block":
        return Node("block", children=[_converted(item) for item in symbol.expressions])
    if kind == "condition":
        parts = [symbol.condition, symbol.then, *([symbol._else] if symbol._else else [])]
        return Node("condition", children=[_converted(part) for part in parts])
    if kind == "bind":
        if symbol.lhs.type != "variable":
            raise NotNativeError("assigning to anything but a variable")
        return Node("assign", symbol.lhs.value, [_converted(symbol.rhs)])
    if symbol.procedure.type != "variable":
        raise NotNativeError("calling anything but a named function")
    return Node("call", symbol.procedure.value, [_converted(item) for item in symbol.arguments])
