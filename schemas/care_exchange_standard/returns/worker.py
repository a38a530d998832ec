"""The process that evaluates untrusted expressions, under the limits its parent gives it.

Run as `python -m care_exchange_standard.returns.worker MEMORY_BYTES CPU_SECONDS`. It reads JSON
lines on standard input: `{"data": ...}` sets the input, and `{"expressions": [...], ...}`, with
a new `data` or over the last, asks for their values, answered with one line holding
`{"values": [...], "errors": {"2": "..."}}`: each value in order (null where an expression
gave nothing or failed) and each failure by its place. `"again": true` asks the last
expressions again, and `"dataFollows": true` says the input is the next line, as bare JSON.
An expression in the part of JSONata `jsonata_native` runs is answered as Python; jsonatapy
answers the rest, and whatever the native evaluator declines.
Whatever an expression does, only this process suffers: its address space (beyond what it
holds once started) and CPU time are capped here, and its parent kills it when an answer is
late.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

import jsonatapy
import orjson

from care_exchange_standard.jsonata_native import (
    DeclinedError,
    JsonataError,
    Natives,
    natives,
    value_of,
)
from care_exchange_standard.jsonata_native.runtime import UNDEFINED, exported
from care_exchange_standard.jsonata_thread import Compiler

_COMPILER = Compiler()  # one template fills many returns: each expression compiled once
_NATIVE: dict[tuple[str, ...], Natives] = {}
_ASKED: set[tuple[str, ...]] = set()
_NO_BINDINGS: dict[str, Any] = {}
_MAX_NATIVE = 64
_MAX_ASKED = 4096


class _Input:
    """One input, read as Python for the native evaluator and for jsonatapy only when needed."""

    def __init__(self, *, text: bytes | None = None, value: Any = None) -> None:
        self._text = text
        self._value = value
        self._parsed = text is None
        self._jsonata: Any = None

    @property
    def value(self) -> Any:
        if not self._parsed:
            assert self._text is not None
            try:
                self._value = orjson.loads(self._text)
            except orjson.JSONDecodeError:  # an integer beyond 64 bits, say
                self._value = json.loads(self._text)
            self._parsed = True
        return self._value

    @property
    def jsonata(self) -> Any:
        if self._jsonata is None:
            if self._text is not None:  # parsed once, in Rust
                self._jsonata = jsonatapy.JsonataData.from_json(self._text.decode())
            else:
                self._jsonata = jsonatapy.JsonataData(self._value)
        return self._jsonata


def _natives(expressions: list[str]) -> Natives:
    """The native functions of one set of expressions, made once (they share paths' values).

    The first time a set is asked, jsonatapy answers it all: making Python of a template
    costs more than one return (jsonata-python's import and parser), so a lone return is not
    kept waiting, and the functions are made for the next return of the same template.
    """
    key = tuple(expressions)
    if key not in _ASKED:
        if len(_ASKED) >= _MAX_ASKED:
            _ASKED.clear()
        _ASKED.add(key)
        return Natives([None] * len(expressions), None)
    if key not in _NATIVE:
        if len(_NATIVE) >= _MAX_NATIVE:
            _NATIVE.clear()
            _ASKED.clear()
        _NATIVE[key] = natives(expressions)
    return _NATIVE[key]


def _evaluate(message: dict[str, Any], expression: str, data: _Input) -> Any:
    return _COMPILER.get(expression).evaluate_with_data(
        data.jsonata,
        None,
        timeout=message["timeoutMs"],
        max_stack_depth=message["maxStackDepth"],
        max_sequence_length=message["maxSequenceLength"],
    )


Answer = tuple[Any, str | None]  # a value (None when there is none), or an error


def _answer(message: dict[str, Any], expression: str, data: _Input) -> Answer:
    try:
        value = _evaluate(message, expression, data)
    except MemoryError:
        return None, "ran out of memory"
    except Exception as error:  # every failure of an expression is its own field's error
        return None, str(error) or type(error).__name__
    return _given(value)


def _given(value: Any) -> Answer:
    try:
        orjson.dumps(value)
    except TypeError:
        return None, "produced a function, not a value"
    return value, None


def _together(expressions: list[str]) -> str:
    """Every field in one object: a missing key is a field that gave nothing."""
    return "{" + ", ".join(f'"{index}": ({text})' for index, text in enumerate(expressions)) + "}"


def _by_jsonatapy(message: dict[str, Any], expressions: list[str], data: _Input) -> list[Answer]:
    """Answers by jsonatapy: in one call while all goes well, else each on its own.

    One call saves most of the cost of a call per field; a field that fails, or makes the call
    fail, is then asked alone, so its error is its own and the other fields still answer.
    """
    if len(expressions) > 1:
        try:
            found = _evaluate(message, _together(expressions), data)
        except Exception:
            found = None
        if isinstance(found, dict):
            return [_given(found.get(str(index))) for index in range(len(expressions))]
    return [_answer(message, text, data) for text in expressions]


def _answers(message: dict[str, Any], made: Natives, data: _Input) -> bytes:
    """Every field's answer, as the line to send: natively where it can be, else by jsonatapy.

    The line holds the values in order (null where there is none) and the errors by place.
    The fields run natively are asked in one call while none fails, else each on its own, so
    a failure is its field's alone. The native evaluator's expressions cannot loop or
    recurse; memory is capped by this process's limit, and time by the parent's clock.
    """
    values: list[Any] = []
    errors: dict[str, str] = {}
    left: list[int] = []
    together: list[Any] | None = None
    if made.together is not None:
        try:
            together = made.together(data.value, _NO_BINDINGS, {})
        except Exception:  # MemoryError too: each field on its own says which failed
            together = None
    if together is not None:
        together = [exported(v) if type(v) is tuple or v is UNDEFINED else v for v in together]
        if len(together) == len(made.each):  # every field, natively
            return orjson.dumps({"values": together, "errors": errors}) + b"\n"
    found = iter(together or ())
    memo: dict[str, Any] = {}
    for index, function in enumerate(made.each):
        value = None
        if function is None:
            left.append(index)
        elif together is not None:
            value = next(found)
        else:
            try:
                value = value_of(function, data.value, _NO_BINDINGS, memo)
            except JsonataError as error:
                errors[str(index)] = str(error)
            except DeclinedError:  # jsonatapy answers instead
                left.append(index)
            except MemoryError:
                errors[str(index)] = "ran out of memory"
        values.append(value)
    if left:
        expressions: list[str] = message["expressions"]
        answered = _by_jsonatapy(message, [expressions[index] for index in left], data)
        for index, (value, failure) in zip(left, answered, strict=True):
            values[index] = value
            if failure is not None:
                errors[str(index)] = failure
    return orjson.dumps({"values": values, "errors": errors}) + b"\n"


def _address_space() -> int:
    """What this process has mapped once started: jsonatapy alone reserves about 1 GB.

    The cap is that plus the expressions' allowance; a cap of the allowance alone left no room
    at all, and a 300 kB answer crashed the worker. Without /proc (not Linux) it is 0, and
    the allowance is the whole cap, where the system enforces one at all.
    """
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize()


def main() -> None:
    memory, cpu = int(sys.argv[1]), int(sys.argv[2])
    cap = _address_space() + memory
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    data = _Input(value=None)
    asked: dict[str, Any] | None = None
    functions = Natives([], None)
    lines = iter(sys.stdin.buffer)
    for line in lines:
        message = orjson.loads(line)
        if message.get("dataFollows"):  # the input's own line
            data = _Input(text=next(lines))
        elif "data" in message:
            data = _Input(value=message["data"])
        if "expressions" in message:
            asked = message
            functions = _natives(message["expressions"])
        elif not message.get("again") or asked is None:
            continue
        sys.stdout.buffer.write(_answers(asked, functions, data))
        if functions.together is None and any(function is None for function in functions.each):
            functions = _natives(asked["expressions"])  # made now, for the next return
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
