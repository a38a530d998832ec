"""Return templates: checked before they are trusted with anyone's records.

A template is accepted only when it matches `formats/return-template.json`, reads record types
the standard defines, and every expression passes `expressions.read`: it parses, calls nothing
forbidden, names only real fields, and lists each field it reads in `dependsOn`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from care_exchange_standard.fields import ITEMS, Field, FieldPath
from care_exchange_standard.files import SCHEMA_DIR
from care_exchange_standard.returns.expressions import Root, read
from care_exchange_standard.returns.selection import input_key
from care_exchange_standard.standard import BASE_URI, load_standard
from care_exchange_standard.validation import pointer

TEMPLATE_SCHEMA = BASE_URI + "formats/return-template.json"
SHIPPED_DIR = SCHEMA_DIR / "return-templates"
MATCHES = ("exact", "derived", "unmapped")


@dataclass(frozen=True)
class TemplateProblem:
    """Why a template cannot be used, at the JSON pointer of the part to change."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class TemplateError(ValueError):
    """A template with problems; `problems` lists every one, not only the first."""

    def __init__(self, problems: Sequence[TemplateProblem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Template:
    """A checked template; `document` is exactly what its owner wrote."""

    document: Mapping[str, Any]

    @property
    def id(self) -> str:
        return str(self.document["id"])

    @property
    def version(self) -> str:
        return str(self.document["version"])

    @property
    def title(self) -> str:
        return str(self.document["title"])

    @property
    def record_types(self) -> list[str]:
        return list(self.document["recordTypes"])

    @property
    def period_kind(self) -> str:
        return str(self.document["period"]["kind"])

    @property
    def year_starts(self) -> str | None:
        value = self.document["period"].get("yearStarts")
        return str(value) if value else None

    @property
    def fields(self) -> list[Mapping[str, Any]]:
        return list(self.document["fields"])


def _roots(record_types: Sequence[str]) -> dict[str, Root]:
    standard = load_standard()
    roots = {
        input_key(name): Root(name, standard.types[name].fields)
        for name in record_types
        if name in standard.types
    }
    roots["service"] = Root("service", standard.types["service"].fields)
    roots["provider"] = Root("provider", standard.types["provider"].fields)
    roots["period"] = Root("period", None)
    return roots


def _resolves(fields: Mapping[FieldPath, Field], parts: Sequence[str]) -> bool:
    path: FieldPath = ()
    for part in parts:
        path = (*path, part)
        if path not in fields:
            return False
        if (*path, ITEMS) in fields:
            path = (*path, ITEMS)
    return True


def _covered(reads: str, declared: Sequence[str]) -> bool:
    return any(reads == entry or reads.startswith(entry + "/") for entry in declared)


def _schema_problems(document: Any) -> list[TemplateProblem]:
    from jsonschema import Draft202012Validator

    standard = load_standard()
    validator = Draft202012Validator(
        standard.documents[TEMPLATE_SCHEMA], registry=standard.registry
    )
    return [
        TemplateProblem(pointer(list(error.absolute_path)), error.message)
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def _field_problems(
    index: int, field: Mapping[str, Any], roots: Mapping[str, Root]
) -> list[TemplateProblem]:
    at = f"/fields/{index}"
    if field["match"] == "unmapped":
        return []
    problems: list[TemplateProblem] = []
    declared = list(field["dependsOn"])
    by_name = {root.name: root for root in roots.values()}
    for position, entry in enumerate(declared):
        kind, *parts = entry.split("/")
        root = by_name.get(kind)
        if root is None or root.fields is None:
            message = f"{kind!r} is not a record type of the template, the service or the provider"
            problems.append(TemplateProblem(f"{at}/dependsOn/{position}", message))
        elif not _resolves(root.fields, parts):
            message = f"{entry} is not a field of the standard"
            problems.append(TemplateProblem(f"{at}/dependsOn/{position}", message))
    reading = read(str(field["expression"]), roots)
    problems += [TemplateProblem(f"{at}/expression", text) for text in reading.problems]
    for reads in sorted(reading.fields):
        if not _covered(reads, declared):
            message = f"the expression reads {reads}: list it in dependsOn"
            problems.append(TemplateProblem(f"{at}/dependsOn", message))
    for name in sorted(reading.roots - {"period"}):
        if not any(entry.split("/")[0] == name for entry in declared):
            message = f"the expression reads {name}: list the fields it needs in dependsOn"
            problems.append(TemplateProblem(f"{at}/dependsOn", message))
    return problems


def check_template(document: Any) -> list[TemplateProblem]:
    """Every reason the template cannot be used; empty when it can."""
    problems = _schema_problems(document)
    if problems:
        return problems
    standard = load_standard()
    record_types = list(document["recordTypes"])
    for index, name in enumerate(record_types):
        if name not in standard.record_types:
            message = f"{name!r} is not a record type of the standard"
            problems.append(TemplateProblem(f"/recordTypes/{index}", message))
    if document["period"]["kind"] == "event":
        events = [
            name
            for name in record_types
            if name in standard.types and ("occurredAt",) in standard.types[name].fields
        ]
        if len(events) != 1:
            message = "an event return reads exactly one record type with occurredAt"
            problems.append(TemplateProblem("/recordTypes", message))
    seen: dict[str, int] = {}
    for index, field in enumerate(document["fields"]):
        code = str(field["code"])
        if code in seen:
            message = f"code {code!r} is used by field {seen[code]} too"
            problems.append(TemplateProblem(f"/fields/{index}/code", message))
        seen.setdefault(code, index)
    if problems:
        return problems
    roots = _roots(record_types)
    for index, field in enumerate(document["fields"]):
        problems += _field_problems(index, field, roots)
    return problems


def load_template(source: Mapping[str, Any] | Path | str) -> Template:
    """A checked template from a document or a JSON file; TemplateError lists its problems."""
    if isinstance(source, Path | str):
        path = Path(source)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise TemplateError([TemplateProblem("", f"{path}: {error}")]) from None
    else:
        document = source
    problems = check_template(document)
    if problems:
        raise TemplateError(problems)
    return Template(document)


@cache
def shipped_templates() -> dict[str, Template]:
    """The templates the standard ships, by id (checked once per process)."""
    found: dict[str, Template] = {}
    for path in sorted(SHIPPED_DIR.glob("*.json")):
        template = load_template(path)
        found[template.id] = template
    return found


def template_coverage(template: Template) -> dict[str, Any]:
    """How much of the return the standard fills: the share exact or derived, and the gaps."""
    counts = dict.fromkeys(MATCHES, 0)
    for field in template.fields:
        counts[str(field["match"])] += 1
    total = len(template.fields)
    return {
        "template": {"id": template.id, "version": template.version, "title": template.title},
        "fields": total,
        **counts,
        "mappedShare": round((counts["exact"] + counts["derived"]) / total, 4),
        "unmappedFields": [
            {"code": field["code"], "label": field["label"], "reason": field["reason"]}
            for field in template.fields
            if field["match"] == "unmapped"
        ],
    }
