"""Cells to JSON values by the column's kind, and back: the converters reading and writing share.

Reading accepts what people type and what Excel stores: numbers as text ("1,234", "£850.50"),
Yes/No/True/False, dates as date cells, Excel serial numbers, 2024-03-31 or 31/03/2024 (UK order),
date-times without an offset (taken as UK time, Europe/London), and codes or their titles.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any, Final

from care_exchange_standard.tables.layout import Column

Raw = str | int | float | bool | datetime | date | None

# More digits than any count or amount needs; also below Python's int() limit of 4,300.
MAX_DIGITS = 30
EXCEL_EPOCH = datetime(1899, 12, 30)
MAX_SERIAL = 2958465  # 9999-12-31
TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})
INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?")
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
UK_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
UK_DATE_TIME = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)
CODE_SPLIT = re.compile(r"[;\n]")
LINES = re.compile(r"\r?\n")
SHOWN = 60
KNOWN_CELLS = 1024  # cells of a column whose values a reader remembers


class CellValueError(ValueError):
    """A cell that cannot be read as its column's kind; str() is a plain message."""


def show(raw: Raw) -> str:
    """A cell's content as a message quotes it."""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, datetime | date):
        return raw.isoformat()
    text = str(raw)
    if len(text) > SHOWN:
        text = text[: SHOWN - 1] + "…"
    return repr(text) if isinstance(raw, str) else text


def is_blank(raw: Raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


@cache
def uk_time() -> tzinfo:
    """Europe/London, where people's times without an offset are taken to be."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/London")
    except Exception:  # no time zone database on this machine: UTC is the nearest
        return UTC


def read_cell(column: Column, raw: Raw) -> Any:
    """The JSON value of a non-blank cell for a column, or CellValueError."""
    return converter(column)(raw)


def converter(column: Column) -> Callable[[Raw], Any]:
    """The function that reads a column's cells (looked up once per sheet by readers)."""
    match column.kind:
        case "integer":
            return to_integer
        case "number":
            return to_number
        case "boolean":
            return to_boolean
        case "date":
            return to_date
        case "date-time":
            return to_date_time
        case "code":
            return functools.partial(to_code, column)
        case "codes":
            return lambda raw: [to_code(column, part) for part in _parts(raw, CODE_SPLIT)]
        case "texts":
            return lambda raw: _parts(raw, LINES)
        case _:
            return to_string


class _Blank:
    """What `cell_reader`'s functions return for a cell of spaces only: there is no value."""

    def __repr__(self) -> str:
        return "BLANK"


BLANK: Final = _Blank()


def remembers(column: Column) -> bool:
    """Whether `cell_reader` remembers the column's cells (see `known` there)."""
    return column.kind in ("date", "date-time", "boolean")


def cell_reader(column: Column, known: dict[str, Any] | None = None) -> Callable[[Raw], Any]:
    """`converter(column)` for cells as they come, blank ones (spaces only) giving BLANK.

    Readers call this once a cell, so the commonest cell of each kind (a plain whole number, a
    code as it is listed, text) is read first, and the general converter only after. The
    cells of a column that `remembers` are kept in `known` (a new dict if not given), each
    text with its value (BLANK too), for the compiled line builder to look up itself.
    """
    general = converter(column)
    kind = column.kind
    if kind == "integer" or kind == "number":

        def read_number(raw: Raw) -> Any:
            if type(raw) is str and raw.isdecimal() and len(raw) <= MAX_DIGITS:
                return int(raw)
            return BLANK if is_blank(raw) else general(raw)

        return read_number
    if kind == "code":
        codes = column.codes

        def read_code(raw: Raw) -> Any:
            if type(raw) is str and raw in codes:
                return raw
            return BLANK if is_blank(raw) else general(raw)

        return read_code
    if kind == "string":

        def read_string(raw: Raw) -> Any:
            if type(raw) is str:
                text = raw.strip()
                return text if text else BLANK
            return BLANK if raw is None else general(raw)

        return read_string

    if remembers(column):
        # Worth remembering: a file tends to give the same few dates (an "as at" in every row).
        known = {} if known is None else known

        def read_known(raw: Raw) -> Any:
            if type(raw) is not str:
                return BLANK if raw is None else general(raw)
            value = known.get(raw, BLANK)
            if value is BLANK:
                value = BLANK if not raw.strip() else general(raw)
                if len(known) >= KNOWN_CELLS:
                    known.clear()
                known[raw] = value
            return value

        return read_known

    def read_other(raw: Raw) -> Any:
        return BLANK if is_blank(raw) else general(raw)

    return read_other


def _parts(raw: Raw, separator: re.Pattern[str]) -> list[str]:
    text = to_string(raw)
    return [part.strip() for part in separator.split(text) if part.strip()]


def to_string(raw: Raw) -> str:
    if type(raw) is str:
        return raw.strip()
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.isoformat() if raw.time() != time() else raw.date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw).strip()


def _number_text(raw: str) -> str:
    text = raw.strip().replace(",", "").replace(" ", "").replace("\u00a0", "")
    return text.removeprefix("£")


def to_integer(raw: Raw) -> int:
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS:
        return int(raw)
    if isinstance(raw, bool | datetime | date):
        raise CellValueError(f"not a whole number: {show(raw)}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if math.isfinite(raw) and raw.is_integer():
            return int(raw)
        raise CellValueError(f"not a whole number: {show(raw)}")
    text = _number_text(str(raw))
    if len(text) > MAX_DIGITS:
        raise CellValueError(f"too many digits for a whole number: {show(raw)}")
    if INTEGER.fullmatch(text):
        return int(text.split(".")[0])
    raise CellValueError(f"not a whole number: {show(raw)}")


def to_number(raw: Raw) -> int | float:
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS:
        return int(raw)
    if isinstance(raw, bool | datetime | date):
        raise CellValueError(f"not a number: {show(raw)}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise CellValueError(f"not a number: {show(raw)}")
        return raw
    text = _number_text(str(raw))
    if len(text) > MAX_DIGITS:
        raise CellValueError(f"too many digits for a number: {show(raw)}")
    if not NUMBER.fullmatch(text):
        raise CellValueError(f"not a number: {show(raw)}")
    if INTEGER.fullmatch(text) and "." not in text:
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise CellValueError(f"not a number: {show(raw)}")
    return value


def to_boolean(raw: Raw) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise CellValueError(f"not Yes or No: {show(raw)}")


def from_serial(serial: float) -> datetime:
    """An Excel serial day number (1900 date system) as a naive date-time."""
    if not 1 <= serial <= MAX_SERIAL:
        raise CellValueError(f"not a date: {show(serial)}")
    # Excel keeps times to the millisecond; rounding there undoes the binary fraction's error.
    return EXCEL_EPOCH + timedelta(milliseconds=round(serial * 86_400_000))


def to_date(raw: Raw) -> str:
    if isinstance(raw, datetime):
        if raw.time() != time():
            raise CellValueError(f"a date is needed, without a time: {show(raw)}")
        return raw.date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        moment = from_serial(float(raw))
        if moment.time() != time():
            raise CellValueError(f"a date is needed, without a time: {show(raw)}")
        return moment.date().isoformat()
    if isinstance(raw, str):
        text = raw.strip()
        try:
            if len(text) == 10 and text[4] == "-":
                return date.fromisoformat(text).isoformat()
            found = UK_DATE.fullmatch(text)
            if found:
                day, month, year = (int(part) for part in found.groups())
                return date(year, month, day).isoformat()
            if text.isdigit() and len(text) == 5:
                return to_date(int(text))
        except ValueError:
            pass
    raise CellValueError(f"not a date: {show(raw)} (write 2024-03-31 or 31/03/2024)")


def _aware(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=uk_time())
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


def to_date_time(raw: Raw) -> str:
    if isinstance(raw, datetime):
        return _aware(raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool) and not isinstance(raw, date):
        return _aware(from_serial(float(raw)))
    if isinstance(raw, str):
        text = raw.strip()
        if RFC3339.fullmatch(text):
            try:
                datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
            except ValueError:
                pass
            else:
                return text
        try:
            found = UK_DATE_TIME.fullmatch(text)
            if found:
                day, month, year, hour, minute = (int(part) for part in found.groups()[:5])
                second = int(found.group(6) or 0)
                return _aware(datetime(year, month, day, hour, minute, second))
            if len(text) > 10 and text[4] == "-":
                return _aware(datetime.fromisoformat(text))
        except ValueError:
            pass
    raise CellValueError(
        f"not a date and time: {show(raw)} (write 2024-03-31 14:30 or 2024-03-31T14:30:00+01:00)"
    )


def to_code(column: Column, raw: Raw) -> str:
    text = raw.strip() if type(raw) is str else to_string(raw)
    if text in column.codes:
        return text
    wanted = text.casefold()
    for code, title in column.codes.items():
        if wanted in (code.casefold(), title.casefold()):
            return code
    if column.open_codes or not column.codes:
        return text
    choices = [*column.codes, *column.codes.values()]
    close = difflib.get_close_matches(text, choices, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return _refuse(f"not one of the list: {show(raw)}{hint}")


def _refuse(message: str) -> str:
    raise CellValueError(message)


def write_cell(column: Column, value: Any, *, titles: bool) -> Any:
    """A JSON value as a cell: codes as titles (for XLSX drop-downs) or as codes, lists joined."""
    match column.kind:
        case "code":
            return column.codes.get(value, value) if titles else value
        case "codes":
            return "; ".join(column.codes.get(v, v) if titles else v for v in value)
        case "texts":
            return "\n".join(value)
        case _:
            return value
