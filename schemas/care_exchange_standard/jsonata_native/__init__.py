"""JSONata evaluated as Python, for the part of the language the standard's own expressions use.

jsonatapy costs tens of microseconds a call (its data crosses into Rust and back) and its
compiled expressions are bound to one thread; the standard's 87 rules use a small part of
JSONata, which compiles to a Python function that answers in a few microseconds on any thread.
An expression outside that part, or a value the native helpers decline (see
`runtime.DeclinedError`), is evaluated by jsonatapy, so the answer is always JSONata's:
`tests/schemas/test_jsonata_native.py` compares the two on generated data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from care_exchange_standard import jsonata_thread
from care_exchange_standard.jsonata_native.compiling import (
    Native,
    compile_together,
    compile_tree,
    compile_verdict,
    paths_from_root,
)
from care_exchange_standard.jsonata_native.parsing import Node, NotNativeError, parse
from care_exchange_standard.jsonata_native.runtime import (
    UNDEFINED,
    DeclinedError,
    JsonataError,
    exported,
)

__all__ = [
    "STUMBLES",
    "DeclinedError",
    "Expression",
    "JsonataError",
    "Native",
    "Natives",
    "NotNativeError",
    "native",
    "natives",
    "value_of",
    "verdict_of",
]


_REFUSED = (NotNativeError, SyntaxError, RecursionError)


def native(expression: str) -> Native | None:
    """The Python function of an expression, or None when jsonatapy must evaluate it."""
    try:
        return compile_tree(parse(expression))
    except _REFUSED:
        return None


@dataclass(frozen=True)
class Natives:
    """Several expressions' functions, and one that gives all their values at once.

    `each` has None where jsonatapy must evaluate the expression; `together` gives the values
    of all the others, in a list (and is None when there are none).
    """

    each: list[Native | None]
    together: Native | None


def natives(expressions: Sequence[str]) -> Natives:
    """Each expression's function, as `native` gives it, made to share a memo, and all together.

    The paths from the root that two expressions or more take (`capacitySnapshot[-1]` in most
    fields of a return) are taken once for all of them, when each is called with the same
    `memo` dict over the same data.
    """
    trees: list[Node | None] = []
    taken: list[str] = []
    for expression in expressions:
        try:
            tree = parse(expression)
            taken += paths_from_root(tree)
        except _REFUSED:
            tree = None
        trees.append(tree)
    shared = _taken_twice(taken)
    found: list[Native | None] = []
    for tree in trees:
        try:
            found.append(None if tree is None else compile_tree(tree, shared))
        except _REFUSED:
            found.append(None)
    made = [
        tree
        for tree, function in zip(trees, found, strict=True)
        if tree is not None and function is not None
    ]
    try:
        together = compile_together(made, shared) if made else None
    except _REFUSED:
        together = None
    return Natives(found, together)


def _taken_twice(paths: Iterable[str]) -> frozenset[str]:
    """The paths (`paths_from_root`'s keys) taken more than once: worth keeping once made."""
    return frozenset(key for key, times in Counter(paths).items() if times > 1)


def verdict_of(parts: Sequence[tuple[str, str | None]]) -> Native | None:
    """One function saying whether no expression gives false (see `compiling.compile_verdict`).

    Each part is an expression and the field whose items it judges (None: the data itself).
    None when any expression is outside the native subset. Paths from the root that two of
    the expressions judging the data itself take are taken once.
    """
    try:
        trees = [(parse(expression), each) for expression, each in parts]
        taken = [path for tree, each in trees if each is None for path in paths_from_root(tree)]
        return compile_verdict(trees, _taken_twice(taken))
    except _REFUSED:
        return None


# What the native evaluator raises where it meets what it does not handle: jsonatapy judges.
# (JsonataError, a ValueError, is caught before these by every caller.)
STUMBLES = (
    DeclinedError,
    RecursionError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    ValueError,
    OverflowError,
    ZeroDivisionError,
)


def value_of(
    function: Native, data: Any, bindings: dict[str, Any], memo: dict[str, Any] | None = None
) -> Any:
    """A native function's value as jsonatapy gives it (None for undefined).

    JsonataError for JSONata's own errors; DeclinedError when jsonatapy must judge instead.
    """
    try:
        value = function(data, bindings, memo)
    except (JsonataError, DeclinedError):
        raise
    except STUMBLES as error:
        raise DeclinedError(f"the native evaluator stumbled: {error!r}") from error
    return exported(value) if type(value) is tuple or value is UNDEFINED else value


class Expression:
    """One expression: natively evaluated where it can be, by jsonatapy otherwise.

    Its Python function is made when first needed: a command that loads the standard's 87
    rules to judge one record type would otherwise spend a tenth of a second on the others.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def native(self) -> Native | None:
        return native(self.text)

    def evaluate(self, data: Any, bindings: dict[str, Any], *, timeout: int) -> Any:
        """Its value as jsonatapy gives it; ValueError for JSONata's own errors."""
        if self.native is not None:
            try:
                return value_of(self.native, data, bindings)
            except DeclinedError:
                pass
        return jsonata_thread.evaluate(self.text, data, bindings, timeout=timeout)
