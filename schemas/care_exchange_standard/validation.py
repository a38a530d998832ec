"""Validating one record against its type: errors from the compiled validator, then warnings."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import jsonschema_rs

from care_exchange_standard.codelists import Codelist
from care_exchange_standard.fields import Field, FieldPath, field_path
from care_exchange_standard.messages import describe, show

DOCS_BASE_ENV = "CARE_EXCHANGE_DOCS_BASE"
DEFAULT_DOCS_BASE = "docs/reference/"


class Severity(StrEnum):
    """Errors make a record invalid; warnings (deprecations, codes outside open lists) do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """One finding about one record, pointing at the field with an RFC 6901 JSON pointer."""

    pointer: str
    keyword: str
    message: str
    severity: Severity = Severity.ERROR
    field: str | None = None
    docs: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form, the same shape the API's problem details use for `errors[]`."""
        return {
            key: str(value) if key == "severity" else value for key, value in asdict(self).items()
        }


def pointer(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """An RFC 6901 JSON pointer, escaping `~` and `/` inside names."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def docs_link(type_name: str, field: Field | None) -> str:
    """Where a field is documented; the base can be pointed at a published copy of `docs/`."""
    base = os.environ.get(DOCS_BASE_ENV, DEFAULT_DOCS_BASE)
    anchor = f"#{field.name}" if field and field.name else ""
    return f"{base}{type_name}.md{anchor}"


class TypeValidator:
    """A compiled validator for one type, built once, plus what it needs to explain its errors."""

    def __init__(
        self,
        type_name: str,
        compiled: jsonschema_rs.Validator,
        fields: Mapping[FieldPath, Field],
        codelists: Mapping[str, Codelist],
    ) -> None:
        self.type_name = type_name
        self._compiled = compiled
        self._fields = fields
        self._codelists = codelists

    def is_valid(self, instance: Any) -> bool:
        """The fast path: a verdict with no explanation, for bulk checks and benchmarks."""
        return bool(self._compiled.is_valid(instance))

    def validate(self, instance: Any) -> list[Issue]:
        """Every error, then every warning: errors decide validity, so they come first."""
        return [*self._errors(instance), *self._warnings(instance, ())]

    def _issue(
        self, parts: list[str | int], keyword: str, message: str, severity: Severity
    ) -> Issue:
        field = self._fields.get(field_path(parts))
        return Issue(
            pointer=pointer(parts),
            keyword=keyword,
            message=message,
            severity=severity,
            field=field.name if field else None,
            docs=docs_link(self.type_name, field or self._nearest(parts)),
        )

    def _nearest(self, parts: list[str | int]) -> Field | None:
        for end in range(len(parts), -1, -1):
            found = self._fields.get(field_path(parts[:end]))
            if found:
                return found
        return None

    def _errors(self, instance: Any) -> Iterator[Issue]:
        for error in self._compiled.iter_errors(instance):
            keyword = str(error.schema_path[-1]) if error.schema_path else error.kind.name
            details = error.kind.as_dict()
            at: list[str | int] = list(error.instance_path)
            here = self._fields.get(field_path(at))
            if keyword == "required":
                names = [details["property"]]
            elif keyword == "additionalProperties":
                names = list(details["unexpected"])
            else:
                message = describe(
                    keyword, details, error.instance, here, None, self._codelists, error.message
                )
                yield self._issue(at, keyword, message, Severity.ERROR)
                continue
            for name in names:
                message = describe(
                    keyword,
                    {"property": name, "unexpected": name},
                    None,
                    None,
                    here,
                    self._codelists,
                    error.message,
                )
                yield self._issue([*at, name], keyword, message, Severity.ERROR)

    def _warnings(self, value: Any, at: tuple[str | int, ...]) -> Iterator[Issue]:
        field = self._fields.get(field_path(at))
        if field is not None and at:
            yield from self._field_warnings(field, value, list(at))
        if isinstance(value, dict):
            for name, child in value.items():
                yield from self._warnings(child, (*at, name))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                yield from self._warnings(child, (*at, index))

    def _field_warnings(self, field: Field, value: Any, at: list[str | int]) -> Iterator[Issue]:
        note = field.deprecation
        if note is not None:
            since = f" since version {note['version']}" if note.get("version") else ""
            advice = f" {note['description']}" if note.get("description") else ""
            yield self._issue(
                at, "deprecated", f"'{field.name}' is deprecated{since}.{advice}", Severity.WARNING
            )
        codelist = self._codelists.get(field.codelist or "")
        if codelist is None or not isinstance(value, str):
            return
        if field.open_codelist and value not in codelist.rows:
            yield self._issue(
                at,
                "codelist",
                f"{show(value)} is not in the open {codelist.name.removesuffix('.csv')} codelist; "
                "it is allowed, but readers may not understand it. Use a listed code if one fits.",
                Severity.WARNING,
            )
        version = codelist.deprecated_in(value)
        if version:
            yield self._issue(
                at,
                "deprecated",
                f"code {show(value)} of {codelist.name} is deprecated since version {version}.",
                Severity.WARNING,
            )
