"""Where a sheet's cells go, worked out once per sheet, and a line builder compiled from that.

`SheetReader` (reading.py) works out per sheet which member of which object each column fills
(`Slot`) and where each list's rows go (`ListPlan`). Going through those plans cell by cell
costs more per record than reading the CSV; `line_builder` turns them into the source of one
Python function a sheet, the columns' assignments written out in order, so a line of ordinary
cells costs a few operations a cell. The function keeps no places (cells for messages) and
gives up on anything unusual, a cell it cannot read, a value that differs from the one given
above or a value under no heading, by raising `IrregularLineError`: the reader then builds
that record again with its general code, which says exactly what is wrong and where.

Where the standard part was installed with a C compiler, `_line_builder.c` runs the same plan
instead of the written function (`_native`): the interpreter's dispatch was a quarter of a
line's cost. Both are tested against the general reader (tests/schemas/tables/test_builder.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

from care_exchange_standard.fields import FieldPath
from care_exchange_standard.tables.cells import BLANK, MAX_DIGITS, Raw, is_blank

# A line of a sheet: its cells in column order, "" for a blank one (CSV gives them so; an XLSX
# row is spread out to this form).
Line = Sequence[Raw]
# The list rows a record's lines have made so far, the last of each list by the list's number
# (its place in the plans): lines without their own row of a list (a reason's line below its
# bed) fill the last one.
Current = dict[int, dict[str, Any]]
LineBuilder = Callable[[dict[str, Any], Line, Current], None]
# Plain whole numbers as people write them, read by a look-up: most cells of a sheet are these.
SMALL: dict[str, int] = {str(number): number for number in range(1000)}


class IrregularLineError(Exception):
    """A line the compiled builder leaves to the general one, which explains it."""


class Slot(NamedTuple):
    """Where one column's cells go."""

    at: int  # the column's index
    read: Callable[[Raw], Any]  # the cell to its value, BLANK for spaces, or CellValueError
    name: str  # the member it fills, in the list row (or record) or in `holders` below it
    holders: FieldPath  # objects between the list row (or record) and the value
    base: FieldPath  # the field path of the list row (or () for the record)
    suffix: str  # the JSON pointer below the list row: "/weeklyCharge/amount"
    whole: bool  # a whole number or number column: plain digits are read in the loop
    kind: str  # the column's kind: the builder reads the commonest cells of some itself
    codes: Mapping[str, str]  # a code column's codes
    known: dict[str, Any] | None  # the cells `read` remembers, with their values (or None)


class Segment(NamedTuple):
    """The columns of the record's own fields, or of one list's rows."""

    list_path: FieldPath  # () for the record's own fields
    slots: tuple[Slot, ...]
    pick: Callable[[Line], tuple[Raw, ...]]  # the segment's cells of a line, in slot order


@dataclass(frozen=True)
class ListPlan:
    """Where one list's rows go."""

    parent: FieldPath  # the enclosing list, () for a list of the record
    base: FieldPath
    holders: FieldPath
    name: str
    suffix: str
    fixed: Mapping[str, Any]
    inner: tuple[FieldPath, ...]  # the lists inside its rows, whose current row it ends


class _Source:
    """The lines of the generated module, and the values its code names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {
            "BLANK": BLANK,
            "IrregularLineError": IrregularLineError,
            "SMALL": SMALL,
            "whole": _whole,
        }

    def add(self, indent: int, *lines: str) -> None:
        self.lines.extend("    " * indent + line for line in lines)

    def name(self, value: Any, stem: str = "k") -> str:
        """A name in the module for a value (a reader, a constant)."""
        found = f"{stem}{len(self.names)}"
        self.names[found] = value
        return found

    def copy(self, fixed: Mapping[str, Any]) -> str:
        """An expression making a new object with these fixed members: `{}` for none."""
        return f"dict({self.name(dict(fixed))})" if fixed else "{}"

    def holder(
        self,
        indent: int,
        start: str,
        base: FieldPath,
        holders: FieldPath,
        constants: Mapping[FieldPath, Mapping[str, Any]],
    ) -> str:
        """The name of the object at `holders` below `start`, made with its fixed members."""
        if not holders:
            return start
        self.add(indent, f"holder = {start}")
        path = base
        for name in holders:
            path = (*path, name)
            self.add(
                indent,
                f"found = holder.get({name!r})",
                "if found is None:",
                f"    found = holder[{name!r}] = {self.copy(constants.get(path, {}))}",
                "holder = found",
            )
        return "holder"

    def value(self, slot: Slot) -> str:
        """A test that reads the text cell `raw` into `value` and is true when it gives one.

        The commonest cells, small whole numbers, text, a code as listed and a date already
        read, are read in the test as `cell_reader` reads them first: a call a cell is most of
        what reading costs.
        """
        read = self.name(slot.read, "read")
        if slot.kind == "string":
            return "(value := raw.strip())"
        if slot.kind == "code":
            codes = self.name(slot.codes)
            return f"((value := raw) in {codes} or (value := {read}(raw)) is not BLANK)"
        if slot.known is not None:
            known = self.name(slot.known)
            return (
                f"((value := {known}.get(raw, BLANK)) is not BLANK "
                f"or (value := {read}(raw)) is not BLANK)"
            )
        if slot.whole:
            return (
                "((value := SMALL.get(raw)) is not None "
                f"or (value := whole(raw, {read})) is not BLANK)"
            )
        return f"(value := {read}(raw)) is not BLANK"


def _whole(raw: str, read: Callable[[Raw], Any]) -> Any:
    """A number cell that is not a small whole number: plain digits in line, else `read`."""
    if raw.isdecimal() and len(raw) <= MAX_DIGITS:
        return int(raw)
    return read(raw)


def line_builder(
    own: Sequence[Slot],
    segments: Iterable[Segment],
    plans: Mapping[FieldPath, ListPlan],
    constants: Mapping[FieldPath, Mapping[str, Any]],
    unmapped: Sequence[int],
    width: int,
    *,
    native: bool | None = None,
) -> LineBuilder:
    """`build(record, line, current)`: a line's cells into the record, as SheetReader does.

    The line's cells are text, as a CSV's are (an XLSX row's are not, and its reader does
    not compile). Raises IrregularLineError (or CellValueError) where the general builder
    notes a problem. The builder is the C one (`_line_builder`) where it was compiled when the
    part was installed, and the Python function written here where not (or `native` False).
    """
    if native is not False and (made := _native(own, segments, plans, constants, unmapped, width)):
        return made
    source = _Source()
    source.names["is_blank"] = is_blank
    numbers = {path: index for index, path in enumerate(plans)}
    for path, plan in plans.items():
        _new_row(source, path, plan, numbers, constants)
    source.add(0, "def build(record, line, current):")
    if unmapped:
        source.add(
            1,
            f"for index in {source.name(tuple(unmapped))}:",
            "    if not is_blank(line[index]):",
            "        raise IrregularLineError",
        )
    source.add(
        1,
        f"if len(line) > {width} and not all(is_blank(raw) for raw in line[{width}:]):",
        "    raise IrregularLineError",
    )
    for slot in own:
        source.add(1, f"if (raw := line[{slot.at}]) and {source.value(slot)}:")
        holder = source.holder(2, "record", (), slot.holders, constants)
        source.add(
            2,
            f"if {holder}.setdefault({slot.name!r}, value) != value:",
            "    raise IrregularLineError",
        )
    for segment in segments:
        # The row is filled first and added when a cell filled it: a call a line saved.
        plan = _segment_plan(segment, plans)
        source.add(1, f"item = {source.copy(plan.fixed)}")
        for slot in segment.slots:
            source.add(1, f"if (raw := line[{slot.at}]) and {source.value(slot)}:")
            holder = source.holder(2, "item", slot.base, slot.holders, constants)
            source.add(2, f"{holder}[{slot.name!r}] = value")
        source.add(1, f"if len(item) > {len(plan.fixed)}:")
        _add_row(source, 2, segment.list_path, plan, numbers, constants)
    source.add(1, "return None")
    namespace = dict(source.names)
    exec(compile("\n".join(source.lines), "<line builder>", "exec"), namespace)
    built: LineBuilder = namespace["build"]
    return built


def _segment_plan(segment: Segment, plans: Mapping[FieldPath, ListPlan]) -> ListPlan:
    """The plan of the list a segment fills; ValueError when a column fills a fixed member."""
    plan = plans[segment.list_path]
    taken = {slot.holders[0] if slot.holders else slot.name for slot in segment.slots}
    if taken & plan.fixed.keys():
        raise ValueError(f"a column of {segment.list_path} fills a fixed member")
    return plan


def _new_row(
    source: _Source,
    path: FieldPath,
    plan: ListPlan,
    numbers: Mapping[FieldPath, int],
    constants: Mapping[FieldPath, Mapping[str, Any]],
) -> None:
    """`new_row_<n>(record, current)`: a list's new row, for the lists inside it to fill."""
    source.add(0, f"def new_row_{numbers[path]}(record, current):")
    source.add(1, f"item = {source.copy(plan.fixed)}")
    _add_row(source, 1, path, plan, numbers, constants)
    source.add(1, "return item")


def _add_row(
    source: _Source,
    indent: int,
    path: FieldPath,
    plan: ListPlan,
    numbers: Mapping[FieldPath, int],
    constants: Mapping[FieldPath, Mapping[str, Any]],
) -> None:
    """`item` added to its list (made with its enclosing lists' rows if need be), made current."""
    number = numbers[path]
    if plan.parent:
        parent = numbers[plan.parent]
        source.add(
            indent,
            f"container = current.get({parent})",
            "if container is None:",
            f"    container = new_row_{parent}(record, current)",
        )
    else:
        source.add(indent, "container = record")
    holder = source.holder(indent, "container", plan.base, plan.holders, constants)
    source.add(
        indent,
        f"items = {holder}.get({plan.name!r})",
        "if items is None:",
        f"    items = {holder}[{plan.name!r}] = []",
        "items.append(item)",
        f"current[{number}] = item",
    )
    for inner in plan.inner:
        source.add(indent, f"current.pop({numbers[inner]}, None)")


NATIVE_MODULE = "care_exchange_standard.tables._line_builder"
# How `_line_builder` reads a slot's cell, in the order `_Source.value` tests for them.
KIND_STRING, KIND_CODE, KIND_KNOWN, KIND_WHOLE, KIND_OTHER = range(5)


def native_module() -> ModuleType | None:
    """`_line_builder`, the C builder and grouping, or None where it was not compiled."""
    try:
        return importlib.import_module(NATIVE_MODULE)
    except ImportError:
        return None


def _native(
    own: Sequence[Slot],
    segments: Iterable[Segment],
    plans: Mapping[FieldPath, ListPlan],
    constants: Mapping[FieldPath, Mapping[str, Any]],
    unmapped: Sequence[int],
    width: int,
) -> LineBuilder | None:
    """The C builder of this plan, or None where it was not compiled."""
    native = native_module()
    if native is None:
        return None
    numbers = {path: index for index, path in enumerate(plans)}

    def steps(base: FieldPath, holders: FieldPath) -> tuple[tuple[str, Any], ...]:
        """Each object between `base` and a value, with the fixed members it is made with."""
        found, path = [], base
        for name in holders:
            path = (*path, name)
            found.append((name, dict(constants[path]) if constants.get(path) else None))
        return tuple(found)

    def slot_plan(slot: Slot) -> tuple[Any, ...]:
        table: dict[str, Any] | None = None
        if slot.kind == "string":
            kind = KIND_STRING
        elif slot.kind == "code":
            kind, table = KIND_CODE, dict(slot.codes)
        elif slot.known is not None:
            kind, table = KIND_KNOWN, slot.known  # the reader fills it: shared, not copied
        else:
            kind = KIND_WHOLE if slot.whole else KIND_OTHER
        return (slot.at, kind, slot.read, table, slot.name, steps(slot.base, slot.holders))

    list_plans = []
    for path, plan in plans.items():
        parent = numbers[plan.parent] if plan.parent else -1
        inner = tuple(numbers[each] for each in plan.inner)
        fixed = dict(plan.fixed) if plan.fixed else None
        holders = steps(plan.base, plan.holders)
        list_plans.append((parent, holders, plan.name, fixed, numbers[path], inner))
    segment_plans = []
    for segment in segments:
        _segment_plan(segment, plans)
        segment_plans.append(
            (numbers[segment.list_path], tuple(slot_plan(slot) for slot in segment.slots))
        )
    spec = (
        tuple(unmapped),
        width,
        tuple(slot_plan(slot) for slot in own),
        tuple(segment_plans),
        tuple(list_plans),
        IrregularLineError,
        BLANK,
        SMALL,
        MAX_DIGITS,
    )
    built: LineBuilder = native.Builder(spec)
    return built
