"""A large CSV file cut into parts of whole records, each read on its own (in worker processes).

`csv_parts` runs in the process that splits the file: it reads the heading rows as `read_table`
does, then cuts the data after it at the lines where one record ends and the next begins (the
"Record identifier" changes). A part carries the heading rows, so `read_part` reads it with
`read_table`'s own reader, and the count of data rows before it, so its rows and lines are
numbered as in the whole file. Cutting is exact only while rows are lines: the rest of the file
from the first part that holds a quote (a cell with a comma or a line break in it may span
lines) or a lone carriage return is one part read in order from its place in the file. (The
reader of a part finds a lone carriage return among lines that end CR LF: NotPlainError.)
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from care_exchange_standard.sources import InputError, read_span
from care_exchange_standard.tables.builder import native_module
from care_exchange_standard.tables.layout import RECORD_ID, layout_for, record_types
from care_exchange_standard.tables.reading import (
    CSV_FIELD_LIMIT,
    Cells,
    RowBatch,
    TableError,
    TableRow,
    _after_heading,
    _as_cells,
    _csv_records,
    _csv_rows,
    _guess_from,
    _map_headings,
    blocks_of,
    csv_delimiter,
    csv_rows_batches,
    csv_rows_records,
    read_table,
)

_LONE_RETURN = re.compile(rb"\r(?!\n)")  # a line break of its own to the csv module
PART_BYTES = 1 << 20
MAX_PART_BYTES = 16 << 20  # no record boundary found in this much: read the rest in order
MAX_TRIES = 10_000  # nor in this many lines (blank ones, or a record of very many lines)
HEAD_BYTES = 1 << 20  # the heading rows must lie in this much of the file's start


@dataclass(frozen=True)
class CsvPart:
    """Whole records of a CSV file, with what is needed to read them on their own."""

    record_type: str | None
    header: bytes  # the file's heading rows (field-path and notes rows too)
    data: bytes  # whole lines of data rows (b"" with `span` or `rest`)
    skipped: int  # data rows (each one line) before this part
    rest: int | None = None  # instead of data: read the file from this byte offset on
    # The data holds as many "\r" as "\n" (its `lines`): each line should end "\r\n", as Excel
    # and the csv module write. The reader checks it (NotPlainError).
    crlf: bool = False
    span: tuple[int, int] | None = None  # instead of data: its start and length in the file
    lines: int = 0  # the line breaks ("\n") in the data


class NotPlainError(Exception):
    """A part holding a lone carriage return, which the csv module reads as a line break.

    The rows of the parts after it are numbered wrongly: the file is read in order from the
    start of this part instead (`in_order`). Cutting leaves this rare case to the reader, which
    finds it in splitting the lines, as looking for it costs the cutting process as much again.
    """


def csv_parts(path: Path, record_type: str | None = None) -> Iterator[CsvPart]:
    """The parts of a CSV file, in order; one part for all of it when it cannot be cut.

    A part says where its lines are (`span`), and the worker that reads it reads them from
    the file: a megabyte a part is not copied through a pipe.
    """
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        found = _heading(head, record_type)
        if found is None:
            yield CsvPart(record_type, b"", b"", 0, rest=0)
            return
        header_bytes, record_type, id_index, delimiter = found
        # Read into one growing buffer, its parts looked at where they lie: not copied.
        buffer, offset, skipped = bytearray(head[header_bytes:]), header_bytes, 0
        header = head[:header_bytes]
        # The size when cutting starts: a file that grows meanwhile ends in small parts.
        at_end, total = False, os.fstat(handle.fileno()).st_size
        while buffer or not at_end:
            size = _part_size(offset - header_bytes, total - offset)
            cut, searched, tries = 0, size - 1, 0
            while True:
                if len(buffer) >= size:
                    cut, searched, tries = _cut(buffer, searched, tries, id_index, delimiter)
                    if cut or tries >= MAX_TRIES or len(buffer) >= MAX_PART_BYTES:
                        break
                if at_end:
                    break
                block = handle.read(PART_BYTES)
                at_end = not block
                buffer += block
            if at_end and not cut:
                cut = len(buffer)
            lines, returns = line_breaks(buffer, cut)
            crlf = returns == lines > 0  # the reader checks that they pair up
            lone = returns and not crlf and _LONE_RETURN.search(buffer, 0, cut)
            if not cut or lone or buffer.find(b'"', 0, cut) >= 0:
                yield CsvPart(record_type, header, b"", skipped, rest=offset)
                return
            span = (offset, cut)
            yield CsvPart(record_type, header, b"", skipped, crlf=crlf, span=span, lines=lines)
            skipped += lines
            offset += cut
            del buffer[:cut]


def _counted(data: bytes | bytearray, end: int) -> tuple[int, int]:
    return data.count(b"\n", 0, end), data.count(b"\r", 0, end)


def _line_breaks() -> Callable[[bytes | bytearray, int], tuple[int, int]]:
    """The line feeds and carriage returns in `data[:end]`: in C where it was compiled.

    `bytes.count` reads a byte at a time; the process cutting the parts counts every byte of
    the file while the workers judge, so its time is taken from theirs.
    """
    native = native_module()
    return _counted if native is None else native.line_breaks


line_breaks = _line_breaks()


def _part_size(before: int, after: int) -> int:
    """How large to cut the part with `before` bytes of data before it and `after` from it on.

    Parts are smaller at both ends. The first is judged while the other processors wait (the
    validator judges it before forking its workers, so that they start with what it made), and
    the last ones let the workers finish together: one may wait alone for the other's last part.
    """
    if not before:
        return PART_BYTES // 16
    return PART_BYTES if after > 4 * PART_BYTES else PART_BYTES // 4


def in_order(part: CsvPart) -> CsvPart:
    """The part that reads the file in order from the start of this one."""
    if part.rest is not None or part.span is None:
        return part
    return CsvPart(part.record_type, part.header, b"", part.skipped, rest=part.span[0])


def read_part(part: CsvPart, path: Path) -> Iterator[TableRow]:
    """The records of one part, located as in the whole file (TableError as `read_table`).

    NotPlainError, before any record, when the part must be read `in_order`.
    """
    if not part.header:  # the whole file
        yield from read_table(path, name="whole.csv", record_type=part.record_type)
        return
    if part.rest is None:
        yield from csv_rows_records(_part_rows(part, path), part.record_type)
        return
    try:
        handle = path.open("rb")
    except OSError as error:
        raise TableError(f"cannot be read ({error.strerror or error})") from None
    with handle:
        handle.seek(part.rest)
        blocks = itertools.chain((part.header,), blocks_of(handle))
        yield from _csv_records(blocks, part.record_type, part.skipped)


def read_part_batches(part: CsvPart, path: Path, size: int) -> Iterator[RowBatch]:
    """The records of a part of whole lines (not one to read in order), `size` a batch.

    As `read_part`, for bulk validation: a record is made a TableRow only when asked.
    NotPlainError, at once, when the part must be read `in_order`.
    """
    if not part.header or part.rest is not None:
        raise ValueError("a part read in order has no batches: read it with read_part")
    return csv_rows_batches(_part_rows(part, path), part.record_type, size)


def _part_rows(part: CsvPart, path: Path) -> Iterator[tuple[int, list[str]]]:
    data = part.data if part.span is None else _span(path, *part.span)
    rows = _plain_rows(part, data)
    if rows is None:
        rows = _csv_rows(iter((part.header, data)), part.skipped)
    return rows


@functools.lru_cache(maxsize=4)
def _header_rows(header: bytes) -> tuple[list[tuple[int, list[str]]], int, str]:
    """The heading rows as `_csv_rows` numbers them, how many rows they are, the delimiter."""
    rows = list(_csv_rows(iter((header,))))
    text = header.decode("utf-8").removeprefix(codecs.BOM_UTF8.decode("utf-8"))
    delimiter = csv_delimiter(text.partition("\n")[0])
    count = sum(1 for _ in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return rows, count, delimiter


def _span(path: Path, start: int, length: int) -> bytes:
    """A part's lines from the file; TableError when it is gone or has shrunk since it was cut."""
    try:
        return read_span(str(path), start, length)
    except InputError as error:
        raise TableError(str(error)) from None


def _plain_rows(part: CsvPart, data: bytes) -> Iterator[tuple[int, list[str]]] | None:
    """The part's rows as `_csv_rows` gives them (and blank ones), or None where only it can.

    A part is cut only where it holds no quote, and one with a lone carriage return is refused
    here (NotPlainError), so each of its lines is one row whose cells the delimiter separates:
    `str.split` reads them for half of what the csv module costs. Text that is not UTF-8, or a
    line longer than a cell may be, is left to `_csv_rows`, which says what is wrong and where.
    """
    try:
        text = data.decode("utf-8")
        header, count, delimiter = _header_rows(part.header)
    except (UnicodeDecodeError, TableError, csv.Error):
        return None
    if part.crlf:
        lines = text.split("\r\n")
        if len(lines) != part.lines + 1:  # a "\r" that ends no line, and a "\n" alone
            raise NotPlainError
    else:
        lines = (text.replace("\r\n", "\n") if "\r" in text else text).split("\n")
    if len(text) > CSV_FIELD_LIMIT and max(map(len, lines)) > CSV_FIELD_LIMIT:
        return None
    cells = map(str.split, lines, itertools.repeat(delimiter))
    renumbered = ((part.skipped + row, cells) for row, cells in header)
    return itertools.chain(renumbered, enumerate(cells, part.skipped + count + 1))


def _heading(head: bytes, record_type: str | None) -> tuple[int, str, int, bytes] | None:
    """Where the heading rows end, the record type, the identifier's column and the delimiter.

    None when the start of the file is not plainly so (read in order, the reader says why).
    """
    lines: list[bytes] = []  # the whole lines read, up to the last heading row

    def texts() -> Iterator[str]:
        start = 0
        while (end := head.find(b"\n", start)) >= 0:
            line = head[start : end + 1]
            if b"\r" in line[:-1].removesuffix(b"\r"):
                raise ValueError("a lone carriage return")
            lines.append(line)
            start = end + 1
            yield line.decode("utf-8")

    csv.field_size_limit(CSV_FIELD_LIMIT)
    rows: list[tuple[int, Cells]] = []  # (lines read up to its end, its filled cells)
    try:
        found = texts()
        top = next(found, "").removeprefix(codecs.BOM_UTF8.decode("utf-8"))
        delimiter = ","
        if "," not in top and ("\t" in top or ";" in top):
            delimiter = "\t" if "\t" in top else ";"
        reader = csv.reader(itertools.chain((top,), found), delimiter=delimiter)
        while len(rows) < 3:
            cells = next(reader, None)
            if cells is None:
                return None
            if any(cells):
                rows.append((reader.line_num, _as_cells(cells)))
    except (csv.Error, ValueError):  # not UTF-8, or a lone carriage return
        return None
    first, lookahead = rows[0][1], rows[1:]
    try:
        if record_type is None:
            record_type = _guess_from(first, lookahead)
            if record_type is None:
                return None
        if record_type not in record_types():
            return None
        layout = layout_for(record_type)
        headings, skipped = _after_heading(layout, first, lookahead)
        mapping = _map_headings(layout, None, headings, "")
    except TableError:
        return None
    id_index = next((i for i, c in mapping.items() if c.path == RECORD_ID), None)
    if id_index is None:
        return None
    header_lines = rows[skipped][0]
    return sum(map(len, lines[:header_lines])), record_type, id_index, delimiter.encode()


def _cut(
    buffer: bytes | bytearray, end: int, tries: int, id_index: int, delimiter: bytes
) -> tuple[int, int, int]:
    """Where to cut, where to search on from, and the lines tried so far.

    The cut is just after the first line ending at or past `end` whose next line starts another
    record; 0 when none is found yet.
    """
    end = buffer.find(b"\n", end)
    while end >= 0 and tries < MAX_TRIES:
        following = buffer.find(b"\n", end + 1)
        if following < 0:
            break
        tries += 1
        before = _field(buffer[buffer.rfind(b"\n", 0, end) + 1 : end], id_index, delimiter)
        line = buffer[end + 1 : following]
        after = "" if b'"' in line else _field(line, id_index, delimiter)
        if before and after and before != after:
            return end + 1, end, tries
        end = following
    return 0, max(end, 0), tries


def _field(line: bytes | bytearray, index: int, delimiter: bytes) -> str:
    """A cell of a line without quotes, as the reader reads it; "" when it is not UTF-8.

    The reader stops at such a line, with the record above it unfinished, so no cut is made
    beside it: cut there, the record above would be read whole in its own part.
    """
    cells = line.split(delimiter)
    if index >= len(cells):
        return ""
    try:
        return cells[index].decode("utf-8").strip()
    except UnicodeDecodeError:
        return ""
