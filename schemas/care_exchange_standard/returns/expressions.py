"""Checks of an untrusted JSONata expression before it is saved: what it may call and read.

Templates come from other organisations. An expression is refused when it is too long, does
not parse, calls a function that breaks the sandbox or reproducibility (`$eval`, `$now`,
`$millis`, `$random`), or names a field the standard does not define (a typo would otherwise
fill a return with nothing, silently). The fields it reads are found here, so a template must
declare them in `dependsOn` and coverage can tell a true zero from a missing record.

The syntax tree comes from `jsonata-python`'s parser; evaluation uses `jsonatapy` (faster, with
a linear-time regular expression engine), which must compile the expression too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from care_exchange_standard.fields import ITEMS, Field, FieldPath
from care_exchange_standard.jsonata_native.parsing import jsonata_python

MAX_EXPRESSION_CHARS = 4000
FORBIDDEN = {
    "eval": "evaluates text as an expression, so nothing it does can be checked",
    "now": "gives a different answer on each run; a return must be reproducible",
    "millis": "gives a different answer on each run; a return must be reproducible",
    "random": "gives a different answer on each run; a return must be reproducible",
}
PERIOD_KEYS = frozenset({"kind", "designator", "start", "end", "asAt"})
_CHILDREN = (
    "steps",
    "stages",
    "predicate",
    "arguments",
    "lhs",
    "rhs",
    "expression",
    "expressions",
    "procedure",
    "body",
    "condition",
    "then",
    "_else",
    "terms",
    "lhs_object",
    "rhs_object",
    "update",
    "delete",
    "expr",
)


@dataclass(frozen=True)
class Root:
    """A key of the expression input and the fields below it (none for `period`)."""

    name: str
    fields: Mapping[FieldPath, Field] | None


@dataclass
class Reading:
    """What an expression reads and what is wrong with it.

    `fields` are the paths it reads to the end (`capacity-snapshot/beds/occupied`, not the
    `beds` it passes through); `roots` the input keys it starts from.
    """

    fields: set[str] = field(default_factory=set)
    roots: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _nodes(value: Any) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _nodes(item)
    elif hasattr(value, "type"):
        yield value


def _step(fields: Mapping[FieldPath, Field], prefix: FieldPath, name: str) -> FieldPath | None:
    """The field `name` below `prefix`, stepping into array items as JSONata does."""
    found = (*prefix, name)
    if found not in fields:
        return None
    return (*found, ITEMS) if (*found, ITEMS) in fields else found


class _Walk:
    def __init__(self, roots: Mapping[str, Root]) -> None:
        self.roots = roots
        self.known_names = {"kind", "designator", "start", "end", "asAt", *roots}
        for root in roots.values():
            for path in root.fields or {}:
                self.known_names.update(part for part in path if part != ITEMS)
        self.reading = Reading()

    def visit(self, node: Any, context: tuple[Root, FieldPath] | None) -> None:
        kind = node.type
        if kind == "variable" and node.value in FORBIDDEN:
            self.reading.problems.append(f"${node.value} is not allowed: {FORBIDDEN[node.value]}")
        if kind == "path":
            self.path(list(_nodes(node.steps)), context)
            self.children(node, context, skip={"steps"})
        elif kind == "name":
            self.name(node, context)
        else:
            self.children(node, context)

    def children(
        self,
        node: Any,
        context: tuple[Root, FieldPath] | None,
        skip: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        for attribute in _CHILDREN:
            if attribute in skip:
                continue
            value = getattr(node, attribute, None)
            if value is None or value is node:
                continue
            for child in _nodes(value):
                self.visit(child, context)
        group = getattr(node, "group", None)
        if group is not None:
            for child in _nodes(getattr(group, "lhs_object", None)):
                self.visit(child, None)

    def name(
        self, node: Any, context: tuple[Root, FieldPath] | None
    ) -> tuple[Root, FieldPath] | None:
        """Resolve one name; returns the context below it, or None when it cannot be followed."""
        name = str(node.value)
        below: tuple[Root, FieldPath] | None = None
        if context is None:
            if name not in self.known_names:
                self.reading.problems.append(f"`{name}` is not a field of the standard")
        else:
            root, prefix = context
            if root.fields is None:
                if name not in PERIOD_KEYS:
                    self.reading.problems.append(f"`{name}` is not a member of period")
            elif (path := _step(root.fields, prefix, name)) is None:
                where = ".".join(p for p in prefix if p != ITEMS) or root.name
                self.reading.problems.append(f"`{name}` is not a field of {where}")
            else:
                below = (root, path)
        for attribute in ("stages", "predicate", "expr"):
            for child in _nodes(getattr(node, attribute, None)):
                self.visit(child, below)
        return below

    def path(self, steps: list[Any], context: tuple[Root, FieldPath] | None) -> None:
        current = context
        at_root = context is None
        for step in steps:
            if at_root and step.type == "name" and step.value in self.roots:
                root = self.roots[step.value]
                self.reading.roots.add(root.name)
                current = (root, ())
                for child in _nodes(getattr(step, "stages", None)):
                    self.visit(child, current)
            elif step.type == "name":
                current = self.name(step, current)
            elif step.type == "variable" and step.value in ("", "$"):
                self.children(step, current)
                current = None if step.value == "$" else current
                at_root = step.value == "$" or at_root
                continue
            else:
                self.visit(step, current)
                current = None
            at_root = False
        if current is not None and current[1] and steps and steps[-1].type == "name":
            root, path = current
            dotted = "/".join(part for part in path if part != ITEMS)
            self.reading.fields.add(f"{root.name}/{dotted}")


def read(expression: str, roots: Mapping[str, Root]) -> Reading:
    """What `expression` reads and what is wrong with it, without evaluating it.

    `roots` maps the input's keys (`capacitySnapshot`, `service`, `period`) to their fields;
    names met where the walk cannot follow the data (inside a function's body, after a
    variable) are only checked to be a field somewhere in the roots.
    """
    from care_exchange_standard import jsonata_thread

    if len(expression) > MAX_EXPRESSION_CHARS:
        return Reading(problems=[f"longer than {MAX_EXPRESSION_CHARS} characters"])
    try:
        tree = jsonata_python().Jsonata(expression).ast
        jsonata_thread.check(expression)
    except Exception as error:  # both parsers raise their own exception types
        return Reading(problems=[f"does not parse: {error}"])
    walk = _Walk(roots)
    for node in _nodes(tree):
        walk.visit(node, None)
    return walk.reading
