"""A fault of the validator's own while reading an input costs that input, not the run.

The reader is made to fail the way a bug would (an exception no reader raises on purpose): the
input gets one error line saying it is a bug to report, the other inputs are still validated,
and the exit code says not all is well, without a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from care_exchange_standard import SCHEMA_DIR, validator
from care_exchange_standard.command import build
from care_exchange_standard.tables import reading
from care_exchange_standard.tables.layout import layout_for
from care_exchange_standard.tables.writing import write_csv

RECORD = SCHEMA_DIR / "examples" / "valid" / "capacity-snapshot" / "nursing-home-open.json"


def _fails(*args: Any, **kwargs: Any) -> Any:
    raise KeyError("a key the code forgot")


def _broken(*args: Any, **kwargs: Any) -> Iterator[Any]:
    yield from _fails()  # a generator, as the method it stands in for


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    sheet = tmp_path / "capacity.csv"
    with sheet.open("wb") as handle:
        write_csv(layout_for("capacity-snapshot"), handle, [record])
    lines = tmp_path / "capacity.ndjson"
    lines.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return [sheet, lines]


def run(paths: list[Path], *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(build(), ["validate", *options, *map(str, paths)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout


def test_a_spreadsheet_reader_fault_is_one_line(
    monkeypatch: pytest.MonkeyPatch, inputs: list[Path]
) -> None:
    monkeypatch.setattr(reading.SheetReader, "groups", _broken)
    code, out = run(inputs)
    assert code == 1
    assert "Traceback" not in out
    [line] = [line for line in out.splitlines() if "capacity.csv" in line]
    assert "ERROR" in line and "KeyError" in line and "please report it" in line
    assert "1 record in 1 file: 1 valid" in out  # the NDJSON file, read all the same


def test_a_json_reader_fault_is_one_line_in_the_json_report(
    monkeypatch: pytest.MonkeyPatch, inputs: list[Path]
) -> None:
    monkeypatch.setattr(validator, "judge", _fails)
    code, out = run(inputs, "--format", "json")
    assert code == 1
    report = json.loads(out)
    [failed] = [item for item in report["inputs"] if item["status"] == "unreadable"]
    assert failed["name"].endswith("capacity.ndjson")
    assert "internal error" in failed["message"] and "bug" in failed["message"]
    assert report["summary"]["valid"] == 1  # the spreadsheet's record
