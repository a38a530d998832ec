"""Evaluate untrusted expressions in a separate process with memory, CPU and time limits.

An expression that loops, allocates without bound or backtracks for ever must fail only its
own field and leave the server healthy. JSONata's own guards (a timeout, a stack depth, a
sequence length) stop most of them inside the evaluator; the worker process's address-space and
CPU limits and a wall clock here stop the rest, by killing the worker and starting another.
"""

from __future__ import annotations

import itertools
import os
import selectors
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple

import orjson

# Inputs sent before their answers are read, at most, and a batch sent in one write when no
# more than _REFILL are left (the first input alone, when the worker has none): each write
# that finds the worker idle costs a wake-up, and a wake-up per return cost more than filling
# the return did.
_AHEAD = 16
_REFILL = 8
_AGAIN = orjson.dumps({"again": True, "dataFollows": True})
_END = object()


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

    def allowed(self, fields: int) -> float:
        """Seconds for one answer: each field's limit, and one more for the first try at all.

        The worker first asks every field in one call, then each alone if that call fails.
        """
        return self.seconds_per_field * (fields + 1) + 1.0


@dataclass(frozen=True)
class Outcome:
    """A value (None when the expression gave nothing), or the reason it failed."""

    value: Any = None
    error: str | None = None


class Answers(NamedTuple):
    """One input's answers, as the worker gives them: every value, and the errors by place.

    A value is None where its expression gave nothing or failed. Kept as two plain
    collections in a tuple, not an object per field: a server fills many returns of dozens
    of fields.
    """

    values: list[Any]
    errors: dict[int, str]

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> Answers:
        errors = {index: o.error for index, o in enumerate(outcomes) if o.error is not None}
        return cls([outcome.value for outcome in outcomes], errors)

    def outcomes(self) -> list[Outcome]:
        return [Outcome(value, self.errors.get(index)) for index, value in enumerate(self.values)]


class Sandbox:
    """One worker process, started when first needed and replaced after a fatal expression."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._process: subprocess.Popen[bytes] | None = None
        self._data: bytes = orjson.dumps({"data": None}) + b"\n"
        self._fresh = True
        self._buffer = b""
        self.started = 0  # worker processes so far: more than one means one was replaced

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
            self._stopper.detach()
            _stop(self._process)
            self._process = None
            self._buffer = b""

    @property
    def pid(self) -> int | None:
        """The worker's process id, while one runs."""
        return self._process.pid if self._process is not None else None

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
            self.started += 1
            # a sandbox dropped unclosed, or still open at exit, leaves no worker behind
            self._stopper = weakref.finalize(self, _stop, self._process)
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
        if isinstance(together, Answers):
            return together.outcomes()
        return self._one_by_one(expressions)

    def _one_by_one(self, expressions: Sequence[str]) -> list[Outcome]:
        found: list[Outcome] = []
        for expression in expressions:
            alone = self._ask([expression])
            found += alone.outcomes() if isinstance(alone, Answers) else [alone]
        return found

    def evaluate_each(self, inputs: Iterable[Any], expressions: Sequence[str]) -> Iterator[Answers]:
        """Each input's answers to the same expressions, in order, as they come.

        The next inputs are sent while the worker judges one, so many returns wait for one
        round trip, not one each, and the caller prepares the next input (`inputs` is read
        lazily) and files each answer while the worker works. When the worker dies or is late,
        the input it was on has each expression asked alone (as `evaluate_all` does, so only
        the culprit fails) and the inputs after it start over.
        """
        source: Iterator[Any] = iter(inputs)
        if not expressions:
            yield from (Answers([], {}) for _ in source)
            return
        while True:
            unanswered: deque[Any] = deque()
            if (yield from self._pipelined(source, unanswered, expressions)):
                break
            self.close()
            culprit = unanswered.popleft() if unanswered else next(source, _END)
            if culprit is _END:
                break
            self.load(culprit)
            yield Answers.of(self._one_by_one(expressions))
            source = itertools.chain(unanswered, source)
        self._fresh = True

    def _pipelined(
        self, source: Iterator[Any], unanswered: deque[Any], expressions: Sequence[str]
    ) -> Generator[Answers, None, bool]:
        """Answers while the worker gives them; True when `source` is used up and all answered.

        On False, `unanswered` holds the inputs sent and not answered, in order. Writes never
        block: a worker blocked writing a long answer is read from while a question waits.
        """
        try:
            process = self._start()
        except OSError:
            return False
        assert process.stdin is not None and process.stdout is not None
        writing, reading = process.stdin.fileno(), process.stdout.fileno()
        header = orjson.dumps({**self._limits_message(expressions), "dataFollows": True})
        allowed = self.limits.allowed(len(expressions))
        outgoing, used_up = b"", False
        os.set_blocking(writing, False)
        try:
            with selectors.DefaultSelector() as ready:
                ready.register(reading, selectors.EVENT_READ)
                deadline = time.monotonic() + allowed
                while True:
                    if not outgoing and not used_up and len(unanswered) <= _REFILL:
                        batch: list[bytes] = []
                        while len(unanswered) < _AHEAD:
                            item = next(source, _END)
                            used_up = item is _END
                            if used_up:
                                break
                            unanswered.append(item)
                            batch += (header, b"\n", orjson.dumps(item), b"\n")
                            header = _AGAIN
                            if len(unanswered) == 1:  # the worker is idle: this one goes now
                                break
                        outgoing = self._write(writing, b"".join(batch), ready)
                        if len(unanswered) == 1 and not used_up:
                            continue  # and the rest of the batch is made while it works
                    if used_up and not unanswered:
                        return True
                    left = deadline - time.monotonic()
                    events = ready.select(left) if left > 0 else []
                    if not events:
                        return False
                    for key, _ in events:
                        if key.fd == writing:
                            outgoing = self._write(writing, outgoing, ready)
                            continue
                        chunk = os.read(reading, 1 << 16)
                        if not chunk:
                            return False
                        self._buffer += chunk
                        while b"\n" in self._buffer and unanswered:
                            line, _, self._buffer = self._buffer.partition(b"\n")
                            unanswered.popleft()
                            deadline = time.monotonic() + allowed
                            yield _answers(line)
        except OSError:
            return False
        except BaseException:
            self.close()  # questions are out: the worker's next answers would be misread
            raise
        finally:
            if self._process is not None:
                os.set_blocking(writing, True)

    @staticmethod
    def _write(writing: int, outgoing: bytes, ready: selectors.BaseSelector) -> bytes:
        """As much as the pipe takes now; what is left waits for the selector to say so."""
        try:
            rest = outgoing[os.write(writing, outgoing) :]
        except BlockingIOError:
            rest = outgoing
        registered = writing in ready.get_map()
        if rest and not registered:
            ready.register(writing, selectors.EVENT_WRITE)
        elif not rest and registered:
            ready.unregister(writing)
        return rest

    def _limits_message(self, expressions: Sequence[str]) -> dict[str, Any]:
        limits = self.limits
        return {
            "expressions": list(expressions),
            "timeoutMs": int(limits.seconds_per_field * 1000),
            "maxStackDepth": limits.max_stack_depth,
            "maxSequenceLength": limits.max_sequence_length,
        }

    def _ask(self, expressions: Sequence[str]) -> Answers | Outcome:
        """The answers, or the one failure that stopped the worker before it gave them."""
        limits = self.limits
        started = time.monotonic()
        try:
            self._start()
            question = orjson.dumps(self._limits_message(expressions))
            if self._fresh:  # the input goes in the same line: one write, one read
                question = self._data[:-2] + b"," + question[1:]
                self._fresh = False
            self._send(question + b"\n")
        except OSError:
            self.close()
            return Outcome(error="the evaluator stopped before it could start this field")
        allowed = limits.allowed(len(expressions))
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
        return _answers(line)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def _answers(line: bytes) -> Answers:
    found = orjson.loads(line)
    return Answers(found["values"], {int(index): str(e) for index, e in found["errors"].items()})


class SandboxPool:
    """Warm workers for a server: each request borrows one and gives it back to the next.

    Starting a worker costs about a quarter of a second (Python, then jsonatapy's import), which
    a server filling one return per request would otherwise pay on every request. At most `size`
    workers exist; a request beyond them waits for one to come back. A worker that has served
    `uses` returns is retired, so what it keeps (compiled expressions) stays bounded; one killed
    by a fatal expression is replaced by its sandbox, as always.
    """

    def __init__(self, limits: Limits | None = None, size: int = 2, uses: int = 1000) -> None:
        self.limits = limits or Limits()
        self.uses = uses
        self._free: list[tuple[Sandbox, int]] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def borrow(self) -> Iterator[Sandbox]:
        """A sandbox for this thread alone until the block ends."""
        with self._slots:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the sandbox pool is closed")
                sandbox, served = self._free.pop() if self._free else (Sandbox(self.limits), 0)
            try:
                yield sandbox
            finally:
                with self._lock:
                    if self._closed or served + 1 >= self.uses:
                        sandbox.close()
                    else:
                        self._free.append((sandbox, served + 1))

    @property
    def idle(self) -> list[Sandbox]:
        """The sandboxes waiting to be borrowed, the most recently used last."""
        with self._lock:
            return [sandbox for sandbox, _ in self._free]

    def close(self) -> None:
        """Stop the idle workers now, and each borrowed one when it comes back."""
        with self._lock:
            self._closed = True
            free, self._free = self._free, []
        for sandbox, _ in free:
            sandbox.close()
