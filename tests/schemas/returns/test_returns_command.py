"""`care-exchange returns render` and `coverage`, run as a provider runs them, on files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from care_exchange_standard.command import build
from care_exchange_standard.tables.xlsx import Workbook
from tests.schemas.returns.conftest import SERVICE, template

runner = CliRunner()
app = build()


@pytest.fixture
def files(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    (tmp_path / "template.json").write_text(json.dumps(template()))
    broken = dict(records[0]) | {"id": "cap-broken", "registeredPlaces": "sixty"}
    lines = [json.dumps(record) for record in [*records, broken]]
    (tmp_path / "records.ndjson").write_text("\n".join(lines) + "\n")
    return tmp_path


def _render(files: Path, *extra: str) -> Any:
    return runner.invoke(
        app,
        [
            "returns",
            "render",
            str(files / "template.json"),
            "--records",
            str(files / "records.ndjson"),
            "--service",
            SERVICE,
            "--period",
            "2026-10",
            *extra,
        ],
    )


def test_render_writes_the_filled_return_as_json_and_counts_invalid_records(files: Path) -> None:
    done = _render(files)
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert {f["code"]: f["value"] for f in body["fields"]} == {
        "REG": 60,
        "OCC_NURSING": 30,
        "AVG_OCC": 46.5,
        "SNAPSHOTS": 2,
        "ISOLATION": None,
    }
    assert "1 invalid record(s) left out" in done.stderr


def test_render_writes_csv_with_the_returns_codes_as_columns(files: Path) -> None:
    done = _render(files, "--format", "csv")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [
        "REG,OCC_NURSING,AVG_OCC,SNAPSHOTS,ISOLATION",
        "60,30,46.5,2,",
    ]


def test_render_writes_a_workbook_a_manager_can_read(files: Path) -> None:
    target = files / "return.xlsx"
    done = _render(files, "--format", "xlsx", "--output", str(target))
    assert done.exit_code == 0, done.output
    book = Workbook(str(target))
    rows = [
        {column: getattr(raw, "value", raw) for column, raw in cells.items()}
        for _, cells in book.rows("Return")
    ]
    book.close()
    assert {0: "Period", 1: "2026-10"} in rows
    label = "Registered places at the month's last snapshot"
    assert {0: "REG", 1: label, 3: "places", 4: 60, 5: "value"} in rows
    gap = "The standard does not yet separate closures for infection control."
    assert {0: "ISOLATION", 1: "Places closed for infection control", 5: "unmapped", 6: gap} in rows


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--period", "October"], "write it like 2026-10"),
        (["--format", "xlsx"], "--format xlsx needs --output FILE"),
    ],
)
def test_render_mistakes_are_one_line(files: Path, args: list[str], said: str) -> None:
    done = _render(files, *args)
    assert done.exit_code == 2
    assert said in done.stderr


def test_a_broken_or_unknown_template_is_refused_with_its_problems(files: Path) -> None:
    bad = template()
    bad["fields"][0]["expression"] = '$eval("1")'
    (files / "template.json").write_text(json.dumps(bad))
    done = _render(files)
    assert done.exit_code == 2
    assert "/fields/0/expression: $eval is not allowed" in done.stderr
    unknown = runner.invoke(app, ["returns", "coverage", "no-such-return"])
    assert unknown.exit_code == 2
    assert "no template 'no-such-return'" in unknown.stderr


def test_coverage_counts_each_kind_of_match(files: Path) -> None:
    done = runner.invoke(
        app, ["returns", "coverage", str(files / "template.json"), "--format", "json"]
    )
    assert done.exit_code == 0, done.output
    [found] = json.loads(done.stdout)
    assert (found["exact"], found["derived"], found["unmapped"], found["mappedShare"]) == (
        1,
        3,
        1,
        0.8,
    )
    table = runner.invoke(app, ["returns", "coverage", str(files / "template.json")])
    assert "occupancy-monthly" in table.stdout
    assert "ISOLATION unmapped: The standard does not yet separate" in table.stdout


def test_render_for_several_services_writes_a_row_or_a_return_for_each(files: Path) -> None:
    """svc-x has one October snapshot (cap-other): 1 occupied in each of its three rows."""
    again = ["--service", "svc-x", "--service", SERVICE]
    done = _render(files, "--format", "csv", *again)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [
        "REG,OCC_NURSING,AVG_OCC,SNAPSHOTS,ISOLATION",
        "60,30,46.5,2,",
        "60,1,3,1,",
    ]
    both = json.loads(_render(files, *again).stdout)
    assert [body["serviceId"] for body in both] == [SERVICE, "svc-x"]
    one_book = _render(files, "--format", "xlsx", "--output", str(files / "r.xlsx"), *again)
    assert one_book.exit_code == 2
    assert "--format xlsx takes one --service" in one_book.stderr
