"""Where JSONata runs in this process: on the main thread, or on one thread of its own.

jsonatapy's expressions belong to the thread that compiled them: used, or even freed, on
another they fail, and compiling on a freshly started thread has crashed a server process. So
the main thread (a command, a validator's worker process) compiles and evaluates for itself,
and every other thread (a server's pool) hands the work to one long-lived JSONata thread, which
keeps its own compiled expressions and frees them itself when the process ends.
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_MAX_COMPILED = 4096


class Compiler:
    """Compiled expressions of one thread, by their text (each compiled once, a bounded few)."""

    def __init__(self) -> None:
        self.compiled: dict[str, Any] = {}

    def get(self, expression: str) -> Any:
        found = self.compiled.get(expression)
        if found is None:
            import jsonatapy

            if len(self.compiled) >= _MAX_COMPILED:
                self.compiled.clear()
            found = self.compiled[expression] = jsonatapy.compile(expression)
        return found


class _Thread:
    """The one thread that runs JSONata for every thread but the main one."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[tuple[Callable[[Compiler], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="jsonata", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def _run(self) -> None:
        compiler = Compiler()
        while (item := self._work.get()) is not None:
            job, done = item
            try:
                done.set_result(job(compiler))
            except BaseException as error:  # handed back to the waiting thread
                done.set_exception(error)
        compiler.compiled.clear()  # freed here, on the thread that made them

    def call(self, job: Callable[[Compiler], T]) -> T:
        done: Future[T] = Future()
        self._work.put((job, done))
        return done.result()

    def stop(self) -> None:
        self._work.put(None)
        self._thread.join(timeout=5)


_main = Compiler()
_other: _Thread | None = None
_starting = threading.Lock()


def _run(job: Callable[[Compiler], T]) -> T:
    global _other
    if threading.current_thread() is threading.main_thread():
        return job(_main)
    if _other is None:
        with _starting:
            if _other is None:
                _other = _Thread()
    return _other.call(job)


def check(expression: str) -> None:
    """Compile it, to know it parses; ValueError says why not."""
    _run(lambda compiler: compiler.get(expression))


def evaluate(
    expression: str, data: Any, bindings: Mapping[str, Any] | None = None, *, timeout: int
) -> Any:
    """Its value over `data`; ValueError for an evaluation error or an exceeded guard."""
    given = dict(bindings) if bindings is not None else None
    return _run(lambda compiler: compiler.get(expression).evaluate(data, given, timeout=timeout))
