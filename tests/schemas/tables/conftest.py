from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from care_exchange_standard import SCHEMA_DIR
from care_exchange_standard.tables import TableRow, read_table
from care_exchange_standard.tables.layout import layout_for, record_types
from care_exchange_standard.tables.writing import write_csv, write_xlsx

RECORD_TYPES = record_types()
FORMATS = ("csv", "xlsx")


def examples(record_type: str) -> list[dict[str, Any]]:
    folder = SCHEMA_DIR / "examples" / "valid" / record_type
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


def spreadsheet(record_type: str, fmt: str, records: list[dict[str, Any]] | None = None) -> bytes:
    buffer = io.BytesIO()
    writer = write_csv if fmt == "csv" else write_xlsx
    writer(layout_for(record_type), buffer, records or [])
    return buffer.getvalue()


def read(data: bytes, fmt: str, **options: Any) -> list[TableRow]:
    return list(read_table(io.BytesIO(data), name=f"upload.{fmt}", **options))


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write
