"""Spreadsheet reading: our streaming reader against openpyxl and python-calamine, and throughput.

1. Blank rows: a workbook with two records separated by a million rows that hold nothing (empty
   strings, or formatted empty cells), and a ~50 MB CSV of the same shape. Each reader runs in a
   child process, so its peak memory (max RSS) is its own; openpyxl (read-only mode) and
   python-calamine are measured when installed (they are not dependencies).
2. Throughput: capacity snapshots written with the blank spreadsheet's layout and read back as
   records, against `json.loads` of the same records as NDJSON, in the same run.
Run: `.venv/bin/python -m bench.tables [--blank-rows N] [--records N]`.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from care_exchange_standard import SCHEMA_DIR
from care_exchange_standard.tables import read_table
from care_exchange_standard.tables.layout import layout_for
from care_exchange_standard.tables.writing import write_csv, write_xlsx
from care_exchange_testing.spreadsheets import blank_rows_csv, blank_rows_xlsx

HEADINGS = ["Record identifier", "Service identifier", "As at", "Registered places", "Notes"]
RECORDS: list[list[str | int]] = [
    ["cs-1", "svc-1", "2026-11-02 09:00", 40, "first"],
    ["cs-2", "svc-1", "2026-11-02 09:00", 41, "after the blank rows"],
]
CHILD = r"""
import resource, sys, time
reader, path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
found = 0
if reader == "ours":
    from care_exchange_standard.tables import read_table
    from pathlib import Path
    found = sum(1 for _ in read_table(Path(path), name=path, record_type="capacity-snapshot"))
elif reader == "openpyxl":
    import openpyxl
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    sheet = book.worksheets[0]
    sheet.reset_dimensions()
    for row in sheet.iter_rows(values_only=True):
        found += any(value not in (None, "") for value in row)
    found -= 1
elif reader == "calamine":
    import python_calamine
    sheet = python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0)
    for row in sheet.iter_rows():
        found += any(value not in (None, "") for value in row)
    found -= 1
seconds = time.perf_counter() - start
print(found, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def child(reader: str, path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, reader, str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return f"{reader:9} not measured ({last})"
    found, seconds, peak = done.stdout.split()
    return f"{reader:9} {float(seconds):7.2f} s  peak {int(peak) / 2**20:6.0f} MiB  records {found}"


def blank_rows(count: int, folder: Path) -> None:
    print(f"Two records around {count:,} blank rows:")
    for blank in ("empty-string", "styled"):
        path = blank_rows_xlsx(
            folder / f"{blank}.xlsx", "Capacity snapshot", HEADINGS, RECORDS, count, blank
        )
        print(f"  XLSX, {blank} blank cells ({path.stat().st_size / 2**20:.0f} MiB):")
        for reader in ("ours", "openpyxl", "calamine"):
            print("    " + child(reader, path))
    path = blank_rows_csv(folder / "blank.csv", HEADINGS, RECORDS, count, blank_width=9)
    print(f"  CSV ({path.stat().st_size / 2**20:.0f} MiB):")
    print("    " + child("ours", path))


def throughput(count: int) -> None:
    folder = SCHEMA_DIR / "examples" / "valid" / "capacity-snapshot"
    pool = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    records = [{**pool[i % len(pool)], "id": f"cs-{i}"} for i in range(count)]
    layout = layout_for("capacity-snapshot")
    ndjson = "\n".join(json.dumps(record) for record in records).encode()
    start = time.perf_counter()
    baseline = [json.loads(line) for line in ndjson.splitlines()]
    json_seconds = time.perf_counter() - start
    print(f"{count:,} capacity snapshots read back as records:")
    print(f"  NDJSON json.loads {json_seconds:7.2f} s")
    for fmt, writer in (("csv", write_csv), ("xlsx", write_xlsx)):
        buffer = io.BytesIO()
        start = time.perf_counter()
        writer(layout, buffer, records)
        wrote = time.perf_counter() - start
        buffer.seek(0)
        start = time.perf_counter()
        rows = [row.record for row in read_table(buffer, name=f"bench.{fmt}")]
        seconds = time.perf_counter() - start
        assert rows == baseline, f"{fmt} did not round-trip"
        print(
            f"  {fmt.upper():4} written {wrote:6.2f} s, read {seconds:6.2f} s "
            f"({count / seconds:,.0f} records/s, {seconds / json_seconds:.1f}x NDJSON's time, "
            f"{buffer.getbuffer().nbytes / 2**20:.1f} MiB)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blank-rows", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=50_000)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        blank_rows(options.blank_rows, Path(folder))
    throughput(options.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
