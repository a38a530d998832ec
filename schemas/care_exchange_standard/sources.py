"""Reading inputs as a stream of work: JSON (one record or an array), NDJSON and standard input.

Nothing here holds a whole file. NDJSON goes out a block of lines at a time; a JSON array goes
out a block of whole items at a time, cut where the brackets outside strings balance (checked
by the parser that reads the block: a wrong cut fails to parse and the caller reads that part
again with an exact streaming parser). Spreadsheets are read by `care_exchange_standard.tables`.

A UTF-8 byte-order mark at the start of a file (Excel writes one) is accepted and dropped.
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import orjson

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
JSON_SUFFIXES = (".json", *NDJSON_SUFFIXES)
TABLE_SUFFIXES = (".csv", ".xlsx")
KNOWN_SUFFIXES = (*JSON_SUFFIXES, *TABLE_SUFFIXES)
STDIN = "-"
BOM = b"\xef\xbb\xbf"
ZIP_MAGIC = b"PK\x03\x04"
BLOCK = 1 << 20
SKIPPED = "skipped: not a format the validator reads"
_WHITESPACE = b" \t\r\n"
_CLOSE = ord("}")
_MAX_BLOCKS = 8  # an array item larger than this many blocks is read with the exact parser
PIECE = 1 << 15

Kind = Literal["json", "ndjson", "table", "unknown"]


class InputError(Exception):
    """An input that cannot be read (or stops being readable part-way): one line in the report."""


@dataclass(frozen=True)
class Input:
    """One file named on the command line or found in a folder, or standard input (`-`)."""

    name: str
    path: Path | None = None
    problem: str | None = None
    skipped: bool = False

    @property
    def kind(self) -> Kind:
        """What the name says the input holds; `unknown` inputs are recognised by content."""
        if self.path is None:
            return "unknown"
        suffix = self.path.suffix.lower()
        if suffix in NDJSON_SUFFIXES:
            return "ndjson"
        if suffix == ".json":
            return "json"
        if suffix in TABLE_SUFFIXES:
            return "table"
        return "unknown"


def expand(paths: list[Path]) -> list[Input]:
    """The inputs the paths name: files named directly, and every file below a named folder.

    Nothing is dropped without a word: a folder's file of another format is an input marked
    skipped, and a missing path is an input with a problem, so the report lists both.
    """
    found: list[Input] = []
    for path in paths:
        if str(path) == STDIN:
            found.append(Input(STDIN))
        elif path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file())
            if not inside:
                found.append(Input(str(path), path, problem="an empty folder"))
            for file in inside:
                known = file.suffix.lower() in KNOWN_SUFFIXES
                found.append(Input(str(file), file, skipped=not known))
        elif path.is_file():
            found.append(Input(str(path), path))
        elif path.exists():
            found.append(Input(str(path), path, problem="not a regular file"))
        else:
            found.append(Input(str(path), path, problem="no such file or folder"))
    return found


@dataclass(frozen=True)
class Lines:
    """Whole NDJSON lines, the first of them at line number `first` (counted from 1)."""

    first: int
    data: bytes


@dataclass(frozen=True)
class FileLines:
    """Whole NDJSON lines that a worker reads from the file itself, not through a pipe.

    They are `length` bytes from `offset`, the first of them at line number `first`.
    """

    first: int
    path: str
    offset: int
    length: int

    def lines(self) -> Lines:
        return Lines(self.first, read_span(self.path, self.offset, self.length))


@dataclass(frozen=True)
class Items:
    """Whole items of a JSON array, comma-separated, starting at byte `offset` of the input.

    `exact` asks for the rest of the array from `offset` to be read with the exact parser: no
    cut was found in many blocks (text with unbalanced braces), so none will be trusted.
    """

    offset: int
    chunk: bytes
    exact: bool = False


@dataclass(frozen=True)
class Records:
    """Records already parsed, each with its location (`[3]`, or empty for a lone record)."""

    records: list[tuple[str, Any]]


@dataclass(frozen=True)
class FileItems:
    """Whole items of a JSON array that a worker reads from the file itself.

    They are `length` bytes from byte `start` of the file; `offset` is where they start in
    the input, as `Items` says.
    """

    offset: int
    path: str
    start: int
    length: int

    def items(self) -> Items:
        return Items(self.offset, read_span(self.path, self.start, self.length))


Unit = Lines | FileLines | Items | FileItems | Records


def read_span(path: str, start: int, length: int) -> bytes:
    """`length` bytes of a file from `start`; InputError when it is gone or has shrunk."""
    try:
        with Path(path).open("rb") as handle:
            handle.seek(start)
            data = handle.read(length)
    except OSError as error:
        raise InputError(f"cannot be read ({error.strerror})") from None
    if len(data) != length:
        raise InputError("it changed while it was being read")
    return data


def items_of(unit: Items) -> list[Any] | None:
    """A block's items, or None when the block must be read again with the exact parser."""
    if unit.exact:
        return None
    try:
        found: list[Any] = orjson.loads(b"[" + unit.chunk + b"]")
    except orjson.JSONDecodeError:
        return None
    return found


class MustRereadError(Exception):
    """A block of array items that must be read again with the exact parser."""


def item_batches(unit: Items, piece: int = PIECE) -> Iterator[list[Any]]:
    """A block's items a few dozen at a time; raises MustRereadError as `items_of` returns None.

    Parsing a megabyte of items into one list holds them all at once, out of the processor's
    cache by the time each is judged; pieces of about `piece` bytes, cut as `_array` cuts
    blocks, stay in it. A wrong cut fails to parse, and the rest of the block is then parsed
    whole. Items already given before a MustRereadError belong to a block read again: the caller
    drops what it found in them.
    """
    if unit.exact:
        raise MustRereadError
    chunk, start = unit.chunk, 0
    while len(chunk) - start > 2 * piece:
        window = chunk[start : start + piece]
        cut = _cut(window, _depth(window, 0, len(window)))
        if cut is None:
            break
        try:
            found: list[Any] = orjson.loads(b"[" + window[: cut[0]] + b"]")
        except orjson.JSONDecodeError:
            break
        yield found
        start += cut[1] + 1
    try:
        found = orjson.loads(b"[" + chunk[start:] + b"]")
    except orjson.JSONDecodeError:
        raise MustRereadError from None
    yield found


def not_json(error: orjson.JSONDecodeError, where: str = "") -> str:
    """Plain words for a parser's complaint, with the line and column it stopped at."""
    reason = str(error.msg)
    if "UTF-8" in reason:
        reason = "the text is not UTF-8; save the file as UTF-8"
    elif "empty" in reason:
        return f"{where}is empty" if where else "the file is empty"
    place = f"line {error.lineno}, column {error.colno}"
    return f"{where}not JSON at {place} ({reason})"


class _Stream:
    """A binary stream read in blocks, with what was read ahead kept in front."""

    def __init__(self, handle: IO[bytes], block: int = BLOCK) -> None:
        self.handle = handle
        self.block = block
        self.buffer = b""
        self.eof = False
        self.read = 0  # bytes read from the handle so far

    @property
    def position(self) -> int:
        """Where the buffer starts in the input (a byte-order mark dropped counts too)."""
        return self.read - len(self.buffer)

    def fill(self) -> bool:
        """Read one more block onto the buffer; False at the end of the input."""
        if self.eof:
            return False
        block = self.handle.read(self.block)
        if not block:
            self.eof = True
            return False
        self.buffer += block
        self.read += len(block)
        return True

    def start(self) -> bytes:
        """The first byte that is not blank (after a byte-order mark), or b"" for empty input."""
        while len(self.buffer) < len(BOM) and self.fill():
            pass
        self.buffer = self.buffer.removeprefix(BOM)
        while True:
            stripped = self.buffer.lstrip(_WHITESPACE)
            if stripped or not self.fill():
                return stripped[:1]


def open_stream(item: Input) -> IO[bytes]:
    """The input's bytes, seekable; raises InputError for a file that cannot be opened.

    Standard input is copied to a temporary file as it arrives (in memory while small).
    """
    if item.path is None:
        spool = tempfile.SpooledTemporaryFile(max_size=8 * BLOCK)  # noqa: SIM115
        shutil.copyfileobj(sys.stdin.buffer, spool, BLOCK)
        spool.seek(0)
        return spool
    try:
        return item.path.open("rb")
    except OSError as error:
        raise InputError(f"cannot be read ({error.strerror})") from None


def first_bytes(handle: IO[bytes]) -> bytes:
    """The input's first bytes after a byte-order mark and blanks; the handle is rewound."""
    stream = _Stream(handle)
    first = stream.start()
    head = stream.buffer.lstrip(_WHITESPACE)[: len(ZIP_MAGIC)] if first else b""
    handle.seek(0)
    return head


def json_units(
    handle: IO[bytes], kind: Kind, block: int = BLOCK, path: str | None = None
) -> Generator[Unit, None, None]:
    """The work in one JSON or NDJSON input, about `block` bytes a unit.

    With the `path` of the file `handle` reads, NDJSON lines and an array's items come as
    `FileLines` and `FileItems`, which a worker reads itself. Raises InputError (before or
    during iteration) when the input cannot be read.
    """
    stream = _Stream(handle, block)
    first = stream.start()
    if not first:
        raise InputError("the file is empty")
    if first == b"[":
        yield from _array(stream, path)
    elif kind == "ndjson":
        yield from _lines(stream, path)
    elif first == b"{":
        yield from _object_or_lines(stream, path)
    else:
        shown = first.decode("utf-8", "replace")
        raise InputError(f"not JSON: it starts with {shown!r}, where a record starts with '{{'")


def _lines(stream: _Stream, path: str | None) -> Iterator[Lines | FileLines]:
    number = 1
    while True:
        more = stream.fill()
        if more and len(stream.buffer) < stream.block:
            continue
        cut = stream.buffer.rfind(b"\n") + 1 if more else len(stream.buffer)
        if cut:
            lines = stream.buffer.count(b"\n", 0, cut)
            if path is None:
                yield Lines(number, stream.buffer[:cut])
            else:
                yield FileLines(number, path, stream.position, cut)
            stream.buffer = stream.buffer[cut:]
            number += lines
        if not more:
            return


def _object_or_lines(stream: _Stream, path: str | None) -> Iterator[Unit]:
    """A `{` file: NDJSON when its first line is a whole record, else one (indented) record."""
    while b"\n" not in stream.buffer and stream.fill():
        pass
    first_line = stream.buffer.split(b"\n", 1)[0]
    try:
        orjson.loads(first_line)
    except orjson.JSONDecodeError:
        while stream.fill():
            pass
        try:
            record = orjson.loads(stream.buffer)
        except orjson.JSONDecodeError as error:
            raise InputError(not_json(error)) from None
        yield Records([("", record)])
        return
    rest = stream.buffer[len(first_line) :]
    while not rest.strip(_WHITESPACE) and stream.fill():
        rest = stream.buffer[len(first_line) :]
    if rest.strip(_WHITESPACE):
        yield from _lines(stream, path)
    else:
        yield Records([("", orjson.loads(first_line))])


def _depth(buffer: bytes, start: int, end: int) -> int:
    """Braces opened and not closed: between two records of an array (outside text) it is 0."""
    return buffer.count(b"{", start, end) - buffer.count(b"}", start, end)


def _array(stream: _Stream, path: str | None) -> Iterator[Unit]:
    """Blocks of whole items, each cut after a `}` followed by a comma at depth zero.

    Brackets are counted once each as the blocks arrive: `depth` is that of the buffer.
    """
    opening = stream.buffer.index(b"[")
    offset = opening + 1
    stream.buffer = stream.buffer[opening + 1 :]
    depth = _depth(stream.buffer, 0, len(stream.buffer))
    while True:
        size = len(stream.buffer)
        more = stream.fill()
        depth += _depth(stream.buffer, size, len(stream.buffer))
        if more and len(stream.buffer) < stream.block:
            continue
        if not more:
            tail = stream.buffer.rstrip(_WHITESPACE)
            body = tail[:-1] if tail.endswith(b"]") else tail + b"\x00"
            if body.strip(_WHITESPACE) or not tail.endswith(b"]"):
                yield Items(offset, body)
            return
        cut = _cut(stream.buffer, depth)
        if cut is None:
            if len(stream.buffer) > _MAX_BLOCKS * stream.block:
                yield Items(offset, b"", exact=True)
                return
            continue
        end, comma, depth = cut
        if path is None:
            yield Items(offset, stream.buffer[:end])
        else:
            yield FileItems(offset, path, stream.position, end)
        offset += comma + 1
        stream.buffer = stream.buffer[comma + 1 :]


def _cut(buffer: bytes, depth: int) -> tuple[int, int, int] | None:
    """The end of the last whole item in the buffer, the comma after it and the depth after it.

    `depth` is the bracket depth at the end of the buffer; the buffer starts at depth zero.
    """
    upto = len(buffer)
    tail = 0
    comma = buffer.rfind(b",")
    while comma > 0:
        end = comma
        while end > 0 and buffer[end - 1] in _WHITESPACE:
            end -= 1
        if end and buffer[end - 1] == _CLOSE:
            tail += _depth(buffer, end, upto)
            upto = end
            if depth - tail == 0:
                return end, comma, tail
        comma = buffer.rfind(b",", 0, comma)
    return None


class _Rest(io.RawIOBase):
    """A JSON array's remaining items, from a byte offset, read as an array of their own."""

    def __init__(self, handle: IO[bytes], offset: int) -> None:
        handle.seek(0)
        start = handle.read(len(BOM))
        handle.seek(offset + (len(BOM) if start == BOM else 0))
        self._handle = handle
        self._prefix = b"["

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        prefix, self._prefix = self._prefix, b""
        return prefix + self._handle.read(size if size < 0 else max(size - len(prefix), 1))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def array_items_from(handle: IO[bytes], offset: int) -> Iterator[Any]:
    """The items of a JSON array from byte `offset` on, one by one, with an exact parser.

    Used where the quick cut went wrong (brackets inside text) or the JSON is broken: the
    error names the line and column from the start of the file.
    """
    import ijson  # type: ignore[import-untyped]  # only on this rare path

    try:
        yield from ijson.items(_Rest(handle, offset), "item", use_float=True)
    except ijson.JSONError as error:
        raise InputError(f"not JSON ({error})") from None
