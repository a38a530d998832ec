"""One strict JSON reader for every request body.

Python's `json` accepts more than RFC 8259 and I-JSON (RFC 7493) allow, and some of what it
accepts breaks later, far from the request: UTF-16 bodies, duplicate member names (the last
silently wins), `NaN` and `Infinity`, numbers that overflow to infinity, integers too long to
convert, lone surrogates that no database or encoder will take, the NUL character PostgreSQL
refuses, and nesting deep enough to exhaust a recursive validator. Each is refused here, once,
with the place in the body where it was found.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32
_ESCAPED_TEXT_TROUBLE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


@dataclass(frozen=True)
class JsonError(Exception):
    """Why a body is refused; `pointer` is None when no single place is to blame.

    `in_text` marks well-formed JSON whose text holds what no text may: the body parsed, but a
    value in it is not acceptable, so it is the client's content, not its syntax, at fault.
    """

    message: str
    pointer: str | None = None
    keyword: str = "format"
    in_text: bool = False


def loads(raw: bytes) -> Any:
    """The decoded body, or JsonError saying what is wrong and where."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raise JsonError("The body starts with a byte-order mark; send UTF-8 without one.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonError(
            f"The body is not UTF-8 (byte {error.start} cannot be decoded); send UTF-8."
        ) from None
    duplicates: list[tuple[dict[str, Any], str]] = []

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) != len(pairs):
            seen: set[str] = set()
            for name, _ in pairs:
                if name in seen:
                    duplicates.append((found, name))
                    break
                seen.add(name)
        return found

    try:
        data = json.loads(
            text,
            object_pairs_hook=members,
            parse_float=_finite,
            parse_constant=_no_constant,
        )
    except JsonError:
        raise
    except json.JSONDecodeError as error:
        raise JsonError(
            f"The body is not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}."
        ) from None
    except (ValueError, RecursionError, _OverflowError):
        # int() refuses too many digits, float() overflows to infinity, and the scanner
        # recurses once per nesting level.
        data = _locate_overflow(text)
    _check_depth(data)
    if duplicates:
        container, name = duplicates[0]
        raise JsonError(
            f"The member '{name}' is given more than once.",
            _pointer_to(data, container) + "/" + _escape(name),
            "uniqueMembers",
        )
    if _ESCAPED_TEXT_TROUBLE.search(text):
        _check_text(data)
    return data


class _OverflowError(Exception):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _OverflowError
    return value


def _no_constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON value.")


def _locate_overflow(text: str) -> Any:
    """Parse again without converting numbers, to say where the one out of range is."""
    try:
        data = json.loads(text, parse_int=_Number, parse_float=_Number)
    except RecursionError:
        raise JsonError(f"The body is nested more than {MAX_DEPTH} levels deep.") from None
    _check_depth(data)
    for pointer, value in _walk(data, ""):
        if isinstance(value, _Number) and not value.convertible():
            shown = value if len(value) <= 20 else value[:20] + "..."
            raise JsonError(f"The number {shown} is out of range.", pointer, "maximum")
    raise JsonError("The body is not valid JSON.")


class _Number(str):
    """A number's text, kept unconverted so that its range can be judged."""

    def convertible(self) -> bool:
        if any(mark in self for mark in ".eE"):
            return not math.isinf(float(self))
        return len(self.lstrip("-")) <= sys.get_int_max_str_digits()


def _check_depth(data: Any) -> None:
    level = [data] if type(data) is dict or type(data) is list else []
    for _ in range(MAX_DEPTH):
        level = [
            child
            for container in level
            for child in (container.values() if type(container) is dict else container)
            if type(child) is dict or type(child) is list
        ]
        if not level:
            return
    raise JsonError(f"The body is nested more than {MAX_DEPTH} levels deep.", None, "maxDepth")


def _check_text(data: Any) -> None:
    for pointer, value in _walk(data, "", names=True):
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            raise JsonError("contains U+0000, which no text may hold.", pointer, "pattern", True)
        if any("\ud800" <= char <= "\udfff" for char in value):
            raise JsonError(
                "contains a lone surrogate (an escape from \\ud800 to \\udfff without its pair), "
                "which is not a character.",
                pointer,
                "pattern",
                True,
            )


def _walk(value: Any, pointer: str, *, names: bool = False) -> Iterator[tuple[str, Any]]:
    """Every value with its pointer; with `names`, member names too (at their member's pointer)."""
    yield pointer, value
    if type(value) is dict:
        for name, item in value.items():
            here = pointer + "/" + _escape(name)
            if names:
                yield here, name
            yield from _walk(item, here, names=names)
    elif type(value) is list:
        for index, item in enumerate(value):
            yield from _walk(item, f"{pointer}/{index}", names=names)


def _pointer_to(data: Any, target: object) -> str:
    for pointer, value in _walk(data, ""):
        if value is target:
            return pointer
    return ""


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
