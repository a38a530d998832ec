"""Request ids, one structured log line per request, and the request-body size limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_exchange_server.errors import problem_response
from care_exchange_server.problems import ProblemError
from care_exchange_server.settings import Settings

log = logging.getLogger("care_exchange.requests")
REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; only the fields put in `extra` by this module, never headers.

    The process id tells apart the processes of `serve --workers N`, which share one stderr.
    """

    FIELDS = ("request_id", "method", "path", "status", "duration_ms", "client_id")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name in self.FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class _TooLargeError(Exception):
    pass


class RequestContext:
    """Pure ASGI middleware, so the body limit applies before anything reads the body."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        given = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > self.max_body_bytes:
                raise _TooLargeError
            await self.app(scope, self._limited(receive), send_with_id)
        except _TooLargeError:
            problem = ProblemError(
                "payload_too_large",
                f"Request bodies are limited to {self.max_body_bytes} bytes.",
            )
            await problem_response(problem, request_id)(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client_id": scope["state"].get("client_id"),
                },
            )

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _TooLargeError
            return message

        return limited


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the server's loggers; called once by the server entry points."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("care_exchange.requests", "care_exchange.api", "care_exchange.worker"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False


def install_middleware(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
