"""The delivery isolation benchmark keeps working: a tiny SQLite run prints both latencies."""

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
    ratio = re.search(r"slow neighbour / alone: median ([0-9.]+)x", lines[2])
    assert ratio is not None, lines[2]
    # Each subscription progresses on its own: the slow neighbour's half second per event would
    # make a fast event wait for several of them in a worker that works in rounds.
    assert float(ratio.group(1)) < 3.0, lines
