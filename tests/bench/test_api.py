"""The API benchmark keeps working: a tiny SQLite run prints every rate and every ratio."""

from __future__ import annotations

import pytest

from bench import api


def test_api_benchmark_prints_both_rates_and_the_ratios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--backend", "sqlite", "--records", "30", "--requests", "5", "--repeats", "1"]
    assert api.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 9, lines
    assert all(line.startswith("sqlite ") for line in lines)
    assert "bulk publish over HTTP" in lines[0] and lines[0].endswith("records/s")
    assert "raw SQLAlchemy Core insert" in lines[1] and lines[1].endswith("records/s")
    assert "bulk ratio " in lines[2] and "target of 0.5x" in lines[2]
    for first, reader in ((3, "provider's"), (6, "commissioner's")):
        assert f"{reader} GET over HTTP" in lines[first] and lines[first].endswith("requests/s")
        assert "bare FastAPI GET" in lines[first + 1] and lines[first + 1].endswith("requests/s")
        assert " ratio " in lines[first + 2] and "target of 0.5x" in lines[first + 2]


def test_payloads_are_valid_records_with_distinct_ids() -> None:
    from care_exchange_standard import load_standard

    records = api.payloads(7, "smoke")
    assert len({record["id"] for record in records}) == 7
    validator = load_standard().validator(api.RECORD_TYPE)
    assert all(validator.is_valid(record) for record in records)
