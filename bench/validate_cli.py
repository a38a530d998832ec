"""`care-exchange validate` end to end against `ajv-cli` on the same records and schemas.

The benchmark writes N capacity snapshots (each its own id) as NDJSON, as one JSON array and, when
the spreadsheet reader is installed, as CSV; it times `care-exchange validate` on each as a
separate process (start-up, schema loading, reading and judging all count), and `ajv-cli` with
`ajv-formats` (installed by npm into a cache folder of this benchmark) on the JSON array, with
the standard's own schema files: the record's schema, the common schemas it refers to, and a
one-line schema for "an array of them". Every command first runs once, untimed, on ten records;
ours runs as an installed command does, its modules compiled once (see `installed_python`).
Each contender runs in turn, `--repeats` times, keeping its best time (and, to show the spread,
its slowest) and its largest peak memory: of the largest single process (what `time -f %M`
says) and of all its processes together (their proportional shares, sampled every 20 ms).
Run: `.venv/bin/python -m bench.validate_cli [--records N] [--repeats K] [--no-ajv]`.
Targets: our time no more than ajv's (ratio = ajv's time / ours, at least 1.0x), and our peak
memory under 200 MB.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from care_exchange_standard import SCHEMA_DIR

TARGET_RATIO = 1.0
TARGET_MEMORY_MB = 200
RECORD_TYPE = "capacity-snapshot"
EXAMPLE = SCHEMA_DIR / "examples" / "valid" / RECORD_TYPE / "nursing-home-open.json"
AJV_PACKAGES = ("ajv-cli@5", "ajv-formats@3")
NPM_PREFIX = Path(tempfile.gettempdir()) / "care-exchange-bench-npm"
ARRAY_SCHEMA_ID = "https://care-exchange.org/bench/array-of-records.json"


@dataclass(frozen=True)
class Timing:
    """The best and the slowest time and the peak memory of one contender."""

    name: str
    seconds: float
    largest_mb: float
    total_mb: float
    slowest: float  # the spread shows how much a ratio of best times can move run to run


def records(count: int) -> Iterator[dict[str, Any]]:
    """`count` valid capacity snapshots, each with its own id and one of a thousand services."""
    base = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    for index in range(count):
        yield dict(base, id=f"snap-{index:08d}", serviceId=f"svc-{index % 997:04d}")


def write_inputs(folder: Path, count: int) -> dict[str, Path | str]:
    """The inputs, by format; a format that cannot be written maps to the reason why."""
    ndjson, array = folder / "records.ndjson", folder / "records.json"
    with ndjson.open("w", encoding="utf-8") as lines, array.open("w", encoding="utf-8") as whole:
        whole.write("[")
        for index, record in enumerate(records(count)):
            text = json.dumps(record, separators=(",", ":"))
            lines.write(text + "\n")
            whole.write(("," if index else "") + text)
        whole.write("]\n")
    found: dict[str, Path | str] = {"NDJSON": ndjson, "JSON array": array}
    found["CSV"] = write_csv(folder / "records.csv", count)
    return found


def write_csv(path: Path, count: int) -> Path | str:
    """The records as the spreadsheet part writes them, or why that part cannot."""
    if importlib.util.find_spec("care_exchange_standard.tables") is None:
        return "care_exchange_standard.tables (the spreadsheet reader) is not installed"
    try:
        layout = importlib.import_module("care_exchange_standard.tables.layout")
        writing = importlib.import_module("care_exchange_standard.tables.writing")
        with path.open("wb") as handle:
            writing.write_csv(layout.layout_for(RECORD_TYPE), handle, records(count))
    except (ImportError, AttributeError, TypeError) as error:
        return f"the spreadsheet part cannot write records here ({error})"
    return path


def our_command(path: Path) -> list[str]:
    script = Path(sys.executable).with_name("care-exchange")
    start = [str(script)] if script.exists() else [sys.executable, "-m", "care_exchange_standard"]
    return [*start, "validate", "--type", RECORD_TYPE, str(path)]


def install_ajv(prefix: Path = NPM_PREFIX) -> Path:
    """ajv-cli and ajv-formats in a folder of their own (installed once, then reused)."""
    ajv = prefix / "node_modules" / ".bin" / "ajv"
    if not ajv.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed")
        subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", *AJV_PACKAGES],
            check=True,
            capture_output=True,
        )
    return ajv


def ajv_command(ajv: Path, folder: Path, data: Path) -> list[str]:
    """ajv-cli on the JSON array, with the standard's schema files and formats checked."""
    wrapper = folder / "array-schema.json"
    wrapper.write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": ARRAY_SCHEMA_ID,
                "type": "array",
                "items": {
                    "$ref": f"https://care-exchange.org/schemas/v1/records/{RECORD_TYPE}.json"
                },
            }
        ),
        encoding="utf-8",
    )
    command = [str(ajv), "validate", "--spec=draft2020", "--strict=false", "-c", "ajv-formats"]
    command += ["-s", str(wrapper), "-r", str(SCHEMA_DIR / "records" / f"{RECORD_TYPE}.json")]
    for common in sorted((SCHEMA_DIR / "common").glob("*.json")):
        command += ["-r", str(common)]
    return [*command, "-d", str(data)]


def _tree_memory_kb(pid: int) -> int:
    """The memory of a process and all its descendants, from /proc.

    Each process counts its proportional share (Pss) of the pages it shares with the others
    (forked workers share the parent's), so the sum is what the tree really holds.
    """
    total, waiting = 0, [pid]
    while waiting:
        current = waiting.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(
            (int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")),
            0,
        )
        waiting.extend(int(child) for child in children)
    return total


def installed_python(cache: Path) -> dict[str, str]:
    """The environment of a Python command as installed: its modules compiled once, kept.

    pip compiles an installed package's modules; an editable install here, run where
    PYTHONDONTWRITEBYTECODE is set, would compile ours on every run instead (about 40 ms).
    The compiled files go to `cache`, not beside the sources.
    """
    found = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return found | {"PYTHONPYCACHEPREFIX": str(cache)}


def measure(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """Seconds, largest single process (MB) and all processes together (MB, sampled)."""
    timer = shutil.which("time", path="/usr/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        wrapped = [timer, "-f", "%M", "-o", rss.name, *command] if timer else command
        start = time.perf_counter()
        process = subprocess.Popen(
            wrapped, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.02):
                peak = max(peak, _tree_memory_kb(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, err = process.communicate()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        if process.returncode != 0:
            raise SystemExit(f"{command[0]} failed ({process.returncode}): {err.decode()[-500:]}")
        text = Path(rss.name).read_text().strip().splitlines()
        largest = int(text[-1]) if text and text[-1].isdigit() else peak
    return seconds, largest / 1024, peak / 1024


def commands_for(
    inputs: dict[str, Path | str], ajv: Path | None, folder: Path
) -> dict[str, list[str]]:
    """Each contender's command on these inputs (ours on each format, ajv-cli on the array)."""
    commands = {
        f"care-exchange validate {label}": our_command(path)
        for label, path in inputs.items()
        if isinstance(path, Path)
    }
    array = inputs["JSON array"]
    if ajv is not None and isinstance(array, Path):
        commands["ajv-cli JSON array"] = ajv_command(ajv, folder, array)
    return commands


def run(count: int, repeats: int, with_ajv: bool) -> tuple[list[Timing], list[str]]:
    """The timings of every contender that could run, and a line for each that could not.

    Every command runs once untimed on ten records first, so that none pays for what a
    first run does once (Python compiling modules, the disk cache filling).
    """
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="validate-bench-") as name:
        folder = Path(name)
        inputs = write_inputs(folder, count)
        (folder / "warm").mkdir()
        warm = write_inputs(folder / "warm", 10)
        notes += [
            f"care-exchange validate {label}: skipped, {path}"
            for label, path in inputs.items()
            if isinstance(path, str)
        ]
        ajv: Path | None = None
        if with_ajv:
            try:
                ajv = install_ajv()
            except (RuntimeError, subprocess.CalledProcessError) as error:
                notes.append(f"ajv-cli: skipped, cannot be installed ({error})")
        else:
            notes.append("ajv-cli: skipped (--no-ajv)")
        env = installed_python(folder / "pycache")
        for command in commands_for(warm, ajv, folder / "warm").values():
            measure(command, folder, env)
        commands = commands_for(inputs, ajv, folder)
        best: dict[str, Timing] = {}
        for _ in range(repeats):
            for label, command in commands.items():
                seconds, largest, total = measure(command, folder, env)
                slowest = seconds
                old = best.get(label)
                if old is not None:
                    seconds, slowest = min(seconds, old.seconds), max(seconds, old.slowest)
                    largest, total = max(largest, old.largest_mb), max(total, old.total_mb)
                best[label] = Timing(label, seconds, largest, total, slowest)
    return list(best.values()), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=200_000, help="capacity snapshots")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--no-ajv", action="store_true", help="time care-exchange alone")
    args = parser.parse_args(argv)
    timings, notes = run(args.records, args.repeats, not args.no_ajv)
    size = f"{args.records:,} records"
    for timing in timings:
        sys.stdout.write(
            f"{timing.name:<36} {timing.seconds:7.2f} s (slowest {timing.slowest:5.2f})  "
            f"peak {timing.largest_mb:6.0f} MB (all processes {timing.total_mb:4.0f} MB)  {size}\n"
        )
    for note in notes:
        sys.stdout.write(note + "\n")
    baseline = next((t for t in timings if t.name.startswith("ajv-cli")), None)
    for timing in timings:
        if timing is baseline:
            continue
        label = timing.name.removeprefix("care-exchange validate ")
        memory = "under" if timing.total_mb < TARGET_MEMORY_MB else "OVER"
        if baseline is None:
            sys.stdout.write(f"{label}: no ratio without ajv-cli; memory {memory} 200 MB\n")
            continue
        ratio = baseline.seconds / timing.seconds
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        sys.stdout.write(
            f"{label}: ratio {ratio:.2f}x ({verdict} the target of {TARGET_RATIO:.1f}x), "
            f"memory {memory} {TARGET_MEMORY_MB} MB\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
