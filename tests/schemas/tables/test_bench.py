"""bench.tables keeps working: a tiny run prints every reader's line and the throughput."""

from __future__ import annotations

import pytest

from bench import tables


def test_the_spreadsheet_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert tables.main(["--blank-rows", "2000", "--records", "12"]) == 0
    out = capsys.readouterr().out
    assert out.count("ours ") == 3
    assert out.count("records 2") >= 3
    assert "CSV  written" in out and "XLSX written" in out
