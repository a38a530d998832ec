"""The typed response bodies (`care_exchange_server.bodies`) say what the spec says.

Each `XBody` has exactly the members of the spec's component `X`, the same ones required; a body
nested in another without a component of its own is held to the property schema it fills. So
mypy, checking the code against the types, checks it against the spec's shapes too.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from typing_extensions import is_typeddict

from care_exchange_server import bodies
from tests.api.test_problems import SPEC

COMPONENTS: Mapping[str, Any] = SPEC["components"]["schemas"]
LOCAL = "#/components/schemas/"
TYPED = {
    name: value
    for name, value in vars(bodies).items()
    if name.endswith("Body") and is_typeddict(value)
}
PAGES = sorted(
    name
    for name, schema in COMPONENTS.items()
    if name.endswith("Page")
    and "nextPageToken" in schema.get("properties", {})
    and f"{name}Body" not in TYPED
)


def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema with `$ref`s followed and `allOf` members merged.

    A reference into the standard's own schemas (`../schemas/...`) is a document of the
    standard, which the typed bodies carry as it is.
    """
    if "$ref" in schema:
        reference = schema["$ref"]
        if not reference.startswith(LOCAL):
            return {}
        return resolve(COMPONENTS[reference.removeprefix(LOCAL)])
    if "allOf" in schema:
        properties: dict[str, Any] = dict(schema.get("properties", {}))
        required: list[str] = list(schema.get("required", []))
        for part in schema["allOf"]:
            found = resolve(part)
            properties |= found.get("properties", {})
            required += found.get("required", [])
        return {"properties": properties, "required": required}
    return schema


def shape(schema: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    found = resolve(schema)
    return set(found.get("properties", {})), set(found.get("required", []))


def typed_dicts_in(annotation: Any) -> Iterator[Any]:
    """The TypedDicts an annotation holds: itself, a union's members, a list's items."""
    if is_typeddict(annotation):
        yield annotation
    elif get_origin(annotation) in (Union, types.UnionType, list):
        for argument in get_args(annotation):
            yield from typed_dicts_in(argument)


def object_schemas(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The object schemas a property's value may take (through items, oneOf, anyOf)."""
    found = resolve(schema)
    if "items" in found:
        return object_schemas(found["items"])
    branches = found.get("oneOf") or found.get("anyOf")
    if branches:
        return [chosen for branch in branches for chosen in object_schemas(branch)]
    return [found] if "properties" in found else []


def merged(branches: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """One schema for a value that may take several object shapes (a `oneOf` of webhook and
    pull channels): every member any branch allows, required only where every branch says so.
    """
    shapes = [shape(branch) for branch in branches]
    properties = set().union(*(found for found, _ in shapes))
    required = set.intersection(*(needed for _, needed in shapes))
    return {"properties": {name: {} for name in properties}, "required": sorted(required)}


def pairs() -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """Every typed body with the schema it must match, walking down from the components."""
    seen: set[tuple[str, str]] = set()

    def walk(label: str, typed: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        if (typed.__name__, label) in seen:
            return
        seen.add((typed.__name__, label))
        yield label, typed, schema
        properties = resolve(schema).get("properties", {})
        for member, annotation in get_type_hints(typed).items():
            if member not in properties:
                continue
            candidates = object_schemas(properties[member])
            for inner in typed_dicts_in(annotation):
                own = inner.__name__.removesuffix("Body")
                if own in COMPONENTS:
                    yield from walk(own, inner, COMPONENTS[own])
                elif candidates:
                    yield from walk(f"{label}.{member}", inner, merged(candidates))

    for name, typed in TYPED.items():
        component = name.removesuffix("Body")
        if component in COMPONENTS:
            yield from walk(component, typed, COMPONENTS[component])
    for page in PAGES:
        yield page, bodies.PageBody, COMPONENTS[page]


PAIRS = list(pairs())


@pytest.mark.parametrize(("label", "typed", "schema"), PAIRS, ids=[p[0] for p in PAIRS])
def test_a_typed_body_has_the_members_of_its_schema(
    label: str, typed: Any, schema: Mapping[str, Any]
) -> None:
    properties, required = shape(schema)
    assert set(typed.__annotations__) == properties, label
    assert set(typed.__required_keys__) == required, label


def test_every_typed_body_is_held_to_a_schema() -> None:
    checked = {typed.__name__ for _, typed, _ in PAIRS}
    assert checked == set(TYPED)


def test_every_list_page_of_the_spec_is_the_one_page_shape() -> None:
    assert len(PAGES) >= 8
