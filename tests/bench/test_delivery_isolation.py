"""The delivery isolation benchmark keeps working: a tiny SQLite run prints both latencies and
their ratio."""

from __future__ import annotations

import re

import pytest

from bench import delivery_isolation


def test_delivery_isolation_benchmark_prints_latencies_and_the_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--backend", "sqlite", "--events", "4", "--interval", "0.1", "--slow-seconds", "0.5"]
    assert delivery_isolation.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3, lines
    assert "fast subscription alone" in lines[0]
    assert "fast subscription with a slow neighbour" in lines[1]
    ratio = re.search(r"slow neighbour / alone: median ([0-9.]+)x, max ([0-9.]+)x", lines[2])
    assert ratio is not None, lines[2]
    assert float(ratio[1]) > 0 and float(ratio[2]) > 0, lines
    # No bound on the ratio: on a loaded machine four events' timings say little (3.6x once,
    # 1.4-1.5x on an idle machine). That one subscription waits for no other is held by the order of
    # events in tests/api/test_delivery_faults.py, which no load changes.
