"""The process that evaluates untrusted expressions, under the limits its parent gives it.

Run as `python -m care_exchange_standard.returns.worker MEMORY_BYTES CPU_SECONDS`. It reads JSON
lines on standard input (`{"data": ...}` sets the input; `{"expression": ..., ...}` asks for
a value) and answers each expression with one line: `{"value": ...}`, `{"undefined": true}` or
`{"error": ...}`. Whatever an expression does, only this process suffers: its address space and
CPU time are capped here, and its parent kills it when an answer is late.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

import jsonatapy
import orjson


def _answer(message: dict[str, Any], data: Any) -> dict[str, Any]:
    try:
        value = jsonatapy.compile(message["expression"]).evaluate(
            data,
            timeout=message["timeoutMs"],
            max_stack_depth=message["maxStackDepth"],
            max_sequence_length=message["maxSequenceLength"],
        )
    except MemoryError:
        return {"error": "ran out of memory"}
    except Exception as error:  # every failure of an expression is its own field's error
        return {"error": str(error) or type(error).__name__}
    if value is None:
        return {"undefined": True}
    try:
        orjson.dumps(value)
    except TypeError:
        return {"error": "produced a function, not a value"}
    return {"value": value}


def main() -> None:
    memory, cpu = int(sys.argv[1]), int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    data: Any = None
    for line in sys.stdin.buffer:
        message = orjson.loads(line)
        if "data" in message:
            data = message["data"]
            continue
        sys.stdout.buffer.write(orjson.dumps(_answer(message, data)) + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
