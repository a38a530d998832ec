"""`conformance receiver`: a conformant webhook endpoint passes, and each mistake fails its check.

The endpoints are served here on a real socket; each verifies deliveries its own way.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from typer.testing import CliRunner

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.command import app
from care_exchange_conformance.registry import Target, select
from care_exchange_conformance.runner import Report, Status, run_receiver
from care_exchange_conformance.sender import example_event
from care_exchange_standard.spec import load_spec

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RECEIVING = select(all_checks(), target=Target.WEBHOOK_RECEIVER)
REFUSALS = ["CX-RECV-004", "CX-RECV-005", "CX-RECV-006", "CX-RECV-007"]
# How an endpoint answers a delivery: (webhook-id, headers, body, ids seen before) -> status.
Answer = Callable[[str, dict[str, str], bytes, set[str]], int]


def verified(webhook_id: str, headers: dict[str, str], body: bytes, seen: set[str]) -> int:
    """What the spec asks: the standardwebhooks package's verification, then 204."""
    try:
        Webhook(SECRET).verify(body, headers)
    except WebhookVerificationError:
        return 401
    return 204


def trusting(webhook_id: str, headers: dict[str, str], body: bytes, seen: set[str]) -> int:
    return 204


def _signed_by_us(headers: dict[str, str], body: bytes, first_only: bool = False) -> bool:
    moment = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    expected = Webhook(SECRET).sign(headers["webhook-id"], moment, body.decode())
    given = headers.get("webhook-signature", "").split()
    return expected in (given[:1] if first_only else given)


def timeless(webhook_id: str, headers: dict[str, str], body: bytes, seen: set[str]) -> int:
    """Checks the signature but never the timestamp: a replayed capture is accepted."""
    return 204 if _signed_by_us(headers, body) else 401


def first_signature_only(
    webhook_id: str, headers: dict[str, str], body: bytes, seen: set[str]
) -> int:
    """Reads only the first signature of the header, so a rotation breaks it."""
    if not _signed_by_us(headers, body, first_only=True):
        return 401
    return verified(webhook_id, headers, body, seen)


def no_repeats(webhook_id: str, headers: dict[str, str], body: bytes, seen: set[str]) -> int:
    """Refuses an id it has seen, where it should acknowledge the retry and do nothing."""
    return 409 if webhook_id in seen else verified(webhook_id, headers, body, seen)


def crashing(webhook_id: str, headers: dict[str, str], body: bytes, seen: set[str]) -> int:
    """Lets the verification error escape: a 500, which a server retries."""
    return 500 if verified(webhook_id, headers, body, seen) != 204 else 204


@pytest.fixture(name="endpoint")
def endpoint_fixture() -> Iterator[Callable[[Answer], str]]:
    servers: list[ThreadingHTTPServer] = []

    def serve(answer: Answer) -> str:
        seen: set[str] = set()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                webhook_id = headers.get("webhook-id", "")
                status = answer(webhook_id, headers, body, set(seen))
                if 200 <= status < 300:
                    seen.add(webhook_id)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/hooks/care-exchange"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _not_passed(report: Report) -> dict[str, Status]:
    return {r.check.id: r.status for r in report.results if r.status is not Status.PASSED}


def test_a_conformant_endpoint_passes_every_check(endpoint: Callable[[Answer], str]) -> None:
    report = run_receiver(endpoint(verified), SECRET, RECEIVING, seed=3)
    assert [(r.check.id, r.status, r.failures) for r in report.results] == [
        (found.id, Status.PASSED, ()) for found in RECEIVING
    ]
    assert report.conforms and len(RECEIVING) == 8


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (trusting, REFUSALS),
        (timeless, ["CX-RECV-006"]),
        (first_signature_only, ["CX-RECV-002"]),
        (no_repeats, ["CX-RECV-003"]),
        (crashing, REFUSALS),
    ],
)
def test_a_mistaken_endpoint_fails_exactly_its_checks(
    endpoint: Callable[[Answer], str], answer: Answer, expected: list[str]
) -> None:
    report = run_receiver(endpoint(answer), SECRET, RECEIVING, seed=3)
    assert _not_passed(report) == dict.fromkeys(expected, Status.FAILED)
    for result in report.results:
        for failure in result.failures:
            assert failure.exchange is not None and failure.exchange.method == "POST"


def test_an_endpoint_that_refuses_everything_fails_the_refusals_too(
    endpoint: Callable[[Answer], str],
) -> None:
    """Every forgery follows a genuine delivery, so refusing all cannot pass a refusal check."""
    report = run_receiver(endpoint(lambda *_: 401), SECRET, RECEIVING, seed=3)
    assert set(_not_passed(report).values()) == {Status.FAILED}
    assert len(_not_passed(report)) == len(RECEIVING)


def test_the_events_sent_are_valid_events_of_the_spec() -> None:
    validator = load_spec().component("Event")
    for kind in ("updated", "heartbeat"):
        assert validator.is_valid(example_event(kind)), kind


def test_the_command_writes_signed_reports_and_says_the_verdict(
    endpoint: Callable[[Answer], str], tmp_path: Path
) -> None:
    runner = CliRunner()
    key = tmp_path / "key.pem"
    assert runner.invoke(app, ["keygen", str(key)]).exit_code == 0
    report_file = tmp_path / "receiver.json"
    done = runner.invoke(
        app,
        [
            "receiver",
            endpoint(timeless),
            "--json",
            str(report_file),
            "--junit",
            str(tmp_path / "receiver.xml"),
            "--sign",
            str(key),
        ],
        env={"CARE_EXCHANGE_CONFORMANCE_WEBHOOK_SECRET": SECRET},
    )
    assert done.exit_code == 1, done.output
    data = json.loads(report_file.read_text())
    failed = [r["id"] for r in data["results"] if r["status"] == "failed"]
    assert failed == ["CX-RECV-006"] and SECRET not in report_file.read_text()
    verified_report = runner.invoke(
        app, ["verify-report", str(report_file), "--public-key", f"{key}.pub"]
    )
    assert verified_report.exit_code == 0, verified_report.output
    assert "conforms: no" in verified_report.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["hooks.example.org", "--secret", SECRET], "must be an http:// or https:// URL"),
        (["https://hooks.example.org", "--secret", "hunter2"], "must be a Standard Webhooks"),
        (["https://hooks.example.org", "--secret", SECRET, "--only", "CX-AUTH-*"], "no check"),
    ],
)
def test_the_command_refuses_what_cannot_work(arguments: list[str], message: str) -> None:
    done = CliRunner().invoke(app, ["receiver", *arguments])
    assert done.exit_code == 2 and message in done.stderr
