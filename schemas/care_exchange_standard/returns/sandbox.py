"""Evaluate untrusted expressions in a separate process with memory, CPU and time limits.

An expression that loops, allocates without bound or backtracks for ever must fail only its
own field and leave the server healthy. JSONata's own guards (a timeout, a stack depth, a
sequence length) stop most of them inside the evaluator; the worker process's address-space and
CPU limits and a wall clock here stop the rest, by killing the worker and starting another.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson


@dataclass(frozen=True)
class Limits:
    """What one expression may use; the defaults suit returns over a year of one service.

    `memory_bytes` is what the expressions may allocate beyond the worker's own start-up.
    """

    seconds_per_field: float = 2.0
    memory_bytes: int = 1024 * 1024 * 1024
    cpu_seconds: int = 60
    max_stack_depth: int = 200
    max_sequence_length: int = 1_000_000


@dataclass(frozen=True)
class Outcome:
    """A value (None when the expression gave nothing), or the reason it failed."""

    value: Any = None
    error: str | None = None


class Sandbox:
    """One worker process, started when first needed and replaced after a fatal expression."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._process: subprocess.Popen[bytes] | None = None
        self._data: bytes = orjson.dumps({"data": None}) + b"\n"
        self._fresh = True
        self._buffer = b""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None
            self._buffer = b""

    def load(self, data: Any) -> None:
        """Set the input every following expression reads; it travels with the next question."""
        self._data = orjson.dumps({"data": data}) + b"\n"
        self._fresh = True

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "care_exchange_standard.returns.worker",
                    str(self.limits.memory_bytes),
                    str(self.limits.cpu_seconds),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._fresh = True
        return self._process

    def _send(self, line: bytes) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        process.stdin.write(line)
        process.stdin.flush()

    def _reply(self, deadline: float) -> bytes | None:
        """One line from the worker, or None when it is late or has died."""
        process = self._process
        assert process is not None and process.stdout is not None
        with selectors.DefaultSelector() as waiting:
            waiting.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not waiting.select(left):
                    return None
                chunk = os.read(process.stdout.fileno(), 1 << 16)
                if not chunk:
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def evaluate_all(self, expressions: Sequence[str]) -> list[Outcome]:
        """Each expression's value over the loaded input, in one round trip while all goes well.

        When the worker dies or is late, nobody knows which expression did it: each is then
        asked alone, so only the culprit fails.
        """
        if not expressions:
            return []
        together = self._ask(expressions)
        if isinstance(together, list):
            return together
        found: list[Outcome] = []
        for expression in expressions:
            alone = self._ask([expression])
            found += alone if isinstance(alone, list) else [alone]
        return found

    def _ask(self, expressions: Sequence[str]) -> list[Outcome] | Outcome:
        """The answers, or the one failure that stopped the worker before it gave them."""
        limits = self.limits
        started = time.monotonic()
        try:
            self._start()
            question = orjson.dumps(
                {
                    "expressions": list(expressions),
                    "timeoutMs": int(limits.seconds_per_field * 1000),
                    "maxStackDepth": limits.max_stack_depth,
                    "maxSequenceLength": limits.max_sequence_length,
                }
            )
            if self._fresh:  # the input goes in the same line: one write, one read
                question = self._data[:-2] + b"," + question[1:]
                self._fresh = False
            self._send(question + b"\n")
        except OSError:
            self.close()
            return Outcome(error="the evaluator stopped before it could start this field")
        allowed = limits.seconds_per_field * len(expressions) + 1.0
        line = self._reply(started + allowed)
        if line is None:
            late = time.monotonic() - started >= allowed
            self.close()
            megabytes = limits.memory_bytes // (1024 * 1024)
            said = (
                f"took longer than {limits.seconds_per_field:g} s"
                if late
                else f"stopped the evaluator (over {megabytes} MB of memory, or CPU)"
            )
            return Outcome(error=said)
        return [
            Outcome(error=str(answer["error"]))
            if "error" in answer
            else Outcome(value=answer.get("value"))
            for answer in orjson.loads(line)
        ]
