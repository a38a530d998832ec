"""`care-exchange conformance run` end to end: exit status, console, JSON and JUnit reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from care_exchange_conformance.reports.json_report import report_schema
from care_exchange_standard.command import build
from tests.conformance.conftest import Serve
from tests.conformance.variants import leak_private_key

runner = CliRunner()
app = build()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["conformance", "run", *args])
    return result.exit_code, result.output


def test_a_conforming_run_exits_0_and_writes_valid_reports(
    serve_reference: Serve, tmp_path: Path
) -> None:
    json_file, junit_file = tmp_path / "new" / "report.json", tmp_path / "report.xml"
    with serve_reference() as config:
        code, output = _run(
            "--base-url", config.base_url, "--only", "CX-DISC-*", "--seed", "7",
            "--json", str(json_file), "--junit", str(junit_file),
        )  # fmt: skip
    assert code == 0, output
    assert "Verdict: conforms" in output
    report = json.loads(json_file.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(
        report_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(report)
    assert report["seed"] == 7 and report["conforms"] is True
    assert report["summary"] == {"passed": 5, "failed": 0, "error": 0, "not-applicable": 0}
    suites = ElementTree.parse(junit_file).getroot()
    cases = suites.findall("testsuite/testcase")
    assert len(cases) == 5 and not suites.findall(".//failure")


def test_a_failing_run_exits_1_and_reports_the_failure(
    serve_reference: Serve, tmp_path: Path
) -> None:
    json_file, junit_file = tmp_path / "report.json", tmp_path / "report.xml"
    with serve_reference(leak_private_key) as config:
        code, output = _run(
            "--base-url", config.base_url, "--only", "CX-DISC-*",
            "--json", str(json_file), "--junit", str(junit_file),
        )  # fmt: skip
    assert code == 1
    assert "FAIL  CX-DISC-004" in output and "does not conform" in output
    report = json.loads(json_file.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    (failed,) = [result for result in report["results"] if result["status"] == "failed"]
    assert failed["id"] == "CX-DISC-004"
    assert failed["failures"][0]["exchange"]["url"].endswith("/jwks.json")
    (failure,) = ElementTree.parse(junit_file).getroot().findall(".//failure")
    assert "private key members" in failure.attrib["message"]


def test_usage_errors_exit_2() -> None:
    code, output = _run("--base-url", "not-a-url")
    assert code == 2 and "Say where the implementation is" in output
    code, output = _run("--base-url", "http://127.0.0.1:9", "--only", "CX-NOPE-*")
    assert code == 2 and "no check matches" in output


def test_a_report_that_cannot_be_written_is_a_usage_error_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    code, output = _run("--base-url", "http://127.0.0.1:9", "--json", str(blocker / "r.json"))
    assert code == 2 and "the report cannot be written there" in output
