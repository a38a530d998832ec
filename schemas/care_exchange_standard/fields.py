"""The field index: every property of a type, found once by walking its schema through `$ref`s.

Error messages, warnings and the reference documentation all need to know what a field is called,
what it means and which codelist it takes; walking the schema once here keeps them in agreement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from referencing._core import Resolver

FieldPath = tuple[str, ...]
ITEMS = "*"
_MAX_REF_DEPTH = 32


@dataclass(frozen=True)
class Field:
    """One place in a record: `path` names properties, with `*` standing for any array index."""

    path: FieldPath
    schema: Mapping[str, Any]
    required: bool

    @property
    def name(self) -> str:
        """The dotted name used in documentation anchors and error groupings (`beds.occupied`)."""
        return ".".join(part for part in self.path if part != ITEMS)

    @property
    def title(self) -> str:
        return str(self.schema.get("title", self.name))

    @property
    def description(self) -> str:
        return str(self.schema.get("description", ""))

    @property
    def codelist(self) -> str | None:
        value = self.schema.get("codelist")
        return str(value) if value else None

    @property
    def open_codelist(self) -> bool:
        return bool(self.schema.get("openCodelist", False))

    @property
    def personal_data(self) -> bool:
        return bool(self.schema.get("x-personal-data", False))

    @property
    def deprecation(self) -> Mapping[str, str] | None:
        """The `x-deprecated` note when the field is deprecated, else None."""
        if not self.schema.get("deprecated"):
            return None
        note = self.schema.get("x-deprecated")
        return note if isinstance(note, Mapping) else {"version": "", "description": ""}

    @property
    def property_names(self) -> list[str]:
        return list(self.schema.get("properties", {}))


def flatten(
    node: Mapping[str, Any], resolver: Resolver[Any]
) -> tuple[dict[str, Any], Resolver[Any]]:
    """Follow a chain of `$ref`s; keywords beside a `$ref` (title, description) win."""
    merged = dict(node)
    for _ in range(_MAX_REF_DEPTH):
        ref = merged.pop("$ref", None)
        if ref is None:
            return merged, resolver
        resolved = resolver.lookup(ref)
        resolver = resolved.resolver
        merged = {**resolved.contents, **merged}
    raise ValueError(f"$ref chain deeper than {_MAX_REF_DEPTH}: is a schema recursive?")


def index_fields(schema: Mapping[str, Any], resolver: Resolver[Any]) -> dict[FieldPath, Field]:
    """Every declared field of a type; the root object itself is at the empty path.

    Declarations come from `properties`, `items` and the branches of `allOf`/`anyOf`/`oneOf`.
    Subschemas under `if`/`then`/`else`/`not` only constrain fields declared elsewhere, so they are
    not read as declarations (the schema quality tests hold authors to that).
    """
    fields: dict[FieldPath, Field] = {}

    def visit(
        node: Mapping[str, Any], resolver: Resolver[Any], path: FieldPath, required: bool
    ) -> None:
        flat, resolver = flatten(node, resolver)
        if path not in fields:
            fields[path] = Field(path=path, schema=flat, required=required)
        declare(flat, resolver, path)

    def declare(flat: Mapping[str, Any], resolver: Resolver[Any], path: FieldPath) -> None:
        required = set(flat.get("required", ()))
        for name, sub in flat.get("properties", {}).items():
            visit(sub, resolver, (*path, name), name in required)
        items = flat.get("items")
        if isinstance(items, Mapping):
            visit(items, resolver, (*path, ITEMS), False)
        for keyword in ("allOf", "anyOf", "oneOf"):
            branches: Sequence[Mapping[str, Any]] = flat.get(keyword, ())
            for branch in branches:
                branch_flat, branch_resolver = flatten(branch, resolver)
                declare(branch_flat, branch_resolver, path)

    visit(schema, resolver, (), True)
    return fields


def field_path(instance_path: Sequence[str | int]) -> FieldPath:
    """The field a location in a record belongs to: array indices become `*`."""
    return tuple(ITEMS if isinstance(part, int) else part for part in instance_path)
