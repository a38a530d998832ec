"""A webhook receiver on a real loopback socket, scripted to misbehave on cue.

Each request takes the next scripted answer (`Answer`), or 204 once the script is used up, and
is kept with its headers and body, so tests see exactly what went over the wire. `stop()` closes
the socket (connections are then refused) and `start()` listens again on the same port.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Answer:
    """What to answer one request: a status, maybe after a pause, with extra headers."""

    status: int = 204
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Received:
    """One request as it arrived, with the time it arrived at (`time.time()`, the wall clock)."""

    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


@dataclass
class Receiver:
    """The server and what it has seen; thread-safe."""

    port: int = 0
    script: deque[Answer] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, *answers: Answer) -> None:
        with self.lock:
            self.script.extend(answers)

    def _next(self, request: Received) -> Answer:
        with self.lock:
            self.received.append(request)
            return self.script.popleft() if self.script else Answer()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                got = Received({k.lower(): v for k, v in self.headers.items()}, body, time.time())
                answer = receiver._next(got)
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [item.event for item in self.received]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """At least `count` requests, or fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests arrived, expected {count}")


def verify(secret: str, request: Received) -> dict[str, Any]:
    """The event, verified by the `standardwebhooks` package (raises if it does not verify)."""
    found: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return found
