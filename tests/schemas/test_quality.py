"""Schema quality rules, in the spirit of Open Contracting's checks: the standard's own lint."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from care_exchange_standard import SCHEMA_DIR, STANDARD_VERSION, Standard
from care_exchange_standard.standard import BASE_URI, schema_uri
from tests.conftest import EXAMPLES

LOWER_CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CONDITION_KEYWORDS = {"if", "then", "else", "not"}


def declared_properties(node: Any, where: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every entry of every `properties`, except those inside conditions (which only constrain)."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield where, name, sub
        for key, value in node.items():
            if key not in CONDITION_KEYWORDS:
                yield from declared_properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from declared_properties(value, f"{where}/{index}")


def subschemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from subschemas(value)


def documents(standard: Standard) -> list[tuple[str, dict[str, Any]]]:
    return [(standard.paths[uri].name, doc) for uri, doc in standard.documents.items()]


def test_every_schema_is_valid_2020_12(standard: Standard) -> None:
    for name, document in documents(standard):
        assert document.get("$schema") == "https://json-schema.org/draft/2020-12/schema", name
        Draft202012Validator.check_schema(document)


def test_ids_are_unique_versioned_and_mirror_the_folder_layout(standard: Standard) -> None:
    major = STANDARD_VERSION.split(".")[0]
    assert BASE_URI.endswith(f"/v{major}/")
    for uri, path in standard.paths.items():
        assert uri == schema_uri(SCHEMA_DIR, path)
    assert len(set(standard.documents)) == len(standard.paths)


def test_no_ref_leaves_the_schemas_folder(standard: Standard) -> None:
    for uri, document in standard.documents.items():
        resolver = standard.registry.resolver(base_uri=uri)
        for node in subschemas(document):
            ref = node.get("$ref")
            if ref is None:
                continue
            target = resolver.lookup(ref)
            assert not ref.startswith(("http:", "https:")), f"{uri}: absolute $ref {ref}"
            assert target.contents is not None, f"{uri}: {ref} does not resolve"


def test_every_property_has_a_title_and_description(standard: Standard) -> None:
    missing = [
        f"{name}{where}/{prop}"
        for name, document in documents(standard)
        for where, prop, sub in declared_properties(document)
        if not (isinstance(sub, dict) and sub.get("title") and sub.get("description"))
    ]
    assert missing == []


def test_property_names_are_lower_camel_case(standard: Standard) -> None:
    wrong = [
        f"{name}{where}/{prop}"
        for name, document in documents(standard)
        for where, prop, _ in declared_properties(document)
        if not LOWER_CAMEL.match(prop)
    ]
    assert wrong == []


def test_objects_are_closed(standard: Standard) -> None:
    """A misspelt field must be an error, never silently dropped."""
    open_objects = [
        f"{name}: {sorted(node['properties'])[:3]}"
        for name, document in documents(standard)
        for node in subschemas(document)
        if "properties" in node
        and node.get("type") == "object"
        and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_codelists_exist_are_used_and_follow_the_enum_rule(standard: Standard) -> None:
    used: set[str] = set()
    for name, document in documents(standard):
        for node in subschemas(document):
            if "codelist" not in node:
                continue
            codelist = node["codelist"]
            used.add(codelist)
            assert codelist in standard.codelists, f"{name}: no CSV for {codelist}"
            assert isinstance(node.get("openCodelist"), bool), f"{name}: {codelist} open?"
            if node["openCodelist"]:
                assert "enum" not in node, f"{name}: open codelist {codelist} has an enum"
            else:
                assert node.get("enum") == standard.codelists[codelist].codes, (
                    f"{name}: enum for {codelist} differs from the CSV (order included)"
                )
    assert sorted(set(standard.codelists) - used) == [], "CSV files no schema uses"


def test_codes_are_kebab_case(standard: Standard) -> None:
    for codelist in standard.codelists.values():
        assert KEBAB.match(codelist.name[:-4]), codelist.name
        for code in codelist.codes:
            assert KEBAB.match(code), f"{codelist.name}: {code}"
            assert codelist.rows[code]["Title"] and codelist.rows[code]["Description"], code


@pytest.mark.parametrize("kind", ["record", "directory"])
def test_every_type_carries_its_type_and_version(standard: Standard, kind: str) -> None:
    for info in standard.types.values():
        if info.kind != kind:
            continue
        properties = info.schema["properties"]
        assert properties[info.discriminator]["const"] == info.name
        for required in (info.discriminator, "schemaVersion", "id"):
            assert required in info.schema["required"], f"{info.name}: {required}"
        if kind == "record":
            assert "serviceId" in info.schema["required"], info.name
            assert "asAt" in properties or "period" in properties or "occurredAt" in properties


def test_every_type_has_enough_examples(standard: Standard) -> None:
    for name in standard.types:
        valid = list((EXAMPLES / "valid" / name).glob("*.json"))
        invalid = list((EXAMPLES / "invalid" / name).glob("*.json"))
        assert len(valid) >= 2 and len(invalid) >= 2, name


def test_every_invalid_example_is_labelled_and_every_label_has_a_file(standard: Standard) -> None:
    for name in standard.types:
        labels = json.loads((EXAMPLES / "expected-errors" / f"{name}.json").read_text())
        files = {path.name for path in (EXAMPLES / "invalid" / name).glob("*.json")}
        assert set(labels) == files, name
        assert all(labels[file] for file in files), f"{name}: an example with no stated error"


def test_example_folders_name_real_types(standard: Standard) -> None:
    for verdict in ("valid", "invalid"):
        folders = {path.name for path in (EXAMPLES / verdict).iterdir()}
        assert folders <= set(standard.types), folders - set(standard.types)


IDENTIFYING_NAMES = re.compile(
    r"(?i)^(first|given|family|last|sur|full|middle)?name$|dateofbirth|^dob$|birth|"
    r"^chi|chinumber|nhsnumber|^nino$|nationalinsurance|homeaddress|residentname|staffname"
)


def test_records_have_no_names_birth_dates_or_health_numbers(standard: Standard) -> None:
    """Core records are aggregate and pseudonymous: such fields must not exist at all."""
    offending = [
        f"{info.name}: {field.name}"
        for info in standard.types.values()
        if info.kind == "record"
        for path, field in info.fields.items()
        if path and IDENTIFYING_NAMES.search(path[-1])
    ]
    assert offending == []


PERSONAL_DATA_FIELDS = {
    "achievement": {"evidence.description", "contributors"},
    "notifiable-event": {
        "personReference",
        "ageBand",
        "summary",
        "actionsTaken",
        "death.causeOfDeath",
        "managerAbsence.interimArrangements",
    },
    "complaints-and-compliments": {"compliments.highlights"},
}


def test_personal_data_fields_are_exactly_the_reviewed_ones(standard: Standard) -> None:
    """A new field that could identify someone is a decision: this list changes with it."""
    marked = {
        info.name: {
            field.name
            for path, field in info.fields.items()
            if field.personal_data and path[-1:] != ("*",)
        }
        for info in standard.types.values()
    }
    assert {name: fields for name, fields in marked.items() if fields} == PERSONAL_DATA_FIELDS
