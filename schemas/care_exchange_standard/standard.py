"""The standard as one loaded object: documents, registry, codelists and a validator per type.

A type's fields and validator are worked out when first asked for, once: a run that validates
one type does not compile the others. Callers share the result through `load_standard`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jsonschema_rs
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from care_exchange_standard.codelists import Codelist, load_codelists
from care_exchange_standard.fields import Field, FieldPath, index_fields
from care_exchange_standard.files import SCHEMA_DIR
from care_exchange_standard.messages import show
from care_exchange_standard.rules import load_rules
from care_exchange_standard.validation import (
    BatchCheck,
    Issue,
    TypeValidator,
    docs_link,
    warning_schema,
)

if TYPE_CHECKING:  # `jsonschema` takes a second to import (its URI grammars): only when asked
    from jsonschema import Draft202012Validator

BASE_URI = "https://care-exchange.org/schemas/v1/"
STANDARD_VERSION = (SCHEMA_DIR / "VERSION").read_text(encoding="utf-8").strip()
SCHEMA_FOLDERS = ("common", "records", "directory", "formats")
TYPE_FOLDERS: Mapping[str, Literal["record", "directory"]] = {
    "records": "record",
    "directory": "directory",
}
DISCRIMINATORS = {"record": "recordType", "directory": "directoryType"}


@dataclass(frozen=True)
class TypeInfo:
    """A type of the standard: a record type (publishable fact) or a directory type."""

    name: str
    kind: Literal["record", "directory"]
    uri: str
    path: Path
    schema: Mapping[str, Any]
    registry: Registry[Any] = field(repr=False, compare=False)

    @cached_property
    def fields(self) -> Mapping[FieldPath, Field]:
        """The type's fields by path (see `index_fields`)."""
        return index_fields(self.schema, self.registry.resolver(base_uri=self.uri))

    @property
    def discriminator(self) -> str:
        """The property that names the type inside each document of it."""
        return DISCRIMINATORS[self.kind]


class _Steps(dict[str, tuple[BatchCheck, ...]]):
    """The verdict steps of a discriminator's types, each made when first looked up."""

    def __init__(self, standard: Standard, names: list[str]) -> None:
        super().__init__()
        self._standard = standard
        self._names = frozenset(names)

    def __missing__(self, name: str) -> tuple[BatchCheck, ...]:
        if name not in self._names:
            raise KeyError(name)
        steps = self[name] = self._standard.validator(name).clean_steps
        return steps


def schema_uri(directory: Path, path: Path) -> str:
    """The `$id` a schema file must have: the base URI followed by its path below `directory`."""
    return BASE_URI + path.relative_to(directory).as_posix()


class Standard:
    """Everything the standard defines, loaded from one folder and never from the network."""

    def __init__(self, directory: Path = SCHEMA_DIR) -> None:
        self.directory = directory
        self.documents: dict[str, dict[str, Any]] = {}
        self.paths: dict[str, Path] = {}
        for folder in SCHEMA_FOLDERS:
            for path in sorted((directory / folder).glob("*.json")):
                document = json.loads(path.read_text(encoding="utf-8"))
                uri = str(document.get("$id", ""))
                if uri in self.documents:
                    raise ValueError(f"{path}: $id {uri!r} is already used by {self.paths[uri]}")
                self.documents[uri] = document
                self.paths[uri] = path
        self.registry: Registry[Any] = Registry().with_resources(
            (uri, Resource.from_contents(doc, default_specification=DRAFT202012))
            for uri, doc in self.documents.items()
        )
        self.compiled_registry = jsonschema_rs.Registry(list(self.documents.items()))
        self._rules = load_rules(directory / "rules", self.compiled_registry)
        self.codelists: dict[str, Codelist] = load_codelists(directory / "codelists")
        self.types: dict[str, TypeInfo] = {}
        self._validators: dict[str, TypeValidator] = {}
        self._clean_checks: dict[str, dict[str, tuple[BatchCheck, ...]]] | None = None
        for folder, kind in TYPE_FOLDERS.items():
            for path in sorted((directory / folder).glob("*.json")):
                self._add_type(path.stem, kind, schema_uri(directory, path))

    def _add_type(self, name: str, kind: Literal["record", "directory"], uri: str) -> None:
        self.types[name] = TypeInfo(
            name=name,
            kind=kind,
            uri=uri,
            path=self.paths[uri],
            schema=self.documents[uri],
            registry=self.registry,
        )

    def _compile(self, info: TypeInfo) -> TypeValidator:
        compiled = jsonschema_rs.validator_for(
            self.documents[info.uri], registry=self.compiled_registry, validate_formats=True
        )
        quiet_schema = warning_schema(info.fields, self.codelists)
        quiet = jsonschema_rs.validator_for(quiet_schema)
        both = {"allOf": [{"$ref": info.uri}, quiet_schema]}  # valid, and no warning
        registry = self.compiled_registry
        clean = (
            jsonschema_rs.validator_for(both, registry=registry, validate_formats=True),
            jsonschema_rs.validator_for(
                {"type": "array", "items": both}, registry=registry, validate_formats=True
            ),
        )
        return TypeValidator(
            info.name,
            compiled,
            info.fields,
            self.codelists,
            quiet=quiet,
            documents=self.documents,
            rules=self._rules.get(info.name, ()),
            clean=clean,
        )

    def clean_checks(self) -> dict[str, dict[str, tuple[BatchCheck, ...]]]:
        """Per discriminator (`recordType`, ...) and type: the steps of a record's bare verdict.

        A record that passes them (`TypeValidator.clean_steps`) has nothing to report; bulk
        validation asks only these and explains the rest with `validate`. A type's steps are
        made when first looked up (`[]`; `get` gives None for one not made yet).
        """
        if self._clean_checks is None:
            names: dict[str, list[str]] = {}
            for name, info in self.types.items():
                names.setdefault(info.discriminator, []).append(name)
            self._clean_checks = {key: _Steps(self, found) for key, found in names.items()}
        return self._clean_checks

    @property
    def record_types(self) -> list[str]:
        return [name for name, info in self.types.items() if info.kind == "record"]

    def validator(self, type_name: str) -> TypeValidator:
        """The compiled validator of a type (KeyError for a type the standard does not define).

        Compiled when first asked for; two threads asking at once may both compile it, and
        each gets a whole one.
        """
        found = self._validators.get(type_name)
        if found is None:
            found = self._validators[type_name] = self._compile(self.types[type_name])
        return found

    def reference_validator(self, type_name: str) -> Draft202012Validator:
        """The pure-Python `jsonschema` validator: the yardstick the fast one is held to."""
        from jsonschema import Draft202012Validator  # slow to import: only when asked for

        return Draft202012Validator(
            self.types[type_name].schema,
            registry=self.registry,
            format_checker=_reference_formats(),
        )

    def type_of(self, document: Any) -> str | Issue:
        """The type a document declares, or the error that stops it being validated at all."""
        if not isinstance(document, dict):
            return Issue(pointer="", keyword="type", message="a record must be a JSON object.")
        for kind, key in DISCRIMINATORS.items():
            if key not in document:
                continue
            name = document[key]
            if isinstance(name, str) and name in self.types and self.types[name].kind == kind:
                return name
            names = [n for n, info in self.types.items() if info.kind == kind]
            close = difflib.get_close_matches(str(name), names, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            return Issue(
                pointer=f"/{key}",
                keyword="enum",
                message=f"{show(name)} is not a {kind} type of the standard.{hint} "
                f"Known types: {', '.join(names)}.",
                docs=docs_link("index", None),
            )
        return Issue(
            pointer="/recordType",
            keyword="required",
            message="'recordType' is required: it says which schema the record follows.",
            docs=docs_link("index", None),
        )

    def validate(self, document: Any) -> tuple[str | None, list[Issue]]:
        """The document's type (None when it names none) and every issue found in it."""
        found = self.type_of(document)
        if isinstance(found, Issue):
            return None, [found]
        return found, self.validator(found).validate(document)


@cache
def load_standard() -> Standard:
    """The standard shipped with this package, loaded and compiled once per process."""
    return Standard()


@cache
def _reference_formats() -> Any:
    """Jsonschema's format checks, but for `email`, which it reduces to "contains an @".

    The standard means an RFC 5321 mailbox, as jsonschema-rs checks it; a yardstick that took
    "@" for an address would disagree with the validator on what the standard says.
    """
    import jsonschema_rs
    from jsonschema import Draft202012Validator, FormatChecker

    mailbox = jsonschema_rs.validator_for(
        {"type": "string", "format": "email"}, validate_formats=True
    )
    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("email")(lambda value: not isinstance(value, str) or mailbox.is_valid(value))
    return checker
