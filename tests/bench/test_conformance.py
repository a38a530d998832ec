"""bench.conformance runs the level-1 checks against the reference server and reports its time."""

from __future__ import annotations

import re

import pytest

from bench import conformance


def test_a_level_1_run_is_timed_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    """The plumbing, on a few checks: the whole level-1 run passes in tests/packaging and, area
    by area, in tests/conformance."""
    assert conformance.main(["--backend", "sqlite", "--only", "CX-DISC-*"]) == 0
    output = capsys.readouterr().out
    found = re.search(r"level-1 run of (\d+) checks .*\(0 failed\)", output)
    assert found is not None, output
    assert 1 < int(found[1]) < 10, output
    assert "ratio to the 120 s target" in output
