"""A large CSV file judged in parts by worker processes reports as when read in order."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from care_exchange_standard import SCHEMA_DIR, sources, validator
from care_exchange_standard.standard import load_standard
from care_exchange_standard.tables import parts
from care_exchange_standard.tables.layout import layout_for
from care_exchange_standard.tables.writing import write_csv
from tests.schemas.tables.test_parts import break_line_endings

CAPACITY = "capacity-snapshot"


def capacity_csv(path: Path, count: int, wrong: bool = True) -> Path:
    folder = SCHEMA_DIR / "examples" / "valid" / CAPACITY
    pool = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    records = [{**pool[i % len(pool)], "id": f"cs-{i}"} for i in range(count)]
    with path.open("wb") as handle:
        write_csv(layout_for(CAPACITY), handle, records)
    lines = path.read_bytes().split(b"\n")
    for number in range(10, len(lines) if wrong else 0, 7):
        lines[number] = lines[number].replace(b",nursing,", b",nursin,").replace(b",40,", b",-4,")
    path.write_bytes(b"\n".join(lines))
    return path


def report(path: Path) -> dict[str, Any]:
    found = validator.validate_paths(load_standard(), [path], record_type=CAPACITY).as_dict()
    loaded: dict[str, Any] = json.loads(json.dumps(found))
    return loaded


@pytest.mark.parametrize("quote", [False, True])
def test_parts_report_as_the_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quote: bool
) -> None:
    path = capacity_csv(tmp_path / "c.csv", 150)
    if quote:
        data = path.read_bytes()
        cut = len(data) * 2 // 3
        cut = data.index(b",nursing,", cut)
        path.write_bytes(data[:cut] + b',"nursing",' + data[cut + len(b",nursing,") :])
    in_order = report(path)
    monkeypatch.setattr(validator, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(validator, "_cpus", lambda: 2)
    monkeypatch.setattr(parts, "PART_BYTES", 3_000)
    assert validator._in_parts(path, path.name, None) == path
    assert report(path) == in_order
    assert in_order["summary"]["invalid"] > 5


def test_an_unreadable_line_stops_the_parts_where_it_stops_the_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = capacity_csv(tmp_path / "c.csv", 150)
    lines = path.read_bytes().split(b"\n")
    lines[300] = b"cs-x\xe9" + lines[300]
    path.write_bytes(b"\n".join(lines))
    in_order = report(path)
    monkeypatch.setattr(validator, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(validator, "_cpus", lambda: 2)
    monkeypatch.setattr(parts, "PART_BYTES", 3_000)
    monkeypatch.setattr(parts, "HEAD_BYTES", 8_000)  # the line lies in a worker's part
    assert any(part.span for part in parts.csv_parts(path, CAPACITY))
    assert report(path) == in_order
    assert in_order["inputs"][0]["status"] == "unreadable"
    assert "line 301" in in_order["inputs"][0]["message"]


def test_an_unreadable_line_in_the_first_part_stops_it_before_workers_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first part is judged in the process that cuts the file, before it forks workers."""
    path = capacity_csv(tmp_path / "c.csv", 150)
    monkeypatch.setattr(parts, "PART_BYTES", 3_000)
    first = next(parts.csv_parts(path, CAPACITY)).span
    assert first is not None
    data = path.read_bytes()
    path.write_bytes(data[: first[0] + 1] + b"\xe9" + data[first[0] + 1 :])
    in_order = report(path)
    monkeypatch.setattr(validator, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(validator, "_cpus", lambda: 2)
    forked: list[int] = []
    fork = multiprocessing.get_context("fork")
    monkeypatch.setattr(fork, "Pool", lambda jobs: forked.append(jobs))
    assert report(path) == in_order
    assert in_order["inputs"][0]["status"] == "unreadable"
    assert forked == []


def test_a_large_csv_file_forks_one_set_of_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Those judging its parts; none for JSON inputs, as there are none."""
    path = capacity_csv(tmp_path / "c.csv", 150)
    in_order = report(path)
    monkeypatch.setattr(validator, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(validator, "_cpus", lambda: 2)
    monkeypatch.setattr(parts, "PART_BYTES", 3_000)
    fork = multiprocessing.get_context("fork")
    forked: list[int] = []
    real = fork.Pool

    def counted(jobs: int, **options: Any) -> Any:
        forked.append(jobs)
        return real(jobs, **options)

    monkeypatch.setattr(fork, "Pool", counted)
    assert report(path) == in_order
    assert forked == [2]


@pytest.mark.parametrize("kind", ["csv", "ndjson"])
def test_every_worker_keeps_the_memory_it_frees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The parts' workers and the JSON units' both start with `keep_freed_memory`."""
    if kind == "csv":
        path = capacity_csv(tmp_path / "c.csv", 150)
    else:
        example = SCHEMA_DIR / "examples" / "valid" / CAPACITY / "nursing-home-open.json"
        record = json.loads(example.read_text(encoding="utf-8"))
        path = tmp_path / "c.ndjson"
        path.write_text("".join(json.dumps({**record, "id": f"n-{i}"}) + "\n" for i in range(150)))
    marks = tmp_path / "marks"
    marks.mkdir()

    def marked() -> bool:
        (marks / str(os.getpid())).touch()
        return True

    monkeypatch.setattr(validator, "keep_freed_memory", marked)
    monkeypatch.setattr(validator, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(validator, "_cpus", lambda: 2)
    monkeypatch.setattr(parts, "PART_BYTES", 3_000)
    monkeypatch.setattr(sources, "BLOCK", 3_000)
    assert report(path)["summary"]["records"] == 150
    workers = {int(mark.name) for mark in marks.iterdir()}
    assert len(workers) == 2 and os.getpid() not in workers


@pytest.mark.parametrize("where", [0, 3])
def test_a_part_whose_line_ends_do_not_pair_up_is_read_in_order_from_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: int
) -> None:
    """The first part (judged before the workers start) or a worker's."""
    monkeypatch.setattr(parts, "PART_BYTES", 3_000)
    monkeypatch.setattr(parts, "HEAD_BYTES", 3_600)  # the headings: no part's lines
    path = capacity_csv(tmp_path / "c.csv", 150)
    span = list(parts.csv_parts(path, CAPACITY))[where].span
    assert span is not None
    break_line_endings(path, span)
    in_order = report(path)
    monkeypatch.setattr(validator, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(validator, "_cpus", lambda: 2)
    assert report(path) == in_order
    assert in_order["summary"]["invalid"] > 5


def test_an_unreadable_identifier_after_a_record_is_read_as_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record above it is unfinished when the reader stops there: no cut makes it whole."""
    path = capacity_csv(tmp_path / "c.csv", 150, wrong=False)
    monkeypatch.setattr(parts, "PART_BYTES", 3_000)
    monkeypatch.setattr(parts, "HEAD_BYTES", 5_000)
    span = list(parts.csv_parts(path))[3].span
    assert span is not None
    data = path.read_bytes()
    start = span[0] + span[1]  # the next part's first line: a record's identifier
    path.write_bytes(data[:start] + b"\xe9" + data[start:])
    in_order = report(path)
    monkeypatch.setattr(validator, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(validator, "_cpus", lambda: 2)
    assert report(path) == in_order
    assert in_order["inputs"][0]["status"] == "unreadable"


def test_the_records_of_a_part_read_before_an_unreadable_line_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = capacity_csv(tmp_path / "c.csv", 150, wrong=False)
    monkeypatch.setattr(parts, "PART_BYTES", 3_000)
    monkeypatch.setattr(parts, "HEAD_BYTES", 5_000)  # the headings, and no bad byte
    span = list(parts.csv_parts(path))[3].span
    assert span is not None
    data = path.read_bytes()
    end = span[0] + span[1] - len(b"\r\n")  # the end of the part's last line: a notes cell
    path.write_bytes(data[:end] + b"\xe9" + data[end:])
    in_order = report(path)
    monkeypatch.setattr(validator, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(validator, "_cpus", lambda: 2)
    assert all(part.span for part in parts.csv_parts(path))
    assert report(path) == in_order
    assert in_order["inputs"][0]["status"] == "unreadable"
    assert in_order["inputs"][0]["records"] == in_order["summary"]["valid"] > 10


@pytest.mark.parametrize("in_parts", [False, True])
def test_headings_over_blank_rows_are_no_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_parts: bool
) -> None:
    """Refused as an empty file is, whether read in order or as a large file is.

    (No record ends among blank rows, so a large file of them is read in order from its
    first part.)
    """
    path = capacity_csv(tmp_path / "c.csv", 0)
    path.write_bytes(path.read_bytes() + (b"," * 19 + b"\r\n") * 2_000)
    if in_parts:
        monkeypatch.setattr(validator, "POOL_THRESHOLD", 1)
        monkeypatch.setattr(validator, "_cpus", lambda: 2)
        monkeypatch.setattr(parts, "PART_BYTES", 3_000)
        assert validator._in_parts(path, path.name, None) == path
    found = report(path)
    assert found["inputs"] == [
        {
            "name": str(path),
            "status": "unreadable",
            "message": validator.NO_ROWS,
            "records": 0,
            "valid": 0,
            "invalid": 0,
        }
    ]
    assert found["valid"] is False


@pytest.mark.parametrize("unreadable", [False, True])
def test_a_part_is_judged_with_the_cycle_collector_paused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unreadable: bool
) -> None:
    """And it runs again after, when the reader gives up too."""
    path = capacity_csv(tmp_path / "c.csv", 150, wrong=False)
    if unreadable:
        lines = path.read_bytes().split(b"\n")
        lines[40] = b"cs-x\xe9" + lines[40]
        path.write_bytes(b"\n".join(lines))
    part = next(p for p in parts.csv_parts(path, CAPACITY) if p.span)
    monkeypatch.setattr(validator, "_worker_standard", load_standard())
    seen: list[bool] = []
    real = validator._judge_batches

    def spied(*arguments: Any) -> None:
        seen.append(gc.isenabled())
        real(*arguments)

    monkeypatch.setattr(validator, "_judge_batches", spied)
    outcome = validator._judge_part(part, path)
    assert seen == [False]
    assert gc.isenabled()
    assert (outcome.error is not None) is unreadable
    assert sum(sum(counts) for counts in outcome.tally.values()) > 0


def test_the_cycle_collector_stays_off_when_it_was_off() -> None:
    gc.disable()
    try:
        with validator._collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ValueError), validator._collector_paused():
        raise ValueError
    assert gc.isenabled()
