"""A JSONata tree to one Python function, `f(data, bindings)`, built from its source once.

The source holds only names of `runtime` helpers, the expression's own literals (as `repr`
writes them) and generated local names: nothing of the expression's text is ever run as
code. Variables a block assigns become Python locals (`:=`), so blocks nest as JSONata's
frames do; assignments anywhere but at a block's top level are left to jsonatapy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from care_exchange_standard.jsonata_native import runtime
from care_exchange_standard.jsonata_native.parsing import Node, NotNativeError

_BINARY = {
    "=": "equal",
    "!=": "unequal",
    "<": "less",
    "<=": "at_most",
    ">": "more",
    ">=": "at_least",
    "+": "add",
    "-": "subtract",
    "*": "multiply",
    "/": "divide",
    "%": "remainder",
    "in": "includes",
}
# Operators Python answers as JSONata does for two values of one of these types.
_FAST = {operator: "(str, int)" for operator in ("=", "!=", "<", "<=", ">", ">=")}
_FAST.update({operator: "(int,)" for operator in ("+", "-", "*")})
_ROOT = "data"


class _Compiler:
    def __init__(self) -> None:
        self.counter = 0
        self.scopes: list[dict[str, str]] = []
        self.bindings: dict[str, str] = {}

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def node(self, node: Node, context: str) -> str:
        code: str = getattr(self, "_" + node.kind)(node, context)
        if node.filters and node.kind != "path":
            return f"normal(filtered({code}, {self.filters(node.filters, context)}))"
        return code

    def filters(self, filters: list[Node], context: str) -> str:
        parts = []
        for predicate in filters:
            if predicate.kind == "literal" and runtime.is_number(predicate.value):
                parts.append(f"lambda value: at_index(value, {predicate.value!r})")
            else:
                item = self.fresh("item")
                test = self.node(predicate, item)
                parts.append(f"lambda value: where(value, lambda {item}: {test})")
        return "(" + "".join(part + ", " for part in parts) + ")"

    def _literal(self, node: Node, context: str) -> str:
        return repr(node.value)

    def _variable(self, node: Node, context: str) -> str:
        name = node.value
        if name == "":
            return context
        if name == "$":
            return _ROOT
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in runtime.FUNCTIONS:
            raise NotNativeError(f"${name} used as a value")
        if name not in self.bindings:
            self.bindings[name] = self.fresh("bound")
        return self.bindings[name]

    def _path(self, node: Node, context: str) -> str:
        """Step by step: a field of an object is taken in line, anything else by a helper.

        Steps pass on their sequences as they are; only the path's value is normalised.
        """
        code = context
        for index, step in enumerate(node.children):
            last = index == len(node.children) - 1
            if step.kind == "name" and not step.filters:
                held = code if code.isidentifier() else self.fresh("held")
                taken = held if held == code else f"({held} := {code})"
                other = f"walk({held}, {step.value!r})"
                code = (
                    f"({held}.get({step.value!r}, U) if type({taken}) is dict "
                    f"else {f'normal({other})' if last else other})"
                )
                continue
            if index == 0 and step.kind == "variable":
                code = self.node(_bare(step), context)
                if step.filters:
                    code = f"filtered({code}, {self.filters(step.filters, context)})"
                continue
            item = self.fresh("item")
            if step.kind == "name":
                body = f"lookup({item}, {step.value!r})"
            else:
                body = self.node(_bare(step), item)
            filters = self.filters(step.filters, context) if step.filters else "()"
            code = f"step({code}, lambda {item}: {body}, {filters})"
            if last:
                code = f"normal({code})"
        return code

    def _block(self, node: Node, context: str) -> str:
        if not node.children:
            return "U"
        self.scopes.append({})
        try:
            codes = [self.statement(child, context) for child in node.children]
        finally:
            self.scopes.pop()
        if len(codes) == 1:
            return codes[0]
        return f"({', '.join(codes)})[-1]"

    def statement(self, node: Node, context: str) -> str:
        if node.kind != "assign" or node.filters:
            return self.node(node, context)
        value = self.node(node.children[0], context)
        local = self.fresh("local")
        self.scopes[-1][node.value] = local
        return f"({local} := {value})"

    def _assign(self, node: Node, context: str) -> str:
        raise NotNativeError("an assignment outside a block's top level")

    def _array(self, node: Node, context: str) -> str:
        items = [f"({self.node(item, context)}, {item.kind == 'array'})" for item in node.children]
        return f"array({', '.join(items)})"

    def _negate(self, node: Node, context: str) -> str:
        return f"negate({self.node(node.children[0], context)})"

    def _condition(self, node: Node, context: str) -> str:
        test, then, *otherwise = (self.node(child, context) for child in node.children)
        return f"({then} if {self.truth(test)} else {otherwise[0] if otherwise else 'U'})"

    def _call(self, node: Node, context: str) -> str:
        if node.value not in runtime.FUNCTIONS:
            raise NotNativeError(f"the function ${node.value}")
        if any(scope.get(node.value) for scope in self.scopes):
            raise NotNativeError(f"${node.value} assigned over")
        arguments = [self.node(child, context) for child in node.children]
        _, least, most = runtime.FUNCTIONS[node.value]
        if not least <= len(arguments) <= most:
            return f"wrong_arguments({node.value!r})"
        if len(arguments) == 1 and node.value in ("exists", "not", "count"):
            held = self.fresh("argument")
            return {
                "exists": f"({arguments[0]} is not U)",
                "not": f"(U if ({held} := {arguments[0]}) is U else not {self.truth(held)})",
                "count": (
                    f"(len({held}) if type({held} := {arguments[0]}) is list or "
                    f"type({held}) is tuple else 0 if {held} is U else 1)"
                ),
            }[node.value]
        return f"f_{node.value}({', '.join(arguments)})"

    def _binary(self, node: Node, context: str) -> str:
        left, right = (self.node(child, context) for child in node.children)
        operator = node.value
        if operator in ("and", "or"):
            return f"({self.truth(left)} {operator} {self.truth(right)})"
        if operator == "&":
            return self.concatenation(node, left, right)
        helper = _BINARY[operator]
        if operator not in _FAST:
            return f"{helper}({left}, {right})"
        first, second = self.fresh("left"), self.fresh("right")
        python = "==" if operator == "=" else operator
        return (
            f"({first} {python} {second} if type({first} := {left}) is type({second} := {right})"
            f" and type({first}) in {_FAST[operator]} else {helper}({first}, {second}))"
        )

    def concatenation(self, node: Node, left: str, right: str) -> str:
        """`&`: joined at once when both sides are text, as they nearly always are."""
        sides, tests = [], []
        for child, code in zip(node.children, (left, right), strict=True):
            if child.kind == "literal" and type(child.value) is str:
                sides.append(code)
            else:
                name = self.fresh("text")
                sides.append(name)
                tests.append(f"(type({name} := {code}) is str)")
        first, second = sides
        test = " & ".join(tests) or "True"  # `&`, not `and`: every side must be evaluated
        return f"({first} + {second} if {test} else concatenate({first}, {second}))"

    def truth(self, code: str) -> str:
        """JSONata's truth of a value, without a call when it is already true or false."""
        held = self.fresh("truth")
        return f"(({held} := {code}) is True or ({held} is not False and truthy({held})))"


def _bare(step: Node) -> Node:
    """A step without its filters, which the path applies itself."""
    return Node(step.kind, step.value, step.children)


Native = Callable[[Any, dict[str, Any]], Any]
# What generated code may call: the runtime's names, and JSONata's functions as `f_<name>`.
_HELPERS = {name: getattr(runtime, name) for name in dir(runtime) if not name.startswith("__")}
_HELPERS |= {f"f_{name}": function for name, (function, *_) in runtime.FUNCTIONS.items()}


def compile_tree(tree: Node) -> Native:
    """The Python function of a tree; it returns runtime values (see `runtime.exported`)."""
    compiler = _Compiler()
    body = compiler.node(tree, _ROOT)
    lines = ["def evaluate(data, bindings):"]
    for name, local in compiler.bindings.items():
        lines.append(f"    {local} = bindings.get({name!r}, U)")
    lines.append(f"    return {body}")
    namespace = dict(_HELPERS)
    exec(compile("\n".join(lines), "<jsonata>", "exec"), namespace)
    function: Native = namespace["evaluate"]
    return function
