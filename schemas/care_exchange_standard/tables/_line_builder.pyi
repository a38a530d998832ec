"""The C line builder (_line_builder.c): builder.py's compiled line builder, run natively."""

from collections.abc import Iterable, Iterator
from typing import Any

from care_exchange_standard.tables.builder import Current, Line

class Builder:
    """`build(record, line, current)` for one sheet's plan, made by `builder._native`."""

    def __init__(self, spec: tuple[Any, ...], /) -> None: ...
    def __call__(self, record: dict[str, Any], line: Line, current: Current, /) -> None: ...

class Groups(Iterator[Any]):
    """SheetReader.groups with the C builder: the spec as `SheetReader` makes it, the rows."""

    def __init__(self, spec: tuple[Any, ...], rows: Iterable[tuple[int, Line]], /) -> None: ...
    def __next__(self) -> Any: ...

def line_breaks(data: bytes | bytearray, end: int, /) -> tuple[int, int]:
    """The line feeds and the carriage returns in `data[:end]`."""
