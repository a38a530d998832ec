"""A level-1 conformance run against the reference server, timed: the target is two minutes.

The reference server runs under uvicorn on a real socket with the demo seeded, on each backend
asked for; the suite runs every level-1 check against it, as a vendor's CI would. The ratio is
the run's time against the two-minute target (below 1 meets it).
Run: `.venv/bin/python -m bench.conformance [--backend sqlite|postgresql|both] [--only CX-AUTH-*]`
(`--only`, repeatable, times the checks of those ids alone; the target is for the whole run).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from bench.api import fresh_database, reachable_backends
from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import Level, Target, select
from care_exchange_conformance.runner import Status, run
from care_exchange_testing.reference import serve_reference

TARGET_SECONDS = 120.0


def timed_run(backend: str, only: Sequence[str] = ()) -> tuple[float, int, int]:
    """Seconds for a level-1 run, the checks run, and how many failed or erred.

    A check that does not apply to the demo (CX-RCPT-004 needs a record published for real,
    and the suite publishes only test data) is neither.
    """
    chosen = select(all_checks(), only, level=Level.REQUIRED, target=Target.SERVER)
    with fresh_database(backend) as url, serve_reference(url) as config:
        started = time.perf_counter()
        report = run(config, chosen, seed=1)
        seconds = time.perf_counter() - started
    failed = report.count(Status.FAILED) + report.count(Status.ERROR)
    return seconds, len(report.results), failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN")
    args = parser.parse_args(argv)
    backends = reachable_backends(args.backend)
    if backends is None:
        return 1
    for backend in backends:
        seconds, checks, failed = timed_run(backend, args.only)
        ratio = seconds / TARGET_SECONDS
        verdict = "meets" if ratio < 1 else "MISSES"
        sys.stdout.write(
            f"{backend:<10} level-1 run of {checks} checks   {seconds:8.2f} s"
            f"   ({failed} failed)\n"
            f"{backend:<10} ratio to the {TARGET_SECONDS:.0f} s target"
            f" {ratio:.3f}x ({verdict} it)\n"
        )
        if failed:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
