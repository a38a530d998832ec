"""Timestamps as the API writes them: RFC 3339 in UTC with a `Z`."""

from __future__ import annotations

from datetime import datetime


def timestamp(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
