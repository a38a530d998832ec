"""Validator throughput: the compiled validator against `jsonschema`'s Draft202012Validator.

Both judge the same records (every shipped example, valid and invalid, repeated) with formats
checked; the ratio is what matters, since both run on the same machine in the same process.
Run: `.venv/bin/python -m bench.validators [--records N] [--repeats K]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from care_exchange_standard import SCHEMA_DIR, Standard, load_standard

TARGET_RATIO = 50.0


@dataclass(frozen=True)
class Result:
    """Records per second of one contender, best of several timed passes."""

    name: str
    per_second: float


def sample(standard: Standard, count: int) -> list[tuple[str, Any]]:
    """`count` records cycling through every example, each with the type it declares."""
    examples = sorted((SCHEMA_DIR / "examples").glob("*/*/*.json"))
    pool = []
    for path in examples:
        if path.parent.parent.name == "expected-errors":
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        type_name = standard.type_of(record)
        if isinstance(type_name, str):
            pool.append((type_name, record))
    return [pool[index % len(pool)] for index in range(count)]


def best_rate(
    name: str, records: list[tuple[str, Any]], check: Callable[[str, Any], bool], repeats: int
) -> tuple[Result, list[bool]]:
    verdicts = [check(type_name, record) for type_name, record in records]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for type_name, record in records:
            check(type_name, record)
        best = min(best, time.perf_counter() - start)
    return Result(name, len(records) / best), verdicts


def run(count: int, repeats: int) -> tuple[Result, Result]:
    standard = load_standard()
    records = sample(standard, count)
    fast = {name: standard.validator(name) for name in standard.types}
    reference = {name: standard.reference_validator(name) for name in standard.types}
    compiled, fast_verdicts = best_rate(
        "jsonschema-rs (compiled)",
        records,
        lambda type_name, record: fast[type_name].is_valid(record),
        repeats,
    )
    baseline, reference_verdicts = best_rate(
        "jsonschema Draft202012Validator",
        records,
        lambda type_name, record: reference[type_name].is_valid(record),
        repeats,
    )
    if fast_verdicts != reference_verdicts:
        raise SystemExit("the validators disagree on a verdict: the comparison is meaningless")
    return compiled, baseline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=3000, help="records per timed pass")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes; the best counts")
    args = parser.parse_args(argv)
    compiled, baseline = run(args.records, args.repeats)
    ratio = compiled.per_second / baseline.per_second
    for result in (compiled, baseline):
        sys.stdout.write(f"{result.name:<34} {result.per_second:>12,.0f} records/s\n")
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    sys.stdout.write(f"ratio {ratio:.1f}x ({verdict} the target of {TARGET_RATIO:.0f}x)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
