"""Timestamps as the API writes them: RFC 3339 in UTC with a `Z`."""

from __future__ import annotations

from datetime import datetime
from typing import overload


@overload
def timestamp(value: datetime) -> str: ...
@overload
def timestamp(value: datetime | None) -> str | None: ...
def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with `Z`, as every body of the API writes a moment; None stays null."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
