"""The returns benchmark keeps working: both contenders agree on every field (no timing)."""

from __future__ import annotations

import pytest

from bench import returns


def test_the_engine_and_the_hand_written_code_agree_and_the_ratio_is_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert returns.main(["--services", "3", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("engine (sandboxed JSONata, one worker)")
    assert lines[1].startswith("hand-written Python")
    assert lines[2].startswith("engine, a new worker's first batch")
    assert lines[3].startswith("engine, a new worker per return")
    assert lines[4].startswith("ratio ") and "target of 0.25x" in lines[4]


def test_a_disagreement_is_reported_not_timed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparison can fail: a hand-written field that is off by one is caught."""
    honest = returns.by_hand

    def off_by_one(kinds: dict[str, list[returns.Record]]) -> returns.Answers:
        found = honest(kinds)
        return found | {"MaximumCapacity": found["MaximumCapacity"] + 1}

    monkeypatch.setattr(returns, "by_hand", off_by_one)
    assert returns.main(["--services", "2", "--rounds", "1"]) == 1
    assert "disagree" in capsys.readouterr().out
