"""bench.command_start times the command's start against the bare interpreter's."""

from __future__ import annotations

import re

import pytest

from bench import command_start


def test_the_start_is_timed_against_python(capsys: pytest.CaptureFixture[str]) -> None:
    command_start.main(["--runs", "1"])
    output = capsys.readouterr().out
    assert re.search(r"care-exchange --help +\d\.\d{3} s +\d+\.\dx python -c pass", output)
    assert "care-exchange --version" in output
