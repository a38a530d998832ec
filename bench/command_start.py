"""How long `care-exchange --help` and `--version` take to answer, against `python -c pass`.

Each is run as a new process several times and the median kept; the ratio is against the bare
interpreter's start measured in the same run, and the verdict against the 0.3 s target (the
command imports nothing heavy until a subcommand runs).
Run: `.venv/bin/python -m bench.command_start [--runs N]`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.3


def median_seconds(command: list[str], runs: int) -> float:
    """The median wall time of `command` over `runs` runs, after one warm-up run."""
    times: list[float] = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def command_path() -> str:
    beside = Path(sys.executable).with_name("care-exchange")
    found = str(beside) if beside.exists() else shutil.which("care-exchange")
    if found is None:
        raise SystemExit("care-exchange is not installed in this environment")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    bare = median_seconds([sys.executable, "-c", "pass"], args.runs)
    sys.stdout.write(f"python -c pass              {bare:6.3f} s\n")
    missed = False
    for option in ("--help", "--version"):
        seconds = median_seconds([command_path(), option], args.runs)
        verdict = "meets" if seconds < TARGET_SECONDS else "MISSES"
        missed |= seconds >= TARGET_SECONDS
        sys.stdout.write(
            f"care-exchange {option:<12} {seconds:6.3f} s   {seconds / bare:5.1f}x python -c pass"
            f"   ({verdict} the {TARGET_SECONDS} s target)\n"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
