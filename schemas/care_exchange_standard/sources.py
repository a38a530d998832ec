"""Reading records from files: one JSON record, a JSON array of records, or NDJSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
JSON_SUFFIXES = (".json", *NDJSON_SUFFIXES)


class InputError(Exception):
    """A file that cannot be read as JSON at all: a usage error, not an invalid record."""


@dataclass(frozen=True)
class Located:
    """A record and where it came from: the file, and its array index or NDJSON line."""

    file: Path
    location: str
    record: Any

    @property
    def where(self) -> str:
        return f"{self.file}{self.location}"


def expand(paths: list[Path]) -> list[Path]:
    """Files named directly, plus the JSON and NDJSON files found below named folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix in JSON_SUFFIXES and p.is_file())
            if not inside:
                raise InputError(f"{path}: no .json, .ndjson or .jsonl files in this folder")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise InputError(f"{path}: not a regular file")
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


def _ndjson(path: Path, text: str) -> Iterator[Located]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}:{number}: not JSON ({error.msg})") from None
        yield Located(path, f":{number}", record)


def read_records(path: Path) -> list[Located]:
    """Every record in one file; an NDJSON file is recognised by its suffix or by its lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise InputError(f"{path}: cannot be read ({reason})") from None
    if path.suffix in NDJSON_SUFFIXES:
        return list(_ndjson(path, text))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":
            return list(_ndjson(path, text))
        raise InputError(f"{path}:{error.lineno}:{error.colno}: not JSON ({error.msg})") from None
    if isinstance(document, list):
        return [Located(path, f"[{index}]", record) for index, record in enumerate(document)]
    return [Located(path, "", document)]
