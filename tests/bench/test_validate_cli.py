"""The validate benchmark keeps working: a tiny run times every format it can (no timing)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from bench import validate_cli


def test_benchmark_times_care_exchange_and_reports_what_it_skipped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert validate_cli.main(["--records", "30", "--repeats", "1", "--no-ajv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("care-exchange validate NDJSON") and "peak" in lines[0]
    best, slowest = (float(part) for part in re.findall(r"(\d+\.\d+)", lines[0])[:2])
    assert 0 < best == slowest  # one repeat: its time is both
    assert lines[1].startswith("care-exchange validate JSON array")
    assert "ajv-cli: skipped (--no-ajv)" in lines
    assert any(line.startswith("NDJSON: no ratio without ajv-cli") for line in lines)


def test_inputs_hold_the_same_valid_records(tmp_path: Path) -> None:
    from care_exchange_standard import load_standard

    inputs = validate_cli.write_inputs(tmp_path, 12)
    ndjson, array = inputs["NDJSON"], inputs["JSON array"]
    assert isinstance(ndjson, Path) and isinstance(array, Path)
    lines = [json.loads(line) for line in ndjson.read_text().splitlines()]
    assert lines == json.loads(array.read_text())
    assert len({record["id"] for record in lines}) == 12
    validator = load_standard().validator(validate_cli.RECORD_TYPE)
    assert all(validator.is_valid(record) for record in lines)


def test_ajv_gets_the_standards_own_schema_files(tmp_path: Path) -> None:
    data = tmp_path / "records.json"
    command = validate_cli.ajv_command(Path("ajv"), tmp_path, data)
    assert command[:2] == ["ajv", "validate"] and command[-2:] == ["-d", str(data)]
    assert "--spec=draft2020" in command and command[command.index("-c") + 1] == "ajv-formats"
    referenced = [command[i + 1] for i, arg in enumerate(command) if arg == "-r"]
    assert any(ref.endswith(f"records/{validate_cli.RECORD_TYPE}.json") for ref in referenced)
    assert sum("/common/" in ref for ref in referenced) >= 5
    wrapper = json.loads(Path(command[command.index("-s") + 1]).read_text())
    assert wrapper["type"] == "array" and wrapper["items"]["$ref"].endswith(".json")


def test_our_command_runs_with_its_modules_compiled_once_outside_the_sources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = validate_cli.installed_python(tmp_path / "pycache")
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pycache")
    assert env["PATH"] == os.environ["PATH"]
