"""Codelists: the CSV files that give each code its title, meaning and crosswalks."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

REQUIRED_COLUMNS = ("Code", "Title", "Description")


@dataclass(frozen=True)
class Codelist:
    """One codelist, keyed by code; rows keep every column so crosswalks travel with the code."""

    name: str
    columns: tuple[str, ...]
    rows: dict[str, dict[str, str]]

    @property
    def codes(self) -> list[str]:
        """The codes in the order the CSV lists them, which is the order documents show."""
        return list(self.rows)

    def deprecated_in(self, code: str) -> str | None:
        """The version that deprecated a code, when the list has a `Deprecated` column."""
        row = self.rows.get(code)
        return (row.get("Deprecated") or None) if row else None


def read_codelist(path: Path) -> Codelist:
    """Read one CSV, refusing the malformed files that would otherwise pass silently."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = tuple(reader.fieldnames or ())
        if columns[:3] != REQUIRED_COLUMNS:
            raise ValueError(
                f"{path.name}: the header must start with {','.join(REQUIRED_COLUMNS)}"
            )
        rows: dict[str, dict[str, str]] = {}
        for line, row in enumerate(reader, start=2):
            if None in row or any(value is None for value in row.values()):
                raise ValueError(f"{path.name}:{line}: the row has the wrong number of cells")
            code = row["Code"]
            if not code or code in rows:
                raise ValueError(f"{path.name}:{line}: code {code!r} is empty or repeated")
            rows[code] = row
    return Codelist(name=path.name, columns=columns, rows=rows)


def load_codelists(directory: Path) -> dict[str, Codelist]:
    """Every codelist in a folder, by file name (as schemas name it in `codelist`)."""
    return {path.name: read_codelist(path) for path in sorted(directory.glob("*.csv"))}
