"""Writing generated documentation pages: only those that changed, and none left over."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_pages(directory: Path, pages: Mapping[str, str], owned: str | None = None) -> list[str]:
    """Write each page (name relative to `directory`) whose text differs; return what changed.

    `owned`, a glob relative to `directory`, names the files the generator owns: any of them
    that is no longer among `pages` (a type or a problem code that is gone) is removed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    if owned is not None:
        for stale in sorted(directory.glob(owned)):
            name = stale.relative_to(directory).as_posix()
            if name not in pages:
                stale.unlink()
                changed.append(name)
    for name, text in pages.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed
