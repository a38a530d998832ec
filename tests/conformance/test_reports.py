"""The HTML report, signed JSON reports, `keygen` and `verify-report`."""

from __future__ import annotations

import base64
import json
import stat
import sys
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from typer.testing import CliRunner, Result

from care_exchange_conformance import signing
from care_exchange_conformance.evidence import Exchange
from care_exchange_conformance.registry import Check, Failure, Level, spec_clause
from care_exchange_conformance.reports import html, json_report
from care_exchange_conformance.runner import Report, Status
from care_exchange_conformance.runner import Result as CheckResult
from care_exchange_standard.command import build
from tests.conformance.conftest import Serve
from tests.conformance.variants import leak_private_key

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


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """A key pair made by `keygen`: the private key's path and the public key's."""
    result = _cli("keygen", str(tmp_path / "signing.pem"))
    assert result.exit_code == 0, result.output
    return tmp_path / "signing.pem", tmp_path / "signing.pem.pub"


@pytest.fixture
def signed(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    """A JSON report of `_report()`, signed beside it as `report.json.jws`."""
    report_file = tmp_path / "report.json"
    json_report.write(json_report.as_dict(_report(), "0.1.0"), report_file)
    signing.sign_file(report_file, signing.load_private_key(keys[0]))
    return report_file


def _verify(report_file: Path, public_key: Path, *more: str) -> Result:
    return _cli("verify-report", str(report_file), "--public-key", str(public_key), *more)


def test_keygen_writes_an_owner_only_key_and_never_overwrites(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    if sys.platform != "win32":
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    before = private.read_bytes()
    again = _cli("keygen", str(private))
    assert again.exit_code == 2 and "never overwritten" in again.output
    assert private.read_bytes() == before


def test_keygen_prints_the_public_jwk(tmp_path: Path) -> None:
    result = _cli("keygen", str(tmp_path / "k.pem"))
    (line,) = [line for line in result.output.splitlines() if line.startswith("Public JWK:")]
    jwk = json.loads(line.removeprefix("Public JWK:"))
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    assert jwk["kid"] == signing.key_id(signing.load_public_key(tmp_path / "k.pem.pub"))


def test_a_signed_report_verifies(signed: Path, keys: tuple[Path, Path]) -> None:
    result = _verify(signed, keys[1])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "valid: signed report of http://127.0.0.1:9 at 2025-01-01T09:01:00Z, conforms: no\n"
    )


def test_the_signature_is_a_plain_detached_jws_anyone_can_check(
    signed: Path, keys: tuple[Path, Path]
) -> None:
    """RFC 7515 appendix F, checked here with `cryptography` alone, as a third party would."""
    header, payload, signature = signing.signature_path(signed).read_text().strip().split(".")
    assert payload == ""

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    public = load_pem_public_key(keys[1].read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    assert json.loads(decode(header)) == {"alg": "Ed25519", "kid": signing.key_id(
        signing.load_public_key(keys[1]))}  # fmt: skip
    body = base64.urlsafe_b64encode(signed.read_bytes()).rstrip(b"=")
    public.verify(decode(signature), header.encode() + b"." + body)  # raises when it does not


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"conforms": false', '"conforms": true'),
        ('"seed": 7', '"seed": 8'),
        ('"status": "failed"', '"status": "passed"'),
        ("\n}\n", "\n}\n\n"),
    ],
)
def test_a_changed_report_is_refused(
    signed: Path, keys: tuple[Path, Path], old: str, new: str
) -> None:
    text = signed.read_text(encoding="utf-8")
    assert old in text
    signed.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = _verify(signed, keys[1])
    assert result.exit_code == 1
    assert result.output.startswith("not valid:") and "changed after it was signed" in result.output


def test_a_report_signed_by_another_key_is_refused(tmp_path: Path, signed: Path) -> None:
    assert _cli("keygen", str(tmp_path / "other.pem")).exit_code == 0
    result = _verify(signed, tmp_path / "other.pem.pub")
    assert result.exit_code == 1 and "signed by another key" in result.output


def test_jwk_files_sign_and_verify(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    key = signing.load_private_key(keys[0])
    private_jwk, public_jwk = tmp_path / "private.jwk", tmp_path / "public.jwk"
    private_jwk.write_text(json.dumps(key.as_dict(private=True)))
    public_jwk.write_text(json.dumps(key.as_dict(private=False)))
    report_file = tmp_path / "report.json"
    json_report.write(json_report.as_dict(_report(), "0.1.0"), report_file)
    signing.sign_file(report_file, signing.load_private_key(private_jwk))
    assert _verify(report_file, public_jwk).exit_code == 0
    assert _verify(report_file, keys[1]).exit_code == 0
    with pytest.raises(signing.KeyFileError, match="holds a public key"):
        signing.load_private_key(public_jwk)


def test_a_signed_file_that_is_not_a_valid_report_is_refused(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    key = signing.load_private_key(keys[0])
    data = json_report.as_dict(_report(), "0.1.0")
    del data["seed"]
    data["results"][0]["status"] = "skipped"
    invalid, not_json = tmp_path / "invalid.json", tmp_path / "not.json"
    json_report.write(data, invalid)
    not_json.write_text("<html>not a report</html>")
    for signed_file in (invalid, not_json):
        signing.sign_file(signed_file, key)
    result = _verify(invalid, keys[1])
    assert result.exit_code == 1 and "not a valid conformance report" in result.output
    assert "'seed' is a required property" in result.output and "/results/0/status" in result.output
    result = _verify(not_json, keys[1])
    assert result.exit_code == 1 and "is not JSON" in result.output


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


NONE, HS256, ED25519 = (
    _b64(json.dumps({"alg": alg}).encode()) for alg in ("none", "HS256", "Ed25519")
)


@pytest.mark.parametrize(
    "signature",
    [
        "not a signature",
        f"{NONE}..",
        f"{HS256}..{_b64(b'x' * 32)}",
        f"{ED25519}.{_b64(b'{}')}.{_b64(b'x' * 64)}",
        f"{ED25519}..{_b64(b'x' * 64)}",
        "%%%..%%%",
    ],
)
def test_a_malformed_or_foreign_signature_is_refused(
    signed: Path, keys: tuple[Path, Path], signature: str
) -> None:
    signing.signature_path(signed).write_text(signature)
    result = _verify(signed, keys[1])
    assert result.exit_code == 1 and result.output.startswith("not valid:"), result.output


def test_unreadable_files_exit_2(tmp_path: Path, signed: Path, keys: tuple[Path, Path]) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n")
    cases = [
        (_verify(tmp_path / "missing.json", keys[1]), "cannot read"),
        (_verify(signed, keys[1], "--signature", str(tmp_path / "missing.jws")), "cannot read"),
        (_verify(signed, tmp_path / "missing.pem"), "cannot read the key file"),
        (_verify(signed, garbage), "holds no Ed25519 key"),
    ]
    for result, message in cases:
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_large_report_signs_and_verifies(keys: tuple[Path, Path]) -> None:
    payload = json.dumps({"body": "x" * 500_000}).encode()
    signature = signing.sign(payload, signing.load_private_key(keys[0]))
    signing.verify(payload, signature, signing.load_public_key(keys[1]))
    with pytest.raises(signing.SignatureError, match="changed"):
        signing.verify(payload[:-2] + b"}", signature, signing.load_public_key(keys[1]))


def test_sign_without_json_or_with_a_bad_key_exits_2_before_running(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    base = ["run", "--base-url", "http://127.0.0.1:9", "--only", "CX-DISC-*"]
    result = _cli(*base, "--sign", str(keys[0]))
    assert result.exit_code == 2 and "--sign signs the JSON report" in result.output
    assert "Checking" not in result.output
    report_file = tmp_path / "report.json"
    result = _cli(*base, "--json", str(report_file), "--sign", str(keys[1]))
    assert result.exit_code == 2 and "holds a public key" in result.output
    assert "Checking" not in result.output and not report_file.exists()


def test_a_run_writes_an_html_report_and_a_signed_json_report(
    serve_reference: Serve, tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    report_file, page_file = tmp_path / "report.json", tmp_path / "report.html"
    with serve_reference(leak_private_key) as config:
        result = _cli(
            "run", "--base-url", config.base_url, "--only", "CX-DISC-*", "--seed", "3",
            "--json", str(report_file), "--html", str(page_file), "--sign", str(keys[0]),
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    kid = signing.key_id(signing.load_public_key(keys[1]))
    assert f"Signed the JSON report: {report_file}.jws (key {kid})" in result.output
    data: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
    page = _Page(page_file.read_text(encoding="utf-8"))
    assert page.rows == {f"CX-DISC-00{n}": "status-passed" for n in (1, 2, 3, 5)} | {
        "CX-DISC-004": "status-failed"
    }
    assert page.rows == {result["id"]: f"status-{result['status']}" for result in data["results"]}
    (request, response) = page.pres
    assert request.startswith("GET ") and "/jwks.json" in request
    assert response.startswith("HTTP 200") and '"d":' in response
    verified = _verify(report_file, keys[1])
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith(f"valid: signed report of {data['target']} at ")
    assert verified.output.endswith(f"{data['finishedAt']}, conforms: no\n")
