"""The OpenAPI document made self-contained: the standard's schemas brought in as components.

`spec/openapi.yaml` stays the normative source and references the schemas by relative path,
which is right for readers of the repository and useless to a tool given only a URL: Swagger UI,
Postman and client generators fetch `../schemas/...` relative to wherever the document came from
and fail. The bundle carries every schema the document reaches, each `$defs` entry (and any
other node a `$ref` points into) as a component of its own, so that every reference is
`#/components/schemas/<name>`: the one form every generator follows.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import yaml

from care_exchange_standard.files import SPEC_FILE
from care_exchange_standard.standard import BASE_URI, Standard, load_standard

SPEC_PREFIX = "../schemas/"
COMPONENTS = "#/components/schemas/"
# Record and directory types are the nouns readers look for; the common building blocks are
# prefixed so that they never take the name of one of the API's own components (`Record`).
_PREFIXES = {"records/": "", "directory/": "", "common/": "Common", "formats/": ""}

Address = tuple[str, str]


def bundle(
    spec_file: Path = SPEC_FILE, standard: Standard | None = None, servers: list[str] | None = None
) -> dict[str, Any]:
    """The document with no external reference; `servers` replaces its servers when given."""
    with spec_file.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(
            handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    standard = standard or load_standard()
    names = _Names(standard, _spec_targets(document))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for address, name in names.components.items():
        if name in schemas:
            raise ValueError(f"component {name!r} of {address} is already in the document")
        schemas[name] = names.component(address)
    bundled: dict[str, Any] = _relink(document, names)
    if servers is not None:
        bundled["servers"] = [{"url": url, "description": "This server."} for url in servers]
    return bundled


def external_references(document: Any) -> Iterator[str]:
    """Every `$ref` of a document that leaves it."""
    if isinstance(document, dict):
        reference = document.get("$ref")
        if isinstance(reference, str) and not reference.startswith("#"):
            yield reference
        for value in document.values():
            yield from external_references(value)
    elif isinstance(document, list):
        for value in document:
            yield from external_references(value)


def _spec_address(reference: str) -> Address:
    uri, fragment = urldefrag(BASE_URI + reference.removeprefix(SPEC_PREFIX))
    return uri, fragment


def _spec_targets(document: Any) -> list[Address]:
    return [
        _spec_address(reference)
        for reference in external_references(document)
        if reference.startswith(SPEC_PREFIX)
    ]


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text))


class _Names:
    """Which schema nodes become components, and under what names.

    Every document the spec reaches, directly or through other schemas, comes in whole; its
    `$defs` entries and every other node a reference points into become components too, so a
    reference never needs a pointer below a component. Targets are looked up in the standard's
    `referencing` registry, so a reference that does not resolve fails here, not in a client.
    """

    def __init__(self, standard: Standard, targets: list[Address]) -> None:
        self._standard = standard
        self.components: dict[Address, str] = {}
        self._nodes: dict[Address, Any] = {}
        pending = list(targets)
        documents: set[str] = set()
        while pending:
            uri, fragment = pending.pop()
            if uri not in documents:
                documents.add(uri)
                document = standard.documents[uri]
                pending += [(uri, f"/$defs/{name}") for name in document.get("$defs", {})]
                pending += [urldefrag(urljoin(uri, ref)) for ref in _references(document)]
                self._add((uri, ""))
            self._add((uri, fragment))
        taken: dict[str, Address] = {}
        for address, name in self.components.items():
            if name in taken:
                raise ValueError(f"{address} and {taken[name]} would both be {name!r}")
            taken[name] = address

    def _add(self, address: Address) -> None:
        if address in self.components:
            return
        uri, fragment = address
        resolved = self._standard.registry.resolver(base_uri=uri).lookup(f"#{fragment}")
        self._nodes[address] = resolved.contents
        relative = uri.removeprefix(BASE_URI)
        folder = next(prefix for prefix in _PREFIXES if relative.startswith(prefix))
        stem = _PREFIXES[folder] + _pascal(relative.removeprefix(folder).removesuffix(".json"))
        tokens = [token for token in fragment.split("/") if token]
        kept = [token for token in tokens if token not in ("$defs", "properties", "items")]
        self.components[address] = stem + "".join(_pascal(token) for token in kept)

    def reference(self, base: str, reference: str) -> str:
        uri, fragment = urldefrag(urljoin(base, reference))
        return COMPONENTS + self.components[uri, fragment]

    def component(self, address: Address) -> Any:
        """The node at an address, its references relinked and its own inner targets cut out."""
        uri, fragment = address
        found = self._copy(self._nodes[address], uri, fragment, top=True)
        if not fragment:
            for keyword in ("$id", "$schema", "$defs"):
                found.pop(keyword, None)
            found["x-schema-id"] = uri
        return found

    def _copy(self, node: Any, uri: str, pointer: str, *, top: bool = False) -> Any:
        if not top and (uri, pointer) in self.components:
            return {"$ref": COMPONENTS + self.components[uri, pointer]}
        if isinstance(node, list):
            return [self._copy(value, uri, f"{pointer}/{i}") for i, value in enumerate(node)]
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        found = {
            key: self._copy(value, uri, f"{pointer}/{_escape(key)}") for key, value in node.items()
        }
        if isinstance(node.get("$ref"), str):
            found["$ref"] = self.reference(uri, node["$ref"])
        return found


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _relink(node: Any, names: _Names) -> Any:
    if isinstance(node, dict):
        found = {key: _relink(value, names) for key, value in node.items()}
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith(SPEC_PREFIX):
            found["$ref"] = COMPONENTS + names.components[_spec_address(reference)]
        return found
    if isinstance(node, list):
        return [_relink(value, names) for value in node]
    return node
