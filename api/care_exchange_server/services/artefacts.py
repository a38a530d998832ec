"""The files a server hands out about itself: its OpenAPI document and the standard's files.

Each is made once per process and kept as bytes with a strong entity tag, so that a client or a
cache that already holds one is told `304` and the document is never rebuilt per request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import yaml

from care_exchange_standard.bundle import bundle
from care_exchange_standard.standard import BASE_URI, load_standard

SCHEMA_MEDIA_TYPE = "application/schema+json"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CODELISTS = "codelists"
# Documents of the standard that are not schemas: its rules and the return templates it ships.
DOCUMENT_FOLDERS = ("rules", "return-templates")
JSON_MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class Artefact:
    """A served file: its bytes, its media type and the entity tag of its bytes."""

    body: bytes
    media_type: str
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", f'"{hashlib.sha256(self.body).hexdigest()}"')

    def matches(self, if_none_match: str | None) -> bool:
        """Whether an `If-None-Match` header names this version (weak comparison, RFC 9110)."""
        if not if_none_match:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


@dataclass(frozen=True)
class OpenApiArtefacts:
    """The bundled document in the two forms served."""

    yaml: Artefact
    json: Artefact


@cache
def openapi_documents(base_url: str) -> OpenApiArtefacts:
    """The self-contained document whose one server is this one, once per base URL.

    `servers` names the server's own base (its issuer) rather than the illustrative hosts of
    the normative document, so that "Try it out" and a generated client reach this server.
    """
    document = bundle(servers=[base_url])
    dumped = yaml.dump(document, Dumper=_dumper(), sort_keys=False, allow_unicode=True)
    return OpenApiArtefacts(
        yaml=Artefact(dumped.encode("utf-8"), "application/yaml"),
        json=Artefact(json.dumps(document, ensure_ascii=False).encode("utf-8"), "application/json"),
    )


def _dumper() -> type[yaml.SafeDumper]:
    dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return dumper


@cache
def standard_files() -> Mapping[tuple[str, str], Artefact]:
    """Every schema by the folder and name of its `$id`, and every codelist under `codelists`.

    The table is the only way from a request to a file: a name outside it is not found, so no
    path a client writes is ever joined to a folder on disk.
    """
    standard = load_standard()
    found: dict[tuple[str, str], Artefact] = {}
    for uri, path in standard.paths.items():
        folder, _, name = uri.removeprefix(BASE_URI).partition("/")
        found[folder, name] = Artefact(path.read_bytes(), SCHEMA_MEDIA_TYPE)
    for name in standard.codelists:
        path = standard.directory / CODELISTS / name
        found[CODELISTS, name] = Artefact(path.read_bytes(), CSV_MEDIA_TYPE)
    for folder in DOCUMENT_FOLDERS:
        for path in sorted((standard.directory / folder).glob("*.json")):
            found[folder, path.name] = Artefact(path.read_bytes(), JSON_MEDIA_TYPE)
    return found
