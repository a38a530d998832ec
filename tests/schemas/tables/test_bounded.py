"""Long runs of blank rows are streamed past, not held: memory stays flat.

How quickly they are passed over is measured by `bench.tables` (`--blank-rows`), not here.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from care_exchange_standard.tables import read_table
from care_exchange_testing.spreadsheets import Blank, blank_rows_csv, blank_rows_xlsx

BLANK_ROWS = 100_000
HEADINGS = ["Record identifier", "Service identifier", "As at", "Registered places", "Notes"]
RECORDS: list[list[str | int]] = [
    ["cs-1", "svc-1", "2026-11-02 09:00", 40, "first"],
    ["cs-2", "svc-1", "2026-11-02 09:00", 41, "after the blank rows"],
]
PEAK_BYTES = 16 << 20


def read_all(path: Path) -> tuple[list[tuple[str, int]], int]:
    tracemalloc.start()
    try:
        found = [
            (row.location, row.record["registeredPlaces"])
            for row in read_table(path, name=path.name, record_type="capacity-snapshot")
        ]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return found, peak


@pytest.mark.parametrize("blank", ["styled", "empty-string"])
def test_an_xlsx_with_many_blank_rows_and_a_lying_dimension(tmp_path: Path, blank: Blank) -> None:
    path = blank_rows_xlsx(
        tmp_path / "blank.xlsx", "Capacity snapshot", HEADINGS, RECORDS, BLANK_ROWS, blank
    )
    found, peak = read_all(path)
    assert found == [
        ("Capacity snapshot!row 2", 40),
        (f"Capacity snapshot!row {BLANK_ROWS + 3}", 41),
    ]
    assert peak < PEAK_BYTES


def test_a_csv_with_many_blank_rows(tmp_path: Path) -> None:
    path = blank_rows_csv(tmp_path / "blank.csv", HEADINGS, RECORDS, BLANK_ROWS, blank_width=9)
    assert path.stat().st_size > 5_000_000
    found, peak = read_all(path)
    assert found == [("row 2", 40), (f"row {BLANK_ROWS + 3}", 41)]
    assert peak < PEAK_BYTES
