"""The process that evaluates untrusted expressions, under the limits its parent gives it.

Run as `python -m care_exchange_standard.returns.worker MEMORY_BYTES CPU_SECONDS`. It reads JSON
lines on standard input: `{"data": ...}` sets the input, and `{"expressions": [...], ...}`, with
a new `data` or over the last, asks for their values, answered with one line holding a list of
`{"value": ...}`, `{"undefined": true}` or `{"error": ...}`. `"again": true` asks the last
expressions again, and `"dataFollows": true` says the input is the next line, as bare JSON.
Whatever an expression does, only this process suffers: its address space (beyond what it
holds once started) and CPU time are capped here, and its parent kills it when an answer is
late.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Any

import jsonatapy
import orjson

from care_exchange_standard.jsonata_thread import Compiler

_COMPILER = Compiler()  # one template fills many returns: each expression compiled once


def _evaluate(message: dict[str, Any], expression: str, data: Any) -> Any:
    return _COMPILER.get(expression).evaluate_with_data(
        data,
        None,
        timeout=message["timeoutMs"],
        max_stack_depth=message["maxStackDepth"],
        max_sequence_length=message["maxSequenceLength"],
    )


def _answer(message: dict[str, Any], expression: str, data: Any) -> dict[str, Any]:
    try:
        value = _evaluate(message, expression, data)
    except MemoryError:
        return {"error": "ran out of memory"}
    except Exception as error:  # every failure of an expression is its own field's error
        return {"error": str(error) or type(error).__name__}
    return _given(value)


def _given(value: Any) -> dict[str, Any]:
    if value is None:
        return {"undefined": True}
    try:
        orjson.dumps(value)
    except TypeError:
        return {"error": "produced a function, not a value"}
    return {"value": value}


def _together(expressions: list[str]) -> str:
    """Every field in one object: a missing key is a field that gave nothing."""
    return "{" + ", ".join(f'"{index}": ({text})' for index, text in enumerate(expressions)) + "}"


def _answers(message: dict[str, Any], data: Any) -> list[dict[str, Any]]:
    """Every field's answer: in one call while all goes well, else each on its own.

    One call saves most of the cost of a call per field; a field that fails, or makes the call
    fail, is then asked alone, so its error is its own and the other fields still answer.
    """
    expressions: list[str] = message["expressions"]
    if len(expressions) > 1:
        try:
            found = _evaluate(message, _together(expressions), data)
        except Exception:
            found = None
        if isinstance(found, dict):
            return [_given(found.get(str(index))) for index in range(len(expressions))]
    return [_answer(message, text, data) for text in expressions]


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
    data: Any = jsonatapy.JsonataData(None)
    asked: dict[str, Any] | None = None
    lines = iter(sys.stdin.buffer)
    for line in lines:
        message = orjson.loads(line)
        if message.get("dataFollows"):  # the input's own line, parsed once, in Rust
            data = jsonatapy.JsonataData.from_json(next(lines).decode())
        elif "data" in message:
            data = jsonatapy.JsonataData(message["data"])  # converted once for every field
        if "expressions" in message:
            asked = message
        elif not message.get("again") or asked is None:
            continue
        answers = _answers(asked, data)
        sys.stdout.buffer.write(orjson.dumps(answers) + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
