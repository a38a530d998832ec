"""The suite's own webhook receiver, which webhook subscriptions made by the checks point at.

It listens on `receiver_listen` (by default a free port of 127.0.0.1) and is reached at
`receiver_url` when given (an implementation that cannot reach the suite's host directly, through
a tunnel or a published port), else at its listening address. Each subscription gets its own
path, `/hooks/<key>`, made before the subscription is created. Every delivery is recorded with
what its Standard Webhooks headers and CloudEvents body said and whether its signature verified
with the secrets the check gave for that path; a check waits for deliveries with a deadline. A
check can also have a path's next deliveries fail: answered 500 (with `Retry-After` if given),
answered 410, answered only after the implementation's timeout, or cut off without an answer.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

PATH_PREFIX = "/hooks/"
HEARTBEAT = "org.careexchange.heartbeat"
MAX_BODY_BYTES = 10 * 1024 * 1024


class Fault(StrEnum):
    """How an injected failure answers a delivery."""

    SERVER_ERROR = "500"
    GONE = "410"
    TIMEOUT = "timeout"
    DROP = "drop"


@dataclass(frozen=True)
class Injected:
    """A failure waiting for a delivery, and its details."""

    fault: Fault
    retry_after: str | None = None
    sleep_seconds: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got, and what it made of it."""

    key: str
    received_at: float
    webhook_id: str | None
    webhook_timestamp: str | None
    signature: str | None
    content_type: str | None
    body: bytes
    event: dict[str, Any] | None
    verified_with: tuple[str, ...]
    problem: str | None
    answered: Fault | None

    @property
    def verified(self) -> bool:
        return bool(self.verified_with) and self.problem is None

    @property
    def signatures(self) -> list[str]:
        return (self.signature or "").split()

    @property
    def sequence(self) -> int | None:
        found = (self.event or {}).get("sequence")
        return int(found) if isinstance(found, str) and found.isdigit() else None


@dataclass
class _Hook:
    secrets: tuple[str, ...] = ()
    faults: list[Injected] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)


class Receiver:
    """A webhook receiver in a thread of the suite; `close` stops it."""

    def __init__(self, listen: str = "127.0.0.1:0", public_url: str | None = None) -> None:
        host, _, port = listen.rpartition(":")
        self._hooks: dict[str, _Hook] = {}
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer((host or "127.0.0.1", int(port or 0)), _handler(self))
        self._server.daemon_threads = True
        bound_host, bound_port = self._server.server_address[:2]
        self.url = (public_url or f"http://{bound_host!s}:{bound_port}").rstrip("/")
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="conformance-receiver", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def new_hook(self) -> tuple[str, str]:
        """A new path's key and the URL a subscription should deliver to."""
        key = secrets.token_urlsafe(12)
        with self._changed:
            self._hooks[key] = _Hook()
        return key, f"{self.url}{PATH_PREFIX}{key}"

    def set_secrets(self, key: str, secrets_in_use: Sequence[str]) -> None:
        """The secrets a path's deliveries are verified with (each separately)."""
        with self._changed:
            self._hooks[key].secrets = tuple(secrets_in_use)

    def inject(self, key: str, fault: Fault, count: int = 1, **how: Any) -> None:
        """Answer the path's next `count` deliveries of events (not heartbeats) with `fault`."""
        with self._changed:
            self._hooks[key].faults += [Injected(fault, **how)] * count

    def deliveries(self, key: str) -> list[Delivery]:
        with self._changed:
            return list(self._hooks[key].deliveries)

    def wait_for(
        self, key: str, ready: Callable[[list[Delivery]], bool], timeout: float
    ) -> list[Delivery]:
        """The path's deliveries once `ready` holds for them, or as they are at the deadline."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ready(list(self._hooks[key].deliveries)):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self._hooks[key].deliveries)

    def _receive(
        self, key: str, headers: dict[str, str], body: bytes
    ) -> tuple[Injected | None, Delivery | None]:
        heartbeat = _is_heartbeat(body)
        with self._changed:
            hook = self._hooks.get(key)
            if hook is None:
                return None, None
            fault = hook.faults.pop(0) if hook.faults and not heartbeat else None
            known = hook.secrets
        delivery = _inspect(key, headers, body, known, fault.fault if fault else None)
        with self._changed:
            hook.deliveries.append(delivery)
            self._changed.notify_all()
        return fault, delivery


def _is_heartbeat(body: bytes) -> bool:
    """Injected faults are for events: a heartbeat arriving first must not take one."""
    try:
        event = json.loads(body)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get("type") == HEARTBEAT


def _inspect(
    key: str,
    headers: dict[str, str],
    body: bytes,
    known: Sequence[str],
    answered: Fault | None,
) -> Delivery:
    problems: list[str] = []
    verified: list[str] = []
    for secret in known:
        try:
            Webhook(secret).verify(body, headers)
        except WebhookVerificationError as error:
            problems.append(str(error))
        else:
            verified.append(secret)
    event: dict[str, Any] | None = None
    try:
        parsed = json.loads(body)
        event = parsed if isinstance(parsed, dict) else None
    except ValueError:
        problems.append("the body is not JSON")
    if event is None and not problems:
        problems.append("the body is not a JSON object")
    if not known:
        problems.append("no secret is known for this subscription")
    elif not verified:
        problems.insert(0, "no signature verifies with the subscription's secret")
    return Delivery(
        key=key,
        received_at=time.monotonic(),
        webhook_id=headers.get("webhook-id"),
        webhook_timestamp=headers.get("webhook-timestamp"),
        signature=headers.get("webhook-signature"),
        content_type=headers.get("content-type"),
        body=body,
        event=event,
        verified_with=tuple(verified),
        problem="; ".join(problems) if not verified or event is None else None,
        answered=answered,
    )


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the report says what the receiver saw."""

        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
            body = self.rfile.read(length)
            if not self.path.startswith(PATH_PREFIX):
                self._answer(404)
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            fault, delivery = receiver._receive(self.path.removeprefix(PATH_PREFIX), headers, body)
            if delivery is None:
                self._answer(404)
            elif fault is None:
                self._answer(204)
            elif fault.fault is Fault.SERVER_ERROR:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._answer(500, extra)
            elif fault.fault is Fault.GONE:
                self._answer(410)
            elif fault.fault is Fault.TIMEOUT:
                time.sleep(fault.sleep_seconds)
                self._answer(204)
            else:
                self.close_connection = True
                self.connection.close()

        def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
