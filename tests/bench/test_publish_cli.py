"""bench.publish_cli times the command against raw bulk calls and prints the ratio."""

from __future__ import annotations

import re

import pytest

from bench import publish_cli


def test_the_command_and_the_baseline_both_publish_and_are_compared(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert publish_cli.main(["--records", "300"]) == 0
    output = capsys.readouterr().out
    assert re.search(r"ratio \d+\.\d\dx \((meets|MISSES) the target of 0\.8x\)", output)
    assert "care-exchange publish (CSV)" in output
