"""The self-contained OpenAPI document: no reference leaves it; it means what the source means."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from care_exchange_standard import Standard
from care_exchange_standard.bundle import COMPONENTS, bundle, external_references
from care_exchange_standard.files import SPEC_FILE
from tests.conftest import INVALID_EXAMPLES, VALID_EXAMPLES, Example

BUNDLE_URI = "urn:care-exchange:bundle"
NAMES = {"provider": "Provider", "service": "Service"}


@pytest.fixture(scope="module")
def bundled() -> dict[str, Any]:
    return bundle()


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [found for value in node.values() for found in _references(value)]
    if isinstance(node, list):
        return [found for value in node for found in _references(value)]
    return []


def _component_name(type_name: str) -> str:
    return NAMES.get(type_name) or "".join(part.title() for part in type_name.split("-"))


def _validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        BUNDLE_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{BUNDLE_URI}{COMPONENTS}{name}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def test_no_reference_leaves_the_document(bundled: dict[str, Any]) -> None:
    assert list(external_references(bundled)) == []
    source = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    assert len(list(external_references(source))) > 20, "the source no longer references files"


def test_it_is_valid_openapi_3_1(bundled: dict[str, Any]) -> None:
    assert bundled["openapi"].startswith("3.1")
    validate(bundled)


def test_every_schema_reference_names_a_component_directly(bundled: dict[str, Any]) -> None:
    schemas = bundled["components"]["schemas"]
    wrong = [
        found
        for found in _references(bundled)
        if found.startswith(COMPONENTS) and found.removeprefix(COMPONENTS) not in schemas
    ]
    assert wrong == []
    assert schemas["CapacitySnapshot"]["x-schema-id"].endswith("/records/capacity-snapshot.json")
    assert [name for name, schema in schemas.items() if "$defs" in schema] == []


def test_the_api_s_own_components_keep_their_names(bundled: dict[str, Any]) -> None:
    source = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))["components"]["schemas"]
    for name in source:
        assert "x-schema-id" not in bundled["components"]["schemas"][name], name
    assert "CommonRecord" in bundled["components"]["schemas"]


@pytest.fixture(scope="module")
def with_provider(standard: Standard, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The bundle of a spec that also reaches the one type the real spec does not: provider."""
    spec = tmp_path_factory.mktemp("spec") / "openapi.yaml"
    source = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    source["components"]["schemas"]["Probe"] = {"$ref": "../schemas/directory/provider.json"}
    spec.write_text(yaml.safe_dump(source), encoding="utf-8")
    return bundle(spec, standard)


@pytest.mark.parametrize("example", [*VALID_EXAMPLES, *INVALID_EXAMPLES], ids=str)
def test_the_bundled_schemas_judge_every_example_as_the_standard_does(
    example: Example, standard: Standard, with_provider: dict[str, Any]
) -> None:
    name = _component_name(example.type_name)
    verdict = _validator(with_provider, name).is_valid(example.record)
    expected = standard.reference_validator(example.type_name).is_valid(example.record)
    by_rules_only = bool(example.expected) and all(kw == "rule" for _, kw in example.expected)
    assert verdict == expected == (example in VALID_EXAMPLES or by_rules_only)


def test_a_reference_into_a_schema_s_properties_becomes_a_component(
    with_provider: dict[str, Any],
) -> None:
    schemas = with_provider["components"]["schemas"]
    postcode = schemas["CommonGeography"]["properties"]["postcode"]
    assert postcode == {"$ref": COMPONENTS + "CommonGeographyPostcode"}
    assert schemas["CommonGeographyPostcode"]["type"] == "string"
    assert schemas["Provider"]["x-schema-id"].endswith("/directory/provider.json")


def test_a_name_already_taken_is_refused(standard: Standard, tmp_path: Path) -> None:
    spec = tmp_path / "openapi.yaml"
    source = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    source["components"]["schemas"]["CapacitySnapshot"] = {"type": "object"}
    spec.write_text(yaml.safe_dump(source), encoding="utf-8")
    with pytest.raises(ValueError, match="CapacitySnapshot"):
        bundle(spec, standard)


def test_servers_are_replaced_only_when_given(standard: Standard) -> None:
    source = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    assert bundle(standard=standard)["servers"] == source["servers"]
    served = bundle(standard=standard, servers=["https://cx.example.net"])
    assert [server["url"] for server in served["servers"]] == ["https://cx.example.net"]


def test_the_standard_s_documents_are_left_as_they_are(standard: Standard) -> None:
    bundle(standard=standard)
    for uri, path in standard.paths.items():
        assert standard.documents[uri] == json.loads(path.read_text(encoding="utf-8")), uri
