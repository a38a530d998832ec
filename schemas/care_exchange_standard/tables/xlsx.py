"""A streaming XLSX reader: rows with values, one at a time, skipping blank rows at C speed.

openpyxl's read-only mode walks every cell in Python (a million blank rows took 30-90 s here) and
python-calamine holds a sheet's whole used range in memory (700 MB for a million rows of empty
strings). This reader inflates a sheet in chunks and looks for text between tags (a `<v>` or
`<t>` with content) with a compiled regular expression, so blank rows cost nothing in Python; only
runs of rows from one that holds a value are parsed, with ElementTree. Memory is bounded by the
chunk size plus the shared-string table (the workbook's distinct texts).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import PurePosixPath
from typing import IO, Any, NamedTuple
from xml.etree import ElementTree

from care_exchange_standard.tables.cells import Raw, from_serial

CHUNK = 1 << 20
BATCH = 1 << 18
# Any text that is not blank between two tags: a value (<v>, <t>) or, rarely, a formula.
VALUE = re.compile(rb">\s*[^<\s]")
XMLNS = re.compile(rb"""xmlns(?::[\w.-]+)?\s*=\s*("[^"]*"|'[^']*')""")
ROOT_TAG = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet[\s>]")
CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d+)")
DATE_FORMAT_IDS = frozenset({*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)})
QUOTED_OR_BRACKETED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
OFFICE_DOCUMENT = "/officeDocument"


# What a damaged part raises while it is read: a missing part or index (LookupError, and with
# it an XML declaration naming an encoding that does not exist), bad XML, a bad zip entry.
_DAMAGED = (
    LookupError,
    ElementTree.ParseError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    ValueError,
)


class XlsxError(Exception):
    """The workbook cannot be read; str() is one plain line."""


@dataclass(frozen=True)
class SheetEntry:
    """A worksheet of the workbook: its name, its XML part and whether people see it."""

    name: str
    part: str  # the zip member of its XML
    visible: bool


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def is_date_format(code: str) -> bool:
    """Whether a number format shows a date or time (d, m, y, h, s outside quotes/brackets)."""
    bare = QUOTED_OR_BRACKETED.sub("", code).casefold()
    return any(char in bare for char in "dmyhs") and "general" not in bare


class Workbook:
    """An open XLSX file: its sheets in order, shared strings and date styles."""

    def __init__(self, source: str | IO[bytes]) -> None:
        try:
            self.zip = zipfile.ZipFile(source)
        except zipfile.BadZipFile:
            raise XlsxError("not an XLSX workbook (it is not a zip archive)") from None
        except OSError as error:
            raise XlsxError(f"cannot be read ({error.strerror or error})") from None
        try:
            self._load()
        except XlsxError:
            self.zip.close()
            raise
        except _DAMAGED as error:
            self.zip.close()
            raise XlsxError(f"the workbook is damaged ({_plain(error)})") from None

    def close(self) -> None:
        self.zip.close()

    def _xml(self, part: str) -> ElementTree.Element:
        with self.zip.open(part) as handle:
            return ElementTree.parse(handle).getroot()

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        path = PurePosixPath(part)
        rels_part = str(path.parent / "_rels" / f"{path.name}.rels").lstrip("./")
        if rels_part not in self.zip.NameToInfo:
            return {}
        found: dict[str, tuple[str, str]] = {}
        for rel in self._xml(rels_part):
            target = rel.get("Target", "")
            if target.startswith("/"):
                resolved = target.lstrip("/")
            else:
                resolved = _join(str(path.parent), target)
            found[rel.get("Id", "")] = (rel.get("Type", ""), resolved)
        return found

    def _load(self) -> None:
        names = self.zip.NameToInfo
        root_rels = self._rels("")
        workbook_part = next(
            (target for kind, target in root_rels.values() if kind.endswith(OFFICE_DOCUMENT)),
            "xl/workbook.xml",
        )
        if workbook_part not in names:
            raise XlsxError("not an XLSX workbook (it has no workbook part)")
        rels = self._rels(workbook_part)
        self.sheets: list[SheetEntry] = []
        for element in self._xml(workbook_part).iter():
            if local(element.tag) != "sheet":
                continue
            rel_id = next((v for k, v in element.attrib.items() if local(k) == "id"), "")
            kind, part = rels.get(rel_id, ("", ""))
            if not kind.endswith("/worksheet"):
                continue  # chart sheets and dialog sheets hold no rows
            visible = element.get("state", "visible") == "visible"
            self.sheets.append(SheetEntry(element.get("name", ""), part, visible))
        self.shared: list[str] = []
        self.date_styles: frozenset[int] = frozenset()
        for kind, part in rels.values():
            if kind.endswith("/sharedStrings") and part in names:
                self.shared = self._read_shared(part)
            elif kind.endswith("/styles") and part in names:
                self.date_styles = self._read_date_styles(part)

    def _read_shared(self, part: str) -> list[str]:
        strings: list[str] = []
        with self.zip.open(part) as handle:
            for _, element in ElementTree.iterparse(handle):
                if local(element.tag) == "si":
                    strings.append(_text(element))
                    element.clear()
        return strings

    def _read_date_styles(self, part: str) -> frozenset[int]:
        root = self._xml(part)
        custom = {
            int(fmt.get("numFmtId", "-1")): fmt.get("formatCode", "")
            for fmt in root.iter()
            if local(fmt.tag) == "numFmt"
        }
        dates: set[int] = set()
        for holder in root:
            if local(holder.tag) != "cellXfs":
                continue
            for index, xf in enumerate(holder):
                number_format = int(xf.get("numFmtId", "0"))
                code = custom.get(number_format)
                if number_format in DATE_FORMAT_IDS or (code is not None and is_date_format(code)):
                    dates.add(index)
        return frozenset(dates)

    def sheet(self, name: str) -> SheetEntry:
        return next(sheet for sheet in self.sheets if sheet.name == name)

    def rows(self, name: str) -> Iterator[tuple[int, dict[int, Raw]]]:
        """(1-based row number, {0-based column: value}) for each row holding any value."""
        part = self.sheet(name).part
        try:
            yield from self._rows(part)
        except _DAMAGED as error:
            raise XlsxError(f"the sheet {name!r} is damaged ({_plain(error)})") from None

    def _rows(self, part: str) -> Iterator[tuple[int, dict[int, Raw]]]:
        with self.zip.open(part) as handle:
            head = handle.read(CHUNK)
            root = ROOT_TAG.search(head)
            if root is None:
                raise XlsxError("a sheet of the workbook is damaged (no worksheet element)")
            prefix = root.group(1) or b""
            tag_end = head.find(b">", root.end() - 1)
            declarations = b" ".join(
                m.group(0) for m in XMLNS.finditer(head, root.start(), tag_end)
            )
            qualified = prefix + b":" if prefix else b""
            row_open, row_close = b"<" + qualified + b"row", b"</" + qualified + b"row>"
            wrap_open = b"<" + qualified + b"wrap " + declarations + b">"
            wrap_close = b"</" + qualified + b"wrap>"
            pending = head[tag_end + 1 :]
            found_uri = re.search(
                rb"xmlns" + (b":" + prefix if prefix else b"") + rb"""\s*=\s*["']([^"']*)""",
                head[root.start() : tag_end],
            )
            uri = found_uri.group(1).decode() if found_uri else ""
            tags = _Tags(*(f"{{{uri}}}{name}" if uri else name for name in ("row", "c", "v", "is")))
            rows_before = 0  # rows seen so far, for rows without an r attribute
            while True:
                chunk = handle.read(CHUNK)
                data = pending + chunk
                if chunk:
                    cut = data.rfind(row_close)
                    if cut < 0:
                        pending = data
                        continue
                    cut += len(row_close)
                    region, pending = data[:cut], data[cut:]
                else:
                    region, pending = data, b""
                position = 0
                while True:
                    found = VALUE.search(region, position)
                    if found is None:
                        rows_before += region.count(row_open, position)
                        break
                    start = region.rfind(row_open, position, found.start())
                    end = region.find(row_close, found.end())
                    if start < 0 or end < 0:  # a value outside a row: not sheet data
                        rows_before += region.count(row_open, position, found.end())
                        position = found.end()
                        continue
                    rows_before += region.count(row_open, position, start)
                    # Parse the rows from here in one batch: ElementTree's C parser is quick on
                    # a run of rows; each byte is parsed at most once, so long blank runs stay
                    # cheap either way.
                    end = max(end, region.rfind(row_close, start, start + BATCH))
                    end += len(row_close)
                    batch = ElementTree.fromstring(wrap_open + region[start:end] + wrap_close)
                    for element in batch:
                        if element.tag != tags.row:
                            continue
                        rows_before += 1
                        number, cells = self._row(element, rows_before, tags)
                        if cells:
                            yield number, cells
                    position = end
                if not chunk:
                    return

    def _row(
        self, row: ElementTree.Element, counted: int, tags: _Tags
    ) -> tuple[int, dict[int, Raw]]:
        number = int(row.get("r") or counted)
        cells: dict[int, Raw] = {}
        index = -1
        for cell in row:
            if cell.tag != tags.c:
                continue
            ref = cell.get("r")
            found = CELL_REF.fullmatch(ref) if ref else None
            index = column_index(found.group(1)) if found else index + 1
            value = self._value(cell, tags)
            if value is not None and not (isinstance(value, str) and not value.strip()):
                cells[index] = value
        return number, cells

    def _value(self, cell: ElementTree.Element, tags: _Tags) -> Raw:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            inline = cell.find(tags.is_)
            return _text(inline) if inline is not None else None
        text = cell.findtext(tags.v)
        if text is None:
            return None
        match kind:
            case "s":
                return self.shared[int(text)]
            case "b":
                return text.strip() == "1"
            case "str" | "e":
                return text
            case "d":
                try:
                    return datetime.fromisoformat(text.strip())
                except ValueError:
                    return text
        number: int | float
        if text.isdigit():
            number = int(text)
        else:
            number = float(text) if any(c in text for c in ".eE") else int(text)
        style = cell.get("s")
        if style is not None and int(style) in self.date_styles:
            try:
                moment = from_serial(float(number))
            except ValueError:  # out of Excel's range of dates: the number as it stands
                return number
            return moment.date() if moment.time() == time() else moment
        return number


class _Tags(NamedTuple):
    """The qualified names of the sheet elements read, in the sheet's own namespace."""

    row: str
    c: str
    v: str
    is_: str


def _text(element: Any) -> str:
    """The text of a string item: its `t` runs, without phonetic (`rPh`) runs."""
    parts: list[str] = []
    for child in element:
        name = local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(run.text or "" for run in child if local(run.tag) == "t")
    return "".join(parts)


def _join(folder: str, target: str) -> str:
    parts: list[str] = [part for part in folder.split("/") if part and part != "."]
    for part in target.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/".join(parts)


def _plain(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
