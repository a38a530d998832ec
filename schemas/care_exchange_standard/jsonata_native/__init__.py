"""JSONata evaluated as Python, for the part of the language the standard's own expressions use.

jsonatapy costs tens of microseconds a call (its data crosses into Rust and back) and its
compiled expressions are bound to one thread; the standard's 87 rules use a small part of
JSONata, which compiles to a Python function that answers in a few microseconds on any thread.
An expression outside that part, or a value the native helpers decline (see
`runtime.DeclinedError`), is evaluated by jsonatapy, so the answer is always JSONata's:
`tests/schemas/test_jsonata_native.py` compares the two on generated data.
"""

from __future__ import annotations

from typing import Any

from care_exchange_standard import jsonata_thread
from care_exchange_standard.jsonata_native.compiling import Native, compile_tree
from care_exchange_standard.jsonata_native.parsing import NotNativeError, parse
from care_exchange_standard.jsonata_native.runtime import (
    UNDEFINED,
    DeclinedError,
    JsonataError,
    exported,
)

__all__ = ["Expression", "NotNativeError", "native"]


def native(expression: str) -> Native | None:
    """The Python function of an expression, or None when jsonatapy must evaluate it."""
    try:
        return compile_tree(parse(expression))
    except (NotNativeError, SyntaxError, RecursionError):
        return None


class Expression:
    """One expression: natively evaluated where it can be, by jsonatapy otherwise."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.native = native(text)

    def evaluate(self, data: Any, bindings: dict[str, Any], *, timeout: int) -> Any:
        """Its value as jsonatapy gives it; ValueError for JSONata's own errors."""
        if self.native is not None:
            try:
                value = self.native(data, bindings)
                return exported(value) if type(value) is tuple or value is UNDEFINED else value
            except JsonataError:
                raise
            except (DeclinedError, RecursionError, TypeError, AttributeError, KeyError, IndexError):
                pass
        return jsonata_thread.evaluate(self.text, data, bindings, timeout=timeout)
