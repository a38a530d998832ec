"""The SDK benchmark keeps working: a tiny run prints both rates and the ratio."""

from __future__ import annotations

import pytest

from bench import sdk


def test_sdk_benchmark_prints_both_rates_and_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    assert sdk.main(["--records", "20", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3, lines
    assert "SDK publish_many" in lines[0] and lines[0].endswith("records/s")
    assert "raw httpx2 bulk calls" in lines[1]
    assert "SDK bulk ratio " in lines[2] and "target of 0.9x" in lines[2]
