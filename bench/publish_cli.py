"""`care-exchange publish` of a CSV spreadsheet against raw httpx bulk calls, in the same run.

Both publish the same number of fresh capacity snapshots to one reference server (the demo
seeded, uvicorn on loopback, real tokens) through `POST /v1/bulk`:

- ours: the command as a provider runs it, in its own process: it reads the CSV a
  spreadsheet would save, validates every record here, then publishes in chunks with its
  progress bar and its table; its start-up is counted;
- the baseline: records already in memory as JSON, a token fetched once, posted 500 at a time
  with httpx2 and nothing checked but the count of 201s (`bench.sdk.raw_bulk`).

The ratio is the baseline's best time over ours (issue 12's target: at least 0.8x). With
`--repeats K` each contender runs K times, in turn, each time on a fresh server, and keeps its
best and its slowest time: one run of each swings by a tenth and more on this machine, as the
server's writes wait on the disk.
Run: `.venv/bin/python -m bench.publish_cli [--backend sqlite|postgresql] [--records N]
[--repeats K]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.api import fresh_database, postgres_unreachable
from bench.sdk import fresh_records, raw_bulk
from care_exchange_conformance.config import Party
from care_exchange_standard.tables.layout import layout_for
from care_exchange_standard.tables.writing import write_csv
from care_exchange_testing.reference import serve_reference

TARGET_RATIO = 0.8
RECORD_TYPE = "capacity-snapshot"


def ours(base_url: str, party: Party, sheet: Path) -> float:
    command = str(Path(sys.executable).with_name("care-exchange"))
    environment = {
        **os.environ,
        "CARE_EXCHANGE_BASE_URL": base_url,
        "CARE_EXCHANGE_CLIENT_ID": party.client_id,
        "CARE_EXCHANGE_CLIENT_SECRET": party.client_secret,
        "CARE_EXCHANGE_PROFILES": str(sheet.with_name("no-profiles.toml")),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [command, "publish", str(sheet)], env=environment, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"care-exchange publish failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def run(backend: str, count: int, repeats: int = 1) -> tuple[list[float], list[float]]:
    """The seconds of each run of ours and of the baseline, the two taking turns."""
    ours_times: list[float] = []
    baseline_times: list[float] = []
    for _ in range(repeats):
        ours_times.append(run_ours(backend, count))
        baseline_times.append(run_baseline(backend, count))
    return ours_times, baseline_times


def run_baseline(backend: str, count: int) -> float:
    """Seconds for the baseline, on a fresh server and database of its own.

    Inserting into an empty table costs less than into one that already holds the other
    contender's records, so each contender has its own.
    """
    with fresh_database(backend) as url, serve_reference(url) as config:
        assert config.publisher is not None and config.service_id is not None
        return raw_bulk(config.base_url, config.publisher, fresh_records(count, config.service_id))


def run_ours(backend: str, count: int) -> float:
    """Seconds for the command, on a fresh server and database of its own."""
    with (
        tempfile.TemporaryDirectory(prefix="care-exchange-publish-") as folder,
        fresh_database(backend) as url,
        serve_reference(url) as config,
    ):
        assert config.publisher is not None and config.service_id is not None
        sheet = Path(folder) / "capacity.csv"
        with sheet.open("wb") as handle:
            write_csv(layout_for(RECORD_TYPE), handle, fresh_records(count, config.service_id))
        return ours(config.base_url, config.publisher, sheet)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=1)
    options = parser.parse_args(argv)
    if options.backend == "postgresql" and (reason := postgres_unreachable()):
        sys.stdout.write(f"postgresql skipped: {reason}\n")
        return 1
    ours_times, baseline_times = run(options.backend, options.records, max(options.repeats, 1))
    command, baseline = min(ours_times), min(baseline_times)
    ratio = baseline / command
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    for label, best, times in (
        ("care-exchange publish (CSV)", command, ours_times),
        ("raw httpx bulk calls       ", baseline, baseline_times),
    ):
        sys.stdout.write(
            f"{options.backend:<10} {label}  {best:8.2f} s (slowest {max(times):6.2f})"
            f"  {options.records / best:8,.0f} records/s\n"
        )
    sys.stdout.write(
        f"{options.backend:<10} ratio {ratio:.2f}x ({verdict} the target of {TARGET_RATIO}x)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
