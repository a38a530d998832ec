"""The feed benchmark keeps working: a tiny PostgreSQL run prints both page times and the ratio."""

from __future__ import annotations

import pytest

from bench import api, feed


def test_feed_benchmark_prints_page_times_and_the_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reason = api.postgres_unreachable()
    if reason:
        pytest.skip(reason)
    argv = ["--small", "1000", "--large", "3000", "--organisations", "4", "--repeats", "1"]
    assert feed.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3, lines
    assert "after     1,000 changes" in lines[0] and lines[0].endswith(" ms")
    assert "after     3,000 changes" in lines[1] and lines[1].endswith(" ms")
    assert "feed page time ratio " in lines[2] and "target of at most 1.5" in lines[2]
