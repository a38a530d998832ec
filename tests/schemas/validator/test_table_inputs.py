"""Spreadsheets through the tables contract: errors at their cells, unreadable sheets reported.

The reader here is a stand-in that keeps to the tables package's contract (`__all__` of
`care_exchange_standard.tables`: `read_table`, `TableRow`, `CellProblem`, `TableError`), so the
validator's side of it is held whatever the real reader does.
"""

from __future__ import annotations

import io
import json
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from typer.testing import CliRunner

from care_exchange_standard.command import build
from tests.conftest import EXAMPLES

RECORD = json.loads((EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json").read_text())


class TableError(Exception):
    pass


@dataclass(frozen=True)
class CellProblem:
    cell: str
    pointer: str
    message: str


@dataclass(frozen=True)
class TableRow:
    location: str
    record: dict[str, Any]
    problems: tuple[CellProblem, ...]

    def cell_for(self, pointer: str) -> str | None:
        columns = {"/registeredPlaces": "C", "/beds": "D"}
        row = self.location.rsplit(" ", 1)[1]
        for prefix, column in columns.items():
            if pointer == prefix or pointer.startswith(prefix + "/"):
                return f"Capacity!{column}{row}"
        return None


calls: list[dict[str, Any]] = []


def read_table(
    source: Path | BinaryIO,
    *,
    name: str,
    record_type: str | None = None,
    sheet: str | None = None,
) -> Iterator[TableRow]:
    calls.append({"name": name, "record_type": record_type, "sheet": sheet, "source": source})
    text = source.read_text() if isinstance(source, Path) else source.read().decode()
    if text.startswith("corrupt"):
        raise TableError("the workbook is damaged and cannot be opened")
    yield TableRow("Capacity!row 3", dict(RECORD), ())
    yield TableRow("Capacity!row 4", dict(RECORD, registeredPlaces=-1), ())
    beds = [dict(RECORD["beds"][0], occupied="x"), dict(RECORD["beds"][1])]
    del beds[1]["careLevel"]
    yield TableRow(
        "Capacity!row 5",
        {key: value for key, value in dict(RECORD, beds=beds).items() if key != "asAt"},
        (
            CellProblem("Capacity!B5", "/asAt", "not a date and time: 'Tuesday'"),
            CellProblem("Capacity!D6", "/beds/1/careLevel", "not one of the list: 'nursin'"),
        ),
    )
    raise TableError("row 6 has more cells than there are headings")


@pytest.fixture(autouse=True)
def fake_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("care_exchange_standard.tables")
    for name, value in {
        "TableError": TableError,
        "TableRow": TableRow,
        "CellProblem": CellProblem,
        "read_table": read_table,
    }.items():
        setattr(module, name, value)
    monkeypatch.setitem(sys.modules, "care_exchange_standard.tables", module)
    calls.clear()


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(build(), ["validate", *args], input=stdin)
    return result.exit_code, result.stdout


def test_errors_are_located_at_their_cells(tmp_path: Path) -> None:
    path = tmp_path / "capacity.csv"
    path.write_text("anything")
    code, out = run("--format", "json", "--type", "capacity-snapshot", str(path))
    report = json.loads(out)
    assert code == 1
    assert calls[0]["name"] == "capacity.csv" and calls[0]["record_type"] == "capacity-snapshot"
    located = [
        (record["location"], error.get("cell"), error["pointer"])
        for record in report["records"]
        for error in record["errors"]
    ]
    assert ("Capacity!row 4", "Capacity!C4", "/registeredPlaces") in located
    assert ("Capacity!row 5", "Capacity!B5", "/asAt") in located
    assert ("Capacity!row 5", "Capacity!D5", "/beds/0/occupied") in located
    # The reader gave up at row 6: the rows before it stand, and the file is reported unreadable.
    assert report["inputs"][0]["status"] == "unreadable"
    assert report["inputs"][0]["message"] == "row 6 has more cells than there are headings"
    assert report["summary"]["records"] == 3 and report["summary"]["valid"] == 1


def test_a_cell_that_cannot_be_read_is_one_error_under_its_field(tmp_path: Path) -> None:
    """The field its cell leaves missing is not reported again as required; a list row's cell
    is named by its field, with the field's documentation, as the record's own cells are."""
    path = tmp_path / "capacity.csv"
    path.write_text("anything")
    _, out = run("--format", "json", "--type", "capacity-snapshot", str(path))
    [row] = [r for r in json.loads(out)["records"] if r["location"] == "Capacity!row 5"]
    blamed = [
        (error["pointer"], error["keyword"], error["field"], error["docs"].rsplit("#")[-1])
        for error in row["errors"]
        if error["pointer"] in ("/asAt", "/beds/1/careLevel")
    ]
    assert blamed == [
        ("/asAt", "cell", "asAt", "asAt"),
        ("/beds/1/careLevel", "cell", "beds.careLevel", "beds.careLevel"),
    ]


def test_text_report_names_the_cell(tmp_path: Path) -> None:
    path = tmp_path / "capacity.xlsx"
    path.write_text("anything")
    code, out = run("--sheet", "Capacity", str(path))
    assert code == 1
    assert calls[0]["sheet"] == "Capacity"
    assert f"ERROR {path} Capacity!C4: must be at least 0; it is -1." in out
    assert f"ERROR {path} Capacity!B5: not a date and time: 'Tuesday'" in out


def test_a_corrupt_workbook_is_one_line_and_the_rest_goes_on(tmp_path: Path) -> None:
    broken = tmp_path / "a.xlsx"
    broken.write_text("corrupt")
    good = tmp_path / "b.json"
    good.write_text(json.dumps(RECORD))
    code, out = run("--format", "json", str(tmp_path))
    report = json.loads(out)
    assert code == 1
    assert [(i["name"], i["status"]) for i in report["inputs"]] == [
        (str(broken), "unreadable"),
        (str(good), "read"),
    ]
    assert report["inputs"][0]["message"] == "the workbook is damaged and cannot be opened"


def test_standard_input_that_is_not_json_is_read_as_csv() -> None:
    code, out = run("--format", "json", "-", stdin=b"Record type,Places\n")
    assert code == 1
    assert calls[0]["name"] == "input.csv"
    assert isinstance(calls[0]["source"], io.IOBase) or hasattr(calls[0]["source"], "read")
    assert json.loads(out)["summary"]["records"] == 3


def test_without_the_tables_package_a_spreadsheet_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "care_exchange_standard.tables", None)
    path = tmp_path / "capacity.csv"
    path.write_text("a,b\n")
    code, out = run("--format", "json", str(path))
    assert code == 1
    assert "not available" in json.loads(out)["inputs"][0]["message"]
