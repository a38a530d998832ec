"""bench.publish_cli times the command against raw bulk calls and prints the ratio."""

from __future__ import annotations

import re

import pytest

from bench import publish_cli


def test_the_command_and_the_baseline_both_publish_and_are_compared(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert publish_cli.main(["--records", "300", "--repeats", "2"]) == 0
    output = capsys.readouterr().out
    assert re.search(r"ratio \d+\.\d\dx \((meets|MISSES) the target of 0\.8x\)", output)
    for label in ("care-exchange publish \\(CSV\\)", "raw httpx bulk calls"):
        found = re.search(label + r" +(\d+\.\d\d) s \(slowest +(\d+\.\d\d)\)", output)
        assert found is not None, output
        assert 0 < float(found[1]) <= float(found[2])
