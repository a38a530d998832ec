"""The benchmark keeps working: a tiny run prints both rates and the ratio (no timing asserted)."""

from __future__ import annotations

import pytest

from bench import validators


def test_benchmark_prints_both_rates_and_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    assert validators.main(["--records", "40", "--repeats", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("jsonschema-rs (compiled)") and lines[0].endswith("records/s")
    assert lines[1].startswith("jsonschema Draft202012Validator")
    assert lines[2].startswith("ratio ") and "target of 50x" in lines[2]


def test_sample_cycles_through_every_example_type() -> None:
    from care_exchange_standard import load_standard

    standard = load_standard()
    records = validators.sample(standard, 500)
    assert len(records) == 500
    assert {type_name for type_name, _ in records} == set(standard.types)
