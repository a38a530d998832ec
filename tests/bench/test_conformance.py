"""bench.conformance runs the level-1 checks against the reference server and reports its time."""

from __future__ import annotations

import pytest

from bench import conformance


def test_a_level_1_run_is_timed_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert conformance.main(["--backend", "sqlite"]) == 0
    output = capsys.readouterr().out
    assert "(0 failed)" in output
    assert "ratio to the 120 s target" in output
