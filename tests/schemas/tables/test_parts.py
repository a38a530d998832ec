"""A large CSV file in parts reads exactly as the whole file: records, places and errors."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from care_exchange_standard import SCHEMA_DIR
from care_exchange_standard.tables import TableError, read_table
from care_exchange_standard.tables import parts as parts_module
from care_exchange_standard.tables.layout import layout_for
from care_exchange_standard.tables.parts import (
    CsvPart,
    NotPlainError,
    csv_parts,
    in_order,
    read_part,
    read_part_batches,
)
from care_exchange_standard.tables.reading import CSV_FIELD_LIMIT, TableRow, _csv_rows
from care_exchange_standard.tables.writing import write_csv

CAPACITY = "capacity-snapshot"


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts_module, "PART_BYTES", 2_000)
    monkeypatch.setattr(parts_module, "MAX_PART_BYTES", 20_000)


def capacity_csv(path: Path, count: int) -> Path:
    folder = SCHEMA_DIR / "examples" / "valid" / CAPACITY
    pool = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    records = [{**pool[i % len(pool)], "id": f"cs-{i}"} for i in range(count)]
    with path.open("wb") as handle:
        write_csv(layout_for(CAPACITY), handle, records)
    return path


def part_rows(part: CsvPart, path: Path, batched: bool) -> Iterator[TableRow]:
    """A part's rows by `read_part`, or from `read_part_batches` where it batches them."""
    if not batched or part.rest is not None or not part.header:
        yield from read_part(part, path)
        return
    for batch in read_part_batches(part, path, 7):
        assert 0 < len(batch.records) == len(batch.groups) <= 7
        for index, record in enumerate(batch.records):
            row = batch.row(index)
            assert record == (None if row.problems else row.record)
            yield row


def whole_and_parts(
    path: Path, batched: bool = True
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    def seen(rows: Iterator[TableRow]) -> list[tuple[object, ...]]:
        return [
            (row.location, row.record, row.problems, row.cell_for("/beds/1/places")) for row in rows
        ]

    whole = seen(read_table(path, name=path.name))
    return whole, seen(rows_of_parts(path, batched))


def rows_of_parts(path: Path, batched: bool) -> Iterator[TableRow]:
    """The rows of each part in turn, and from a part that must be read in order, the rest."""
    for part in csv_parts(path):
        try:
            rows = list(part_rows(part, path, batched))
        except NotPlainError:
            yield from read_part(in_order(part), path)
            return
        yield from rows


@pytest.mark.parametrize("batched", [False, True])
def test_parts_read_as_the_whole_file(tmp_path: Path, batched: bool) -> None:
    path = capacity_csv(tmp_path / "c.csv", 120)
    parts = list(csv_parts(path))
    assert len(parts) > 5 and all(part.rest is None for part in parts)
    whole, split = whole_and_parts(path, batched)
    assert split == whole and len(whole) == 120


@pytest.mark.parametrize("batched", [False, True])
def test_wrong_cells_blank_lines_and_a_quote_later_on(tmp_path: Path, batched: bool) -> None:
    path = capacity_csv(tmp_path / "c.csv", 120)
    lines = path.read_bytes().split(b"\n")
    lines[40] = lines[40].replace(b",nursing,", b",nursin,")
    lines[41:41] = [b",,,,", b""]
    lines[300] = lines[300].replace(b",residential,", b',"residential, of course",')
    path.write_bytes(b"\n".join(lines))
    parts = list(csv_parts(path))
    assert parts[-1].rest is not None and any(part.rest is None for part in parts)
    whole, split = whole_and_parts(path, batched)
    assert split == whole
    assert any(problems for _, _, problems, _ in whole)


@pytest.mark.parametrize("batched", [False, True])
def test_lines_that_are_not_utf8_are_named_as_in_the_whole_file(
    tmp_path: Path, batched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The part holding the line is read up to it: its records before the line come first."""
    monkeypatch.setattr(parts_module, "HEAD_BYTES", 8_000)  # the line lies past the head
    path = capacity_csv(tmp_path / "c.csv", 120)
    lines = path.read_bytes().split(b"\n")
    lines[250] = lines[250].replace(b"snap", b"sn\xe9p").replace(b"cs-", b"c\xe9-")
    path.write_bytes(b"\n".join(lines))
    assert any(part.span is not None for part in csv_parts(path))
    with pytest.raises(TableError) as whole:
        list(read_table(path, name=path.name))
    assert "on line 251" in str(whole.value)
    found: list[str] = []
    with pytest.raises(TableError) as split:
        for part in csv_parts(path):
            found.extend(row.location for row in part_rows(part, path, batched))
    assert str(split.value) == str(whole.value)
    assert found == locations_until_error(path)


def locations_until_error(path: Path) -> list[str]:
    found: list[str] = []
    with contextlib.suppress(TableError):
        for row in read_table(path, name=path.name):
            found.append(row.location)
    return found


def test_a_file_without_identifiers_is_one_part(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Service identifier,Registered places\n" + "svc-1,4\n" * 2_000)
    [part] = list(csv_parts(path, CAPACITY))
    assert part.rest == 0
    assert len(list(read_part(part, path))) == len(list(read_table(path, name=path.name)))
    with pytest.raises(ValueError, match="read in order"):
        read_part_batches(part, path, 32)


@pytest.mark.parametrize(
    ("find", "put"), [(b"follows.\r\n", b"follows.\r\r\n"), (b"Notes", b"N\xf6tes")]
)
def test_headings_with_a_lone_return_or_not_utf8_make_one_part(
    tmp_path: Path, find: bytes, put: bytes
) -> None:
    """Only the heading rows are read to cut: a file whose headings are not plain is read whole."""
    path = capacity_csv(tmp_path / "c.csv", 120)
    path.write_bytes(path.read_bytes().replace(find, put, 1))
    [part] = list(csv_parts(path))
    assert part.rest == 0 and not part.header

    def read(rows: Iterator[TableRow]) -> object:
        try:
            return [(row.location, row.record, row.problems) for row in rows]
        except TableError as error:
            return str(error)

    assert read(read_part(part, path)) == read(read_table(path, name=path.name))


def test_a_long_run_of_blank_lines_is_soon_given_up_to_be_read_in_order(tmp_path: Path) -> None:
    path = capacity_csv(tmp_path / "c.csv", 30)
    lines = path.read_bytes().split(b"\n")
    lines[20:20] = [b",,,,,,,,,"] * (parts_module.MAX_TRIES + 5_000)
    path.write_bytes(b"\n".join(lines))
    found = list(csv_parts(path))
    assert found[-1].rest is not None
    whole, split = whole_and_parts(path)
    assert split == whole


def test_parts_are_smaller_at_both_ends(tmp_path: Path) -> None:
    """The first is judged before the workers start; the last ones let them finish together."""
    path = capacity_csv(tmp_path / "c.csv", 400)
    total, size = path.stat().st_size, parts_module.PART_BYTES
    spans = [part.span for part in csv_parts(path)]
    assert all(span is not None for span in spans)
    lengths = [length for _, length in spans]  # type: ignore[misc]
    record = max(len(line) for line in path.read_bytes().split(b"\n")[3:]) * 4
    middle = [length for start, length in spans[1:] if total - start > 4 * size]  # type: ignore[misc]
    tail = [length for start, length in spans[1:] if total - start <= 4 * size]  # type: ignore[misc]
    assert lengths[0] < size // 16 + record
    assert len(middle) > 3 and all(size <= length < size + record for length in middle)
    assert len(tail) > 3 and all(length < size // 4 + record for length in tail)
    whole, split = whole_and_parts(path)
    assert split == whole and len(whole) == 400


cell_text = st.text(alphabet="ab é,;\t1", max_size=4)


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    delimiter=st.sampled_from([",", ";", "\t"]),
    ending=st.sampled_from(["\n", "\r\n"]),
    header_rows=st.integers(1, 3),
)
def test_a_plain_parts_rows_are_what_the_csv_module_reads(
    data: st.DataObject, delimiter: str, ending: str, header_rows: int
) -> None:
    """Split with `str.split`, a part's rows (blank ones aside) are the csv module's, numbered
    alike; cells hold other delimiters and spaces, and rows are blank or delimiters only."""
    width = data.draw(st.integers(1, 5))
    row = st.lists(cell_text, min_size=0, max_size=width).map(
        lambda cells: delimiter.join(cell.replace(delimiter, "") for cell in cells)
    )
    heading = delimiter.join(["Record identifier", "Registered places"][:width] or ["x"])
    more = data.draw(st.lists(row, min_size=header_rows - 1, max_size=header_rows - 1))
    header = ending.join([heading, *more]) + ending
    lines = data.draw(st.lists(row, max_size=12))
    body = ending.join(lines) + data.draw(st.sampled_from(["", ending]))
    crlf = ending == "\r\n" and data.draw(st.booleans())  # as csv_parts says, or not said
    skipped = data.draw(st.integers(0, 50))
    data_lines = body.count("\n")
    part = parts_module.CsvPart(
        CAPACITY, header.encode(), body.encode(), skipped, crlf=crlf, lines=data_lines
    )
    plain = parts_module._plain_rows(part, part.data)
    assert plain is not None
    expected = list(_csv_rows(iter((part.header, part.data)), part.skipped))
    assert [(number, cells) for number, cells in plain if any(cells)] == expected


def test_a_part_that_is_not_utf8_or_has_a_huge_cell_is_left_to_the_csv_module() -> None:
    header = b"Record identifier,Registered places\n"
    not_utf8 = b"a,\xe9\n"
    assert (
        parts_module._plain_rows(parts_module.CsvPart(CAPACITY, header, b"", 0), not_utf8) is None
    )
    huge = b"a," + b"x" * (CSV_FIELD_LIMIT + 1) + b"\n"
    assert parts_module._plain_rows(parts_module.CsvPart(CAPACITY, header, b"", 0), huge) is None


def test_a_file_with_headings_only_and_blank_lines_first_reads_as_a_whole(tmp_path: Path) -> None:
    path = capacity_csv(tmp_path / "c.csv", 120)
    lines = path.read_bytes().split(b"\n")
    del lines[1:3]  # the field paths and the notes
    lines[1:1] = [b"", b",,,,", b"  ,"]
    path.write_bytes(b"\n".join(lines))
    assert all(part.rest is None for part in csv_parts(path))
    whole, split = whole_and_parts(path)
    assert split == whole and len(whole) == 120


@pytest.mark.parametrize("ending", ["\r\n", "\n", "mixed"])
def test_parts_say_when_every_line_ends_crlf(tmp_path: Path, ending: str) -> None:
    path = capacity_csv(tmp_path / "c.csv", 120)
    lines = path.read_bytes().split(b"\r\n")
    if ending == "mixed":
        text = b"".join(
            line + (b"\n" if index % 7 == 3 else b"\r\n") for index, line in enumerate(lines)
        )
    else:
        text = ending.encode().join(lines)
    path.write_bytes(text)
    parts = list(csv_parts(path))
    assert len(parts) > 5 and all(part.rest is None for part in parts)
    for part in parts:
        start, length = part.span or (0, 0)
        data = text[start : start + length]
        assert part.crlf == (data.count(b"\r\n") == data.count(b"\n") > 0)
    if ending != "mixed":
        assert {part.crlf for part in parts} == {ending == "\r\n"}
    whole, split = whole_and_parts(path)
    assert split == whole and len(whole) == 120


def test_a_part_of_a_file_gone_or_shrunk_since_it_was_cut_cannot_be_read(tmp_path: Path) -> None:
    path = capacity_csv(tmp_path / "c.csv", 120)
    parts = list(csv_parts(path))
    assert all(part.span is not None and not part.data for part in parts)
    path.write_bytes(path.read_bytes()[: parts[3].span[0] + 10])  # type: ignore[index]
    with pytest.raises(TableError, match="changed while it was being read"):
        list(read_part(parts[3], path))
    path.unlink()
    with pytest.raises(TableError, match="cannot be read"):
        list(read_part(parts[0], path))


def break_line_endings(path: Path, span: tuple[int, int]) -> int:
    """A lone "\r" and a lone "\n" in the lines at `span` (three or more); where they start."""
    start, length = span
    data = path.read_bytes()
    lines = data[start : start + length].split(b"\r\n")
    lines[1] = lines[1][:-1] + b"\r" + lines[1][-1:]
    lines[1] += b"\n" + lines.pop(2)
    path.write_bytes(data[:start] + b"\r\n".join(lines) + data[start + length :])
    return start


@pytest.mark.parametrize("where", [0, 1, 2])
def test_lone_returns_as_many_as_lone_line_feeds_are_read_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: int
) -> None:
    """The cutting counts as many "\r" as "\n": the reader finds that they do not pair up."""
    monkeypatch.setattr(parts_module, "HEAD_BYTES", 3_600)  # the headings: no part's lines
    path = capacity_csv(tmp_path / "c.csv", 120)
    span = list(csv_parts(path))[[0, 4, -1][where]].span
    assert span is not None
    start = break_line_endings(path, span)
    cut = list(csv_parts(path))
    plain = [part for part in cut if part.span is not None and part.span[0] == start]
    assert len(plain) == 1 and plain[0].crlf and all(part.rest is None for part in cut)
    with pytest.raises(NotPlainError):
        list(read_part(plain[0], path))
    with pytest.raises(NotPlainError):
        read_part_batches(plain[0], path, 8)
    whole, split = whole_and_parts(path)
    assert split == whole


def test_a_lone_carriage_return_leaves_the_rest_to_be_read_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = capacity_csv(tmp_path / "c.csv", 120)
    lines = path.read_bytes().split(b"\r\n")
    lines[200] = lines[200].replace(b",nursing,", b",nursing\r,")
    path.write_bytes(b"\r\n".join(lines))
    monkeypatch.setattr(parts_module, "HEAD_BYTES", 5_000)  # the start has no lone return
    parts = list(csv_parts(path))
    assert parts[-1].rest is not None and parts[0].rest is None
    whole, split = whole_and_parts(path)
    assert split == whole


@given(
    data=st.binary(max_size=3_000).map(lambda raw: raw.replace(b"x", b"\r").replace(b"y", b"\n")),
    end=st.integers(0, 3_200),
)
def test_the_compiled_line_count_is_bytes_count(data: bytes, end: int) -> None:
    assert parts_module.line_breaks is not parts_module._counted  # the standard was compiled
    expected = parts_module._counted(data, end)
    assert parts_module.line_breaks(data, end) == expected
    assert parts_module.line_breaks(bytearray(data), end) == expected


def test_the_line_count_refuses_a_negative_end_and_text() -> None:
    with pytest.raises(ValueError, match="negative"):
        parts_module.line_breaks(b"a\nb", -1)
    with pytest.raises(TypeError):
        parts_module.line_breaks("a\nb", 3)  # type: ignore[arg-type]


def test_without_the_compiled_module_parts_are_counted_by_bytes_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = capacity_csv(tmp_path / "c.csv", 120)
    compiled = list(csv_parts(path))
    monkeypatch.setattr(parts_module, "native_module", lambda: None)
    monkeypatch.setattr(parts_module, "line_breaks", parts_module._line_breaks())
    assert parts_module.line_breaks is parts_module._counted
    assert list(csv_parts(path)) == compiled and len(compiled) > 3
