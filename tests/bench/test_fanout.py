"""The fan-out benchmark keeps working: a tiny run prints both rates and the ratio."""

from __future__ import annotations

import pytest

from bench import fanout


def test_fanout_benchmark_prints_both_rates_and_the_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--backend", "sqlite", "--subscriptions", "5", "--rounds", "1"]
    assert fanout.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("sqlite") and lines[0].endswith("deliveries/s")
    assert "plain async httpx loop" in lines[1]
    assert "fan-out ratio " in lines[2] and "target of 0.5x" in lines[2]
