"""A small real HTTP server that answers from a script, for the SDK's retry tests.

It speaks just enough of the API for a client to get a token (the RFC 8414 metadata and the
token endpoint) and answers every other request with the next scripted answer for its path,
recording what it received, on a real loopback socket.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def problem(status: int, code: str) -> dict[str, Any]:
    return {
        "type": f"https://care-exchange.org/problems/{code}",
        "title": code,
        "status": status,
        "detail": f"scripted {code}",
        "code": code,
        "requestId": "scripted",
    }


class Script:
    def __init__(self) -> None:
        self.answers: dict[str, list[Answer]] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.base_url = ""

    def on(self, path: str, *answers: Answer) -> None:
        self.answers[path] = list(answers)

    def calls(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path.split("?")[0] == path]

    def next_answer(self, path: str) -> Answer:
        with self.lock:
            if path == "/.well-known/oauth-authorization-server":
                return Answer(200, {"token_endpoint": f"{self.base_url}/oauth/token"})
            if path == "/oauth/token" and path not in self.answers:
                token = {"access_token": "t", "token_type": "Bearer", "expires_in": 900}
                return Answer(200, {**token, "scope": "x"})
            queue = self.answers.get(path)
            if not queue:
                return Answer(404, problem(404, "not_found"))
            return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            with script.lock:
                script.received.append(
                    Received(self.command, self.path, dict(self.headers.items()), body)
                )
            answer = script.next_answer(path)
            content = b"" if answer.body is None else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            kind = "application/problem+json" if answer.status >= 400 else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def scripted_server() -> Iterator[Script]:
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    script.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
