"""Server-assigned identifiers."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    """A random identifier with a short prefix, so a stray id in a log says what it names."""
    return f"{prefix}-{uuid.uuid4().hex}"
