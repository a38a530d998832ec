from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from care_exchange_standard.tables import read_table
from care_exchange_standard.tables.spreadsheet_command import spreadsheet


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("spreadsheet")(spreadsheet)
    return app


def test_writes_a_blank_xlsx_that_reads_back_as_its_type(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["spreadsheet", "capacity-snapshot"])
    assert result.exit_code == 0, result.output
    assert "capacity-snapshot.xlsx" in result.output
    path = tmp_path / "capacity-snapshot.xlsx"
    with zipfile.ZipFile(path) as workbook:
        names = workbook.namelist()
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
        book = workbook.read("xl/workbook.xml").decode()
    assert "xl/worksheets/sheet5.xml" in names
    assert 'type="list"' in sheet and 'type="whole"' in sheet and 'type="date"' in sheet
    assert 'name="Lists" sheetId="4" state="hidden"' in book
    assert 'name="care-exchange" sheetId="5" state="veryHidden"' in book
    assert list(read_table(path, name=path.name)) == []


def test_writes_csv_to_a_file_or_standard_output(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "beds.csv"
    result = CliRunner().invoke(
        app, ["spreadsheet", "capacity-snapshot", "--format", "csv", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    lines = target.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Record identifier,Service identifier,As at,Registered places")
    assert lines[1].startswith("id,serviceId,asAt,registeredPlaces,beds.careLevel")
    assert lines[2].startswith("Required. The publisher")
    result = CliRunner().invoke(app, ["spreadsheet", "achievement", "-f", "csv", "-o", "-"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbfRecord identifier,")
    assert list(read_table(io.BytesIO(result.stdout_bytes), name="-.csv")) == []


def test_refuses_to_replace_a_file_unless_forced(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "mine.xlsx"
    target.write_bytes(b"a manager's figures")
    result = CliRunner().invoke(app, ["spreadsheet", "capacity-snapshot", "-o", str(target)])
    assert result.exit_code == 2
    assert "exists: pass --force" in result.output
    assert target.read_bytes() == b"a manager's figures"
    forced = ["spreadsheet", "capacity-snapshot", "-o", str(target), "--force"]
    assert CliRunner().invoke(app, forced).exit_code == 0
    assert target.read_bytes().startswith(b"PK")


def test_an_unknown_type_is_answered_with_the_closest(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["spreadsheet", "capacity"])
    assert result.exit_code == 2
    assert "'capacity' is not a record type. Did you mean 'capacity-snapshot'?" in result.output
    assert "Traceback" not in result.output


def test_importing_the_command_stays_light() -> None:
    code = (
        "import sys, care_exchange_standard.tables.spreadsheet_command; "
        "print(sorted(m for m in sys.modules if m.startswith(('xlsxwriter', 'openpyxl', "
        "'care_exchange_standard.tables.'))))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert found.strip() == "['care_exchange_standard.tables.spreadsheet_command']"


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_fills_the_spreadsheet_from_records(app: typer.Typer, tmp_path: Path, fmt: str) -> None:
    from tests.schemas.tables.conftest import examples

    records = examples("capacity-snapshot")
    source = tmp_path / "records.ndjson"
    source.write_text("\n".join(json.dumps(record) for record in records), encoding="utf-8")
    target = tmp_path / f"filled.{fmt}"
    arguments = ["spreadsheet", "capacity-snapshot", "-f", fmt, "--from", str(source)]
    result = CliRunner().invoke(app, [*arguments, "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {len(records)} records to a capacity snapshot spreadsheet" in result.output
    assert [row.record for row in read_table(target, name=target.name)] == records
    source.write_text(json.dumps(examples("achievement")), encoding="utf-8")
    result = CliRunner().invoke(app, [*arguments, "-o", str(tmp_path / "other")])
    assert result.exit_code == 2
    assert "record 1 is not a capacity-snapshot record ('achievement')" in result.output


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_blank_spreadsheet_validates_as_no_records(tmp_path: Path, fmt: str) -> None:
    """Not "all valid": nothing in it was checked, as with an empty file."""
    from care_exchange_standard.command import build

    target = tmp_path / f"blank.{fmt}"
    made = CliRunner().invoke(
        build(), ["spreadsheet", "capacity-snapshot", "-f", fmt, "-o", str(target)]
    )
    assert made.exit_code == 0, made.output
    result = CliRunner().invoke(build(), ["validate", str(target)])
    assert result.exit_code == 1
    assert f"ERROR {target}: no records: it has headings but no rows of data under them" in (
        result.stdout
    )
