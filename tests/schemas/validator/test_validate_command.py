"""`care-exchange validate`: exit codes, output order, JSON format, and every shipped example."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from care_exchange_standard import SCHEMA_DIR
from care_exchange_standard.command import build
from tests.conftest import EXAMPLES, INVALID_EXAMPLES, Example

app = build()
VALID_CAPACITY = "valid/capacity-snapshot/nursing-home-open.json"

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run("--format", "json", *args)
    report: dict[str, Any] = json.loads(out)
    return code, report


def test_all_valid_examples_exit_zero() -> None:
    code, report = run_json(str(EXAMPLES / "valid"))
    assert code == 0
    assert report["valid"] is True
    assert report["summary"]["invalid"] == 0
    assert report["summary"]["records"] == report["summary"]["files"] > 0


@pytest.mark.parametrize("example", INVALID_EXAMPLES, ids=str)
def test_each_invalid_example_exits_one_with_its_stated_error(example: Example) -> None:
    code, report = run_json(str(example.path))
    assert code == 1
    [record] = report["records"]
    assert record["recordType"] == example.type_name
    assert {(e["pointer"], e["keyword"]) for e in record["errors"]} == example.expected
    for error in record["errors"]:
        assert error["message"] and error["docs"].startswith(
            f"https://care-exchange.org/docs/reference/{example.type_name}"
        )


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """An NDJSON file with a valid record, an invalid one, and one with only a warning."""
    good = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())
    bad = dict(good, registeredPlaces=-1)
    odd = json.loads(json.dumps(good))
    odd["beds"][0]["notAvailableReasons"][0]["reason"] = "flooding"
    lines = "\n".join(json.dumps(record) for record in (good, bad, odd))
    return write(tmp_path, "batch.ndjson", lines + "\n")


def test_human_output_puts_summary_then_errors_then_warnings(mixed: Path) -> None:
    code, out, _ = run(str(mixed))
    assert code == 1
    first = out.splitlines()[0]
    assert "INVALID" in first and "3 records in 1 file: 2 valid, 1 invalid" in first
    assert "(1 error, 1 warning)" in first
    assert "capacity-snapshot" in out.splitlines()[2]
    errors_at, warnings_at = out.index("Errors"), out.index("Warnings (the records stay valid)")
    assert errors_at < warnings_at
    assert f"ERROR {mixed}:2 /registeredPlaces: must be at least 0" in out[errors_at:warnings_at]
    assert f"WARNING {mixed}:3 /beds/0/notAvailableReasons/0/reason" in out[warnings_at:]
    see = "see https://care-exchange.org/docs/reference/capacity-snapshot#registeredPlaces"
    assert see in out


def test_errors_group_by_type_and_field(tmp_path: Path) -> None:
    good = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())
    records = [dict(good, registeredPlaces=-1), dict(good, registeredPlaces=-2)]
    code, out, _ = run(str(write(tmp_path, "two.json", records)))
    assert code == 1
    assert out.count("capacity-snapshot registeredPlaces (2)") == 1
    assert out.count("ERROR ") == 2


def test_warnings_alone_keep_exit_zero(tmp_path: Path, mixed: Path) -> None:
    third = mixed.read_text().splitlines()[2]
    code, report = run_json(str(write(tmp_path, "odd.json", third)))
    assert code == 0
    assert report["summary"]["warnings"] == 1
    assert report["records"][0]["warnings"][0]["severity"] == "warning"


def test_json_format_summarises_by_type(mixed: Path) -> None:
    code, report = run_json(str(mixed))
    assert code == 1
    assert report["summary"]["byType"] == {"capacity-snapshot": {"valid": 2, "invalid": 1}}
    # Only the records with something to say are listed; the counts cover them all.
    assert [record["location"] for record in report["records"]] == [":2", ":3"]
    assert report["inputs"] == [
        {"name": str(mixed), "status": "read", "records": 3, "valid": 2, "invalid": 1}
    ]


def test_unknown_type_is_invalid_not_a_crash(tmp_path: Path) -> None:
    code, report = run_json(str(write(tmp_path, "x.json", {"recordType": "bed-count"})))
    assert code == 1
    assert report["summary"]["byType"] == {"(unknown type)": {"invalid": 1}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file or folder"),
        ("{not json", "not JSON at line 1, column 2"),
        ("", "the file is empty"),
        ("[ ]", "no records: the list is empty"),
        ("Home,Places\n", "not JSON: it starts with 'H'"),
    ],
)
def test_an_unreadable_input_is_one_error_and_the_others_are_still_judged(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    good = write(tmp_path, "good.json", json.loads((EXAMPLES / VALID_CAPACITY).read_text()))
    code, report = run_json(str(path), str(good))
    assert code == 1
    assert report["inputs"] == [
        {
            "name": str(path),
            "status": "unreadable",
            "message": report["inputs"][0]["message"],
            "records": 0,
            "valid": 0,
            "invalid": 0,
        },
        {"name": str(good), "status": "read", "records": 1, "valid": 1, "invalid": 0},
    ]
    assert message in report["inputs"][0]["message"]
    assert report["summary"]["unreadable"] == 1 and report["valid"] is False
    code, out, err = run(str(path), str(good))
    assert code == 1 and err == ""
    assert f"ERROR {path}: " in out and message in out
    assert "1 record in 1 file: 1 valid, 0 invalid" in out


def test_bad_ndjson_lines_are_errors_at_their_lines_and_the_rest_is_judged(
    tmp_path: Path,
) -> None:
    good = (EXAMPLES / VALID_CAPACITY).read_text().replace("\n", "")
    path = write(tmp_path, "batch.ndjson", f"{good}\nnope\n\n{good}\n{{\n")
    code, report = run_json(str(path))
    assert code == 1
    assert [(r["location"], r["errors"][0]["keyword"]) for r in report["records"]] == [
        (":2", "json"),
        (":5", "json"),
    ]
    assert report["records"][0]["errors"][0]["message"].startswith("line 2 is not JSON")
    assert report["summary"]["records"] == 4 and report["summary"]["valid"] == 2


def test_folder_files_of_other_formats_are_reported_as_skipped(tmp_path: Path) -> None:
    good = write(tmp_path, "good.json", json.loads((EXAMPLES / VALID_CAPACITY).read_text()))
    notes = write(tmp_path, "notes.txt", "hello")
    code, report = run_json(str(tmp_path))
    assert code == 0 and report["valid"] is True
    assert [(item["name"], item["status"]) for item in report["inputs"]] == [
        (str(good), "read"),
        (str(notes), "skipped"),
    ]
    assert report["inputs"][1]["message"] == "skipped: not a format the validator reads"
    code, out, _ = run(str(tmp_path))
    assert code == 0 and f"SKIPPED {notes}: not a format the validator reads" in out
    assert "all valid" in out and "1 skipped" in out


@pytest.mark.parametrize("form", ["array", "ndjson", "one"])
def test_standard_input_is_read_whatever_its_form(form: str) -> None:
    record = json.loads((EXAMPLES / VALID_CAPACITY).read_text())
    bad = dict(record, registeredPlaces=-1)
    text = {
        "array": json.dumps([record, bad], indent=2),
        "ndjson": json.dumps(record) + "\n" + json.dumps(bad) + "\n",
        "one": json.dumps(bad, indent=2),
    }[form]
    result = runner.invoke(app, ["validate", "--format", "json", "-"], input=text)
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    location = {"array": "[2]", "ndjson": ":2", "one": ""}[form]
    assert [(r["file"], r["location"]) for r in report["records"]] == [("-", location)]


def test_array_positions_count_from_one(tmp_path: Path) -> None:
    record = json.loads((EXAMPLES / VALID_CAPACITY).read_text())
    path = write(tmp_path, "two.json", [record, dict(record, registeredPlaces=-1)])
    _, report = run_json(str(path))
    assert [r["location"] for r in report["records"]] == ["[2]"]


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "excel.json"
    path.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / VALID_CAPACITY).read_bytes())
    assert run_json(str(path))[0] == 0


def test_unknown_type_option_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run("--type", "bed-count", str(tmp_path))
    assert code == 2 and out == "" and "not a type of the standard" in err


def test_no_paths_is_a_usage_error() -> None:
    assert run()[0] == 2


def test_installed_command_end_to_end(tmp_path: Path) -> None:
    """The real entry point in a real process: exit codes and no traceback on bad input."""

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "care_exchange_standard", "validate", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=SCHEMA_DIR.parent,
        )

    assert cli("schemas/examples/valid").returncode == 0
    assert cli("schemas/examples/invalid").returncode == 1
    missing = cli("--format", "json", str(tmp_path / "missing.json"))
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert json.loads(missing.stdout)["inputs"][0]["message"] == "no such file or folder"
    assert cli("--format", "yaml", "x.json").returncode == 2
