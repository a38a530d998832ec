"""The one mapping between a record type's schema and spreadsheet columns and sheets.

Writing a blank spreadsheet and reading a filled one both use `layout_for`, so the two can never
disagree about a heading, a sheet or a field. The conventions (see docs in `__init__`):

- every scalar field is a column; nested objects are flattened into headings joined by ": "
  ("Admissions: Status"); an object with one field to fill (money: amount, with the currency
  fixed) is one column named after the object;
- an array of codes is one cell of codes separated by ";"; an array of free text is one cell with
  one entry a line;
- an array of objects is a *list*: in XLSX each list directly under the record (or under its plain
  objects) has a sheet of its own, whose rows carry the record identifier of the record they
  belong to; lists inside a list's rows sit on that list's sheet; in CSV every list sits in the
  one table. On a sheet, a line whose cells of a list are filled starts a new row of that list; a
  line whose cells of a list are blank continues the row above ("outline" lines);
- fields with a constant value (recordType, currency) are filled in, never asked for; the schema
  version defaults to the standard's and may be given in a "Schema version" column.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from care_exchange_standard.codelists import Codelist
from care_exchange_standard.fields import ITEMS, Field, FieldPath
from care_exchange_standard.standard import STANDARD_VERSION, Standard, load_standard

Kind = Literal[
    "string", "integer", "number", "boolean", "date", "date-time", "code", "codes", "texts"
]
SEPARATOR = ": "
MAX_SHEET_NAME = 31
TRAILING_WORDS = {"and", "by", "of", "the", "or", "for", "to", "in", "a"}
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
RECORD_ID: FieldPath = ("id",)
SCHEMA_VERSION: FieldPath = ("schemaVersion",)
DEFAULT_SCHEMA_VERSION = ".".join(STANDARD_VERSION.split(".")[:2])
HOW_TO_SHEET = "How to fill this in"
LISTS_SHEET = "Lists"
META_SHEET = "care-exchange"
# The notes row: every note starts with one of these, which is how a reader tells it from data.
REQUIRED_NOTE, OPTIONAL_NOTE = "Required.", "Optional."


@dataclass(frozen=True)
class Column:
    """One column: the field it fills and how its cells are read and written."""

    path: FieldPath  # the field's path, `*` for list items: ("beds", "*", "careLevel")
    heading: str  # the human heading, unique within the type: "Beds by type: Care level"
    kind: Kind
    field: Field
    list_path: FieldPath  # the innermost list of objects holding it; () for the record itself
    codes: Mapping[str, str] = dataclasses.field(
        default_factory=dict
    )  # code -> title, for code(s) kinds
    codelist: str | None = None
    open_codes: bool = False
    in_template: bool = True  # False: accepted when present, never written in a blank sheet
    required: bool = False  # required whenever its object (or list row) is there

    @property
    def name(self) -> str:
        """The field path as people write it: `beds.careLevel` (the CSV's second heading row)."""
        return ".".join(part for part in self.path if part != ITEMS)

    @property
    def rel(self) -> FieldPath:
        """The path below the list row (or record) that holds the column."""
        return self.path[len(self.list_path) + 1 :] if self.list_path else self.path

    @property
    def minimum(self) -> float | None:
        value = self.field.schema.get("minimum")
        return float(value) if isinstance(value, int | float) else None

    @property
    def maximum(self) -> float | None:
        value = self.field.schema.get("maximum")
        return float(value) if isinstance(value, int | float) else None

    @property
    def note(self) -> str:
        """The notes-row text: required or not, what to enter, the field's description."""
        start = REQUIRED_NOTE if self.required else OPTIONAL_NOTE
        return " ".join(
            part for part in (start, self.what_to_enter, self.field.description) if part
        )

    @property
    def what_to_enter(self) -> str:
        bounds = ""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            bounds = f" from {low:g} to {high:g}"
        elif low is not None:
            bounds = f", {low:g} or more"
        money = self.path[-1] == "amount" and self.field.schema.get("title") == "Amount"
        match self.kind:
            case "integer":
                return f"A whole number{bounds}."
            case "number":
                return "An amount in pounds (£)." if money else f"A number{bounds}."
            case "boolean":
                return "Yes or No."
            case "date":
                return "A date: 2024-03-31 or 31/03/2024."
            case "date-time":
                return (
                    "A date and time: 2024-03-31 14:30 (UK time) or with an offset, "
                    "2024-03-31T14:30:00+01:00."
                )
            case "code":
                if self.open_codes:
                    return "One of the listed values, or your own if none fits."
                return "One of the listed values."
            case "codes":
                return "Codes from the list, separated by ;."
            case "texts":
                return "One entry a line."
            case _:
                return ""


@dataclass(frozen=True)
class ListInfo:
    """An array of objects: rows of their own on a sheet."""

    path: FieldPath  # ("beds",) or ("beds", "*", "notAvailableReasons")
    title: str
    parent: FieldPath | None  # the enclosing list, None for a list of the record itself
    item_title: str

    @property
    def name(self) -> str:
        return ".".join(part for part in self.path if part != ITEMS)


@dataclass(frozen=True)
class Sheet:
    """One sheet of the XLSX layout: the record's sheet, or a list's with its inner lists."""

    name: str
    list_path: FieldPath | None  # None for the record's own sheet
    columns: tuple[Column, ...]  # template columns in order, the link column first on list sheets


@dataclass(frozen=True)
class Layout:
    """Every column, list and sheet of one record type."""

    record_type: str
    title: str
    columns: tuple[Column, ...]
    lists: tuple[ListInfo, ...]
    constants: Mapping[FieldPath, Mapping[str, Any]]  # object path -> fixed members
    sheets: tuple[Sheet, ...]
    codelists: Mapping[str, Codelist]

    @property
    def template_columns(self) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if column.in_template)

    @property
    def main_sheet(self) -> Sheet:
        return self.sheets[0]

    def list_info(self, path: FieldPath) -> ListInfo:
        return next(info for info in self.lists if info.path == path)

    def top_list(self, path: FieldPath) -> FieldPath:
        """The outermost list enclosing a list (itself for a list of the record)."""
        info = self.list_info(path)
        while info.parent is not None:
            info = self.list_info(info.parent)
        return info.path

    def columns_for(self, sheet: Sheet | None) -> tuple[Column, ...]:
        """The columns a sheet may have: all for CSV (None), else the sheet's lists' or record's."""
        if sheet is None:
            return self.columns
        if sheet.list_path is None:
            return tuple(column for column in self.columns if not column.list_path)
        return tuple(
            column
            for column in self.columns
            if column.list_path and self.top_list(column.list_path) == sheet.list_path
        )


def normalise(heading: str) -> str:
    """How headings are compared: case, spacing and a required marker do not matter."""
    text = " ".join(heading.replace("\u00a0", " ").split()).casefold()
    for marker in ("(required)", "(optional)", "*"):
        text = text.removesuffix(marker).rstrip()
    return text


def _kind(schema: Mapping[str, Any]) -> Kind | None:
    if "codelist" in schema or "enum" in schema:
        return "code"
    match schema.get("type"):
        case "integer":
            return "integer"
        case "number":
            return "number"
        case "boolean":
            return "boolean"
        case "string":
            fmt = schema.get("format")
            return "date" if fmt == "date" else "date-time" if fmt == "date-time" else "string"
    return None


def _codes(standard: Standard, schema: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    name = schema.get("codelist")
    codelist = standard.codelists.get(str(name)) if name else None
    if codelist is not None:
        return {code: row["Title"] for code, row in codelist.rows.items()}, codelist.name
    return {str(code): str(code) for code in schema.get("enum", ())}, None


def sheet_name(title: str, taken: Iterable[str]) -> str:
    """A valid, unused sheet name from a title: at most 31 characters, cut at a word."""
    name = SHEET_NAME_BAD.sub(" ", title).strip()
    if len(name) > MAX_SHEET_NAME:
        words = name[: MAX_SHEET_NAME + 1].rsplit(" ", 1)[0].rstrip(" ,").split(" ")
        while len(words) > 1 and words[-1].casefold() in TRAILING_WORDS:
            words.pop()
        name = " ".join(words)
    used = {normalise(other) for other in taken}
    candidate, number = name, 2
    while normalise(candidate) in used:
        suffix = f" {number}"
        candidate, number = name[: MAX_SHEET_NAME - len(suffix)] + suffix, number + 1
    return candidate


def build_layout(standard: Standard, record_type: str) -> Layout:
    """Walk a record type's field index into columns, lists and sheets."""
    info = standard.types[record_type]
    fields = info.fields
    columns: list[Column] = []
    lists: list[ListInfo] = []
    constants: dict[FieldPath, dict[str, Any]] = {}

    def heading_of(path: FieldPath) -> str:
        parts = [fields[path[: i + 1]].title for i, part in enumerate(path) if part != ITEMS]
        return SEPARATOR.join(parts)

    def enclosing_list(path: FieldPath) -> FieldPath:
        for end in range(len(path) - 1, 0, -1):
            if path[end] == ITEMS:
                return path[:end]
        return ()

    def required_here(path: FieldPath) -> bool:
        # Required whenever its nearest list row (or the record) is there: every object between
        # must be required too.
        stop = len(enclosing_list(path)) + 1 if enclosing_list(path) else 0
        return all(fields[path[:end]].required for end in range(len(path), stop, -1))

    for path, fld in fields.items():
        if not path or path[-1] == ITEMS:
            continue
        schema = fld.schema
        parent = path[:-1]
        if "const" in schema:
            constants.setdefault(parent, {})[path[-1]] = schema["const"]
            continue
        if schema.get("type") == "object":
            continue
        if schema.get("type") == "array":
            items = fields.get((*path, ITEMS))
            if items is not None and items.schema.get("type") == "object":
                outer = enclosing_list(path)
                lists.append(
                    ListInfo(
                        path=path,
                        title=fld.title,
                        parent=outer or None,
                        item_title=items.title,
                    )
                )
                continue
            item_schema = items.schema if items else {}
            kind: Kind = "codes" if _kind(item_schema) == "code" else "texts"
            codes, codelist = _codes(standard, item_schema) if kind == "codes" else ({}, None)
            columns.append(
                Column(
                    path=path,
                    heading=heading_of(path),
                    kind=kind,
                    field=fld,
                    list_path=enclosing_list(path),
                    codes=codes,
                    codelist=codelist,
                    open_codes=bool(item_schema.get("openCodelist", False)),
                    required=required_here(path),
                )
            )
            continue
        scalar = _kind(schema)
        if scalar is None:
            continue
        codes, codelist = _codes(standard, schema) if scalar == "code" else ({}, None)
        columns.append(
            Column(
                path=path,
                heading=heading_of(path),
                kind=scalar,
                field=fld,
                list_path=enclosing_list(path),
                codes=codes,
                codelist=codelist,
                open_codes=bool(schema.get("openCodelist", False)),
                in_template=path != SCHEMA_VERSION,
                required=required_here(path),
            )
        )

    columns = _name_lone_members(columns, fields, constants)
    headings = [normalise(column.heading) for column in columns]
    if len(set(headings)) != len(headings):
        repeated = sorted({h for h in headings if headings.count(h) > 1})
        raise ValueError(f"{record_type}: headings repeat: {repeated}")

    sheets: list[Sheet] = [
        Sheet(
            name=sheet_name(info.schema.get("title", record_type), ()),
            list_path=None,
            columns=tuple(c for c in columns if c.in_template and not c.list_path),
        )
    ]
    id_column = next(column for column in columns if column.path == RECORD_ID)
    for list_info in lists:
        if list_info.parent is not None:
            continue
        inner = tuple(
            column
            for column in columns
            if column.in_template
            and column.list_path
            and _top(lists, column.list_path) == list_info.path
        )
        name = sheet_name(list_info.title, [sheet.name for sheet in sheets])
        sheets.append(Sheet(name=name, list_path=list_info.path, columns=(id_column, *inner)))
    return Layout(
        record_type=record_type,
        title=str(info.schema.get("title", record_type)),
        columns=tuple(columns),
        lists=tuple(lists),
        constants=constants,
        sheets=tuple(sheets),
        codelists=standard.codelists,
    )


def _top(lists: list[ListInfo], path: FieldPath) -> FieldPath:
    by_path = {info.path: info for info in lists}
    info = by_path[path]
    while info.parent is not None:
        info = by_path[info.parent]
    return info.path


def _name_lone_members(
    columns: list[Column],
    fields: Mapping[FieldPath, Field],
    constants: Mapping[FieldPath, Mapping[str, Any]],
) -> list[Column]:
    """An object with one member to fill besides fixed ones (money) takes the object's heading."""
    by_parent: dict[FieldPath, list[Column]] = {}
    for column in columns:
        by_parent.setdefault(column.path[:-1], []).append(column)
    renamed: list[Column] = []
    for column in columns:
        parent = column.path[:-1]
        lone = parent in constants and len(by_parent[parent]) == 1 and parent[-1:] != (ITEMS,)
        if lone:
            heading = column.heading.rsplit(SEPARATOR, 1)[0]
            column = Column(**{**column.__dict__, "heading": heading})
        renamed.append(column)
    return renamed


@cache
def layout_for(record_type: str) -> Layout:
    """The layout of a record type of the standard shipped with this package."""
    return build_layout(load_standard(), record_type)


def record_types() -> list[str]:
    return load_standard().record_types
