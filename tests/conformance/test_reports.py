"""The HTML report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from care_exchange_conformance.evidence import Exchange
from care_exchange_conformance.registry import Check, Failure, Level, spec_clause
from care_exchange_conformance.reports import html, json_report
from care_exchange_conformance.runner import Report, Status
from care_exchange_conformance.runner import Result as CheckResult
from care_exchange_standard.command import build
from tests.conformance.conftest import Serve
from tests.conformance.test_discovery import leak_private_key

runner = CliRunner()
app = build()

HOSTILE_BODY = '<script>alert("body")</script><a href="http://evil.example/">click</a>'


def _cli(*args: str) -> Result:
    result = runner.invoke(app, ["conformance", *args])
    # Every outcome is an exit status with a message, never an exception escaping the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def _check(check_id: str, title: str, level: Level = Level.REQUIRED) -> Check:
    return Check(check_id, title, spec_clause("paths", "/jwks.json", "get"), level, lambda _: None)


def _report() -> Report:
    hostile = Exchange(
        method="GET",
        url="http://127.0.0.1:9/jwks.json?q=<b>",
        request_headers={"authorization": "Bearer <redacted>"},
        request_body=None,
        status=200,
        response_headers={"content-type": "text/html", "x-evil": '"><img src=x onerror=alert(1)>'},
        response_body=HOSTILE_BODY,
    )
    failure = Failure("The body held <script>markup</script>.", "a <jwks> document", hostile)
    return Report(
        "http://127.0.0.1:9",
        7,
        datetime(2025, 1, 1, 9, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 9, 1, tzinfo=UTC),
        results=[
            CheckResult(
                _check("CX-AUTH-001", "Tokens need no <help>"),
                Status.ERROR,
                0.1,
                (),
                "KeyError('x') at <suite>",
            ),
            CheckResult(
                _check("CX-AUTH-002", "Introspection", Level.RECOMMENDED),
                Status.NOT_APPLICABLE,
                0.0,
                (),
                "no <outsider> client",
            ),
            CheckResult(_check("CX-DISC-001", "Discovery answers"), Status.PASSED, 0.2),
            CheckResult(_check("CX-DISC-004", "No private keys"), Status.FAILED, 0.3, (failure,)),
        ],
        not_cleaned_up=["/v1/records/x: 500 <oops>"],
    )


class _Page(HTMLParser):
    """What a browser would build from the page: elements, links, rows and <pre> texts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.links: list[tuple[str, str]] = []
        self.rows: dict[str, str] = {}
        self.by_status: list[str] = []
        self.pres: list[str] = []
        self._pre: list[str] | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        self.links += [(name, value or "") for name, value in attrs if name in ("src", "href")]
        if tag == "tr" and "data-id" in found:
            self.rows[found["data-id"] or ""] = found.get("class") or ""
        if tag == "table":
            self._table = found.get("class")
        if tag == "td" and self._table == "by-status":
            self._cell = []
        if tag == "pre":
            self._pre = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and self._pre is not None:
            self.pres.append("".join(self._pre))
            self._pre = None
        if tag == "td" and self._cell is not None:
            self.by_status.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        for collecting in (self._pre, self._cell):
            if collecting is not None:
                collecting.append(data)


def test_the_html_report_shows_every_check_as_the_json_report_does() -> None:
    data = json_report.as_dict(_report(), "0.1.0")
    page = _Page(html.render(data))
    assert page.rows == {result["id"]: f"status-{result['status']}" for result in data["results"]}
    assert page.by_status == [str(data["summary"][s]) for s in html.STATUSES] + ["4"]
    text = html.render(data)
    assert "Does not conform" in text and "http://127.0.0.1:9" in text and "--seed 7" in text
    assert "2025-01-01T09:01:00Z" in text and "(60.0 s)" in text
    assert spec_clause("paths", "/jwks.json", "get") in text
    assert (
        "no &lt;outsider&gt; client" in text and "KeyError(&#x27;x&#x27;) at &lt;suite&gt;" in text
    )
    assert "/v1/records/x: 500 &lt;oops&gt;" in text


def test_the_html_report_is_self_contained_and_escapes_the_evidence() -> None:
    text = html.render(json_report.as_dict(_report(), "0.1.0"))
    page = _Page(text)
    # Nothing is loaded from elsewhere and nothing runs: the only links are to the page itself.
    assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
    assert [name for name, _ in page.links] == ["href", "href", "href"]
    assert all(value.startswith("#CX-") for _, value in page.links)
    # The hostile body is shown, as text, in the response's <pre>; the page's source escapes it.
    (request, response) = page.pres
    assert HOSTILE_BODY in response and '"><img src=x onerror=alert(1)>' in response
    assert request.startswith("GET http://127.0.0.1:9/jwks.json?q=<b>")
    assert "authorization: Bearer <redacted>" in request
    assert HOSTILE_BODY not in text and "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(&quot;body&quot;)&lt;/script&gt;" in text
    assert "The body held &lt;script&gt;markup&lt;/script&gt;." in text


def test_a_conforming_report_says_so() -> None:
    report = _report()
    report.results = [r for r in report.results if r.status is Status.PASSED]
    text = html.render(json_report.as_dict(report, "0.1.0"))
    assert '<p class="verdict yes">Conforms</p>' in text and "every check passed" in text
    assert "<pre" not in text


def test_a_run_writes_an_html_report(serve_reference: Serve, tmp_path: Path) -> None:
    report_file, page_file = tmp_path / "report.json", tmp_path / "report.html"
    with serve_reference(leak_private_key) as config:
        result = _cli(
            "run", "--base-url", config.base_url, "--only", "CX-DISC-*", "--seed", "3",
            "--json", str(report_file), "--html", str(page_file),
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    data: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
    page = _Page(page_file.read_text(encoding="utf-8"))
    assert page.rows == {f"CX-DISC-00{n}": "status-passed" for n in (1, 2, 3, 5)} | {
        "CX-DISC-004": "status-failed"
    }
    assert page.rows == {result["id"]: f"status-{result['status']}" for result in data["results"]}
    (request, response) = page.pres
    assert request.startswith("GET ") and "/jwks.json" in request
    assert response.startswith("HTTP 200") and '"d":' in response
