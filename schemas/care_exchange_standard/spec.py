"""The normative OpenAPI document, loaded once with its schemas compiled against the standard's.

The server holds every request to it, the conformance suite holds every response to it, and the
SDK lists its operations from it: one loader, so the three read the spec the same way. The
document's `$ref`s into `../schemas/` become the standard's `$id`s and its own `#/...` refs
become absolute, so a schema taken out of the document still resolves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

from care_exchange_standard.files import SPEC_FILE
from care_exchange_standard.standard import BASE_URI, load_standard

SPEC_URI = "https://care-exchange.org/spec/v1/openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch")
_LOCAL = "#/components/schemas/"


@dataclass(frozen=True)
class SpecOperation:
    """One method on one path, as the document declares it."""

    method: str
    path: str
    operation_id: str
    declaration: Mapping[str, Any]
    shared_parameters: tuple[Mapping[str, Any], ...]


class Spec:
    """The OpenAPI document with absolute references and a registry that resolves them."""

    def __init__(self, spec_file: Path = SPEC_FILE) -> None:
        with spec_file.open(encoding="utf-8") as handle:
            loaded = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        self.document: dict[str, Any] = _absolute(loaded)
        standard = load_standard()
        self.registry = jsonschema_rs.Registry(
            [*standard.documents.items(), (SPEC_URI, self.document)]
        )

    def operations(self) -> Iterator[SpecOperation]:
        for path, item in self.document["paths"].items():
            shared = tuple(item.get("parameters", []))
            for method in METHODS:
                if method in item:
                    declared = item[method]
                    yield SpecOperation(
                        method.upper(), path, declared["operationId"], declared, shared
                    )

    def compile(self, schema: Mapping[str, Any]) -> jsonschema_rs.Validator:
        """A validator for a schema taken from the document (formats checked)."""
        return jsonschema_rs.validator_for(
            dict(schema), registry=self.registry, validate_formats=True
        )

    def component(self, name: str) -> jsonschema_rs.Validator:
        """A validator for `#/components/schemas/<name>`."""
        return self.compile({"$ref": SPEC_URI + _LOCAL + name})

    def resolve(self, reference: str) -> Any:
        """The node an absolute reference points at, in the document or in the standard."""
        uri, _, fragment = reference.partition("#")
        node: Any = self.document if uri == SPEC_URI else load_standard().documents[uri]
        for part in fragment.strip("/").split("/") if fragment.strip("/") else []:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node


def _absolute(node: Any) -> Any:
    if isinstance(node, dict):
        found = {name: _absolute(value) for name, value in node.items()}
        reference = found.get("$ref")
        if isinstance(reference, str):
            if reference.startswith("../schemas/"):
                found["$ref"] = BASE_URI + reference.removeprefix("../schemas/")
            elif reference.startswith("#"):
                found["$ref"] = SPEC_URI + reference
        return found
    if isinstance(node, list):
        return [_absolute(value) for value in node]
    return node


@cache
def load_spec() -> Spec:
    """The spec shipped with the standard, loaded and registered once per process."""
    return Spec()
