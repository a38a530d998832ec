"""Validating one record against its type: errors from the compiled validator, then warnings.

Most records are clean, so `check` first asks two compiled validators for a bare verdict: the
type's schema, and a warnings schema built from the field index (a record passes it when no field
it fills is deprecated and no code it gives is outside an open list or deprecated). Only a record
that fails either is walked in Python to explain why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from functools import cached_property
from typing import Any

import jsonschema_rs

from care_exchange_standard.codelists import Codelist
from care_exchange_standard.fields import ITEMS, Field, FieldPath, field_path
from care_exchange_standard.messages import Condition, describe, show
from care_exchange_standard.rules import Clock, Context, Rule, check_rules, rule_anchor, verdict

DOCS_BASE_ENV = "CARE_EXCHANGE_DOCS_BASE"
# The published field reference: one page per type (docs/reference/TYPE.md in the repository),
# one anchor per field, as the OpenAPI document's examples link to them.
DEFAULT_DOCS_BASE = "https://care-exchange.org/docs/reference/"


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
    rule: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form, the same shape the API's problem details use for `errors[]`.

        `rule`, the code of the standard's rule that failed, appears only on rule findings.
        """
        return {
            key: str(value) if key == "severity" else value
            for key, value in asdict(self).items()
            if key != "rule" or value is not None
        }


# A step of a record's bare verdict, asked of a batch of records: whether each passes it.
BatchCheck = Callable[[list[Any]], list[bool]]


def _schema_step(each: jsonschema_rs.Validator, whole: jsonschema_rs.Validator) -> BatchCheck:
    """A schema's step: the batch as one array when `whole` validates that, else each record."""
    one, all_of = each.is_valid, whole.is_valid

    def judged(records: list[Any]) -> list[bool]:
        if len(records) > 1 and all_of(records):
            return [True] * len(records)
        return [one(record) for record in records]

    return judged


def pointer(parts: Sequence[str | int]) -> str:
    """An RFC 6901 JSON pointer, escaping `~` and `/` inside names."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def pointer_parts(at: str) -> list[str | int]:
    """The parts of an RFC 6901 JSON pointer, array indexes as numbers (`pointer` reversed)."""
    return [
        int(part) if part.isdigit() else part.replace("~1", "/").replace("~0", "~")
        for part in at.split("/")[1:]
    ]


def docs_link(type_name: str, field: Field | None) -> str:
    """The absolute address of a field's entry in the published reference.

    `CARE_EXCHANGE_DOCS_BASE` points the links at another copy (a staging site, a mirror).
    """
    base = os.environ.get(DOCS_BASE_ENV) or DEFAULT_DOCS_BASE
    anchor = f"#{field.name}" if field and field.name else ""
    return f"{base}{type_name}{anchor}"


def _warns(field: Field, codelists: Mapping[str, Codelist]) -> dict[str, Any] | None:
    """The schema a field's value passes when it gives no warning, or None when it never warns."""
    if field.deprecation is not None:
        return {"not": {}}
    codelist = codelists.get(field.codelist or "")
    if codelist is None:
        return None
    deprecated = [code for code in codelist.rows if codelist.deprecated_in(code)]
    if field.open_codelist:
        clean = [code for code in codelist.rows if code not in deprecated]
        return {"anyOf": [{"not": {"type": "string"}}, {"enum": clean}]}
    return {"not": {"enum": deprecated}} if deprecated else None


def warning_schema(
    fields: Mapping[FieldPath, Field], codelists: Mapping[str, Codelist]
) -> dict[str, Any]:
    """A schema that a record passes exactly when `TypeValidator` finds no warning in it.

    It mirrors the field index: `properties` for names, `items` for `*`; neither keyword looks
    at a value of another JSON type, just as the Python walk skips what it cannot descend into.
    """
    tree: dict[str, Any] = {}
    for path, field in fields.items():
        leaf = _warns(field, codelists) if path else None
        if leaf is None:
            continue
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault("", []).append(leaf)

    def build(node: Mapping[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {}
        children = {name: build(sub) for name, sub in node.items() if name != ""}
        if ITEMS in children:
            schema["items"] = children.pop(ITEMS)
        if children:
            schema["properties"] = children
        if "" in node:
            schema["allOf"] = node[""]
        return schema

    return build(tree)


def _walk(document: Any, path: Sequence[str | int]) -> Any:
    node = document
    for part in path:
        inside_object = isinstance(node, Mapping) and isinstance(part, str) and part in node
        inside_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if inside_object or inside_list:
            node = node[part]
        else:
            return None
    return node


def _instance_levels(schema_path: Sequence[str | int]) -> int:
    """How many levels into the instance a run of schema keywords descends."""
    levels, index = 0, 0
    while index < len(schema_path):
        keyword = schema_path[index]
        if keyword in ("properties", "patternProperties"):
            levels, index = levels + 1, index + 2
            continue
        if keyword in ("items", "prefixItems", "additionalProperties"):
            levels += 1
        index += 1
    return levels


class TypeValidator:
    """A compiled validator for one type, built once, plus what it needs to explain its errors."""

    def __init__(
        self,
        type_name: str,
        compiled: jsonschema_rs.Validator,
        fields: Mapping[FieldPath, Field],
        codelists: Mapping[str, Codelist],
        *,
        quiet: jsonschema_rs.Validator | None = None,
        documents: Mapping[str, Mapping[str, Any]] | None = None,
        rules: Sequence[Rule] = (),
        clean: tuple[jsonschema_rs.Validator, jsonschema_rs.Validator],
    ) -> None:
        """`clean`: validators of a record and of an array of them, schema and `quiet` at once.

        They make one step of the bare verdict (see `clean_steps`).
        """
        self.type_name = type_name
        self._compiled = compiled
        self._quiet = quiet
        self._clean = clean
        self.rules = list(rules)
        self._clock = Clock()
        self._rules_verdict = verdict(self.rules, self._clock)
        self._fields = fields
        self._codelists = codelists
        root = fields.get(())
        self._documents: list[Mapping[str, Any]] = [root.schema] if root else []
        self._documents += list((documents or {}).values())

    @cached_property
    def clean_steps(self) -> tuple[BatchCheck, ...]:
        """The bare verdict's steps: valid against the schema, no warning, no broken rule.

        A record with nothing to report passes them all. Each is asked only of records that
        passed the ones before, as rules judge valid records.

        Bulk validation asks each step of a batch of records before the next step: the step's
        code then stays in the processor's caches, which saves about a tenth of the time. A
        batch is asked a step in one call: the schemas as one array first, each record only
        when that fails; the rules with the clock read once. The schema and the warnings'
        schema are one step (`clean`): a record is read once for both.
        """
        steps = [_schema_step(*self._clean)]
        if self._rules_verdict is not None:
            steps.append(self._rules_verdict.many)
        return tuple(steps)

    def clean(self, instance: Any) -> bool:
        """The bare verdict of one record: true when it has nothing to report."""
        return all(step([instance])[0] for step in self.clean_steps)

    def is_valid(self, instance: Any) -> bool:
        """The fast path: a verdict with no explanation, for bulk checks and benchmarks."""
        return bool(self._compiled.is_valid(instance))

    def validate(self, instance: Any, context: Context | None = None) -> list[Issue]:
        """Every error, then every warning: errors decide validity, so they come first.

        The standard's rules judge only records the schema finds valid; `context` gives them
        the service and the clock (now, and no service, when absent).
        """
        if not self._compiled.is_valid(instance):
            return [*self._errors(instance), *self._warnings(instance, ())]
        broken = self.rule_issues(instance, context)
        warnings: list[Issue] = []
        if self._quiet is None or not self._quiet.is_valid(instance):
            warnings = list(self._warnings(instance, ()))
        errors = [issue for issue in broken if issue.severity is Severity.ERROR]
        return [*errors, *warnings, *(issue for issue in broken if issue not in errors)]

    def judge(self, instance: Any, context: Context) -> list[Issue]:
        """What `validate` says of a record, asking only bare verdicts while it is clean.

        For one record at a time with its own context (a server knows each record's service);
        bulk checks use `checks`, which judge rules without a service.
        """
        rules = self._rules_verdict
        if (
            self._compiled.is_valid(instance)
            and (self._quiet is None or self._quiet.is_valid(instance))
            and (rules is None or rules.one(instance, context.bindings()))
        ):
            return []
        return self.validate(instance, context)

    def rule_issues(self, instance: Any, context: Context | None = None) -> list[Issue]:
        """The standard's rules a schema-valid record breaks, each with its code and pointer."""
        if not self.rules or not isinstance(instance, Mapping):
            return []
        found = []
        for failure in check_rules(self.rules, instance, context or Context.now()):
            rule = failure.rule
            for at in failure.pointers:
                issue = self._issue(
                    pointer_parts(at), "rule", rule.message, Severity(rule.severity)
                )
                docs = f"{docs_link(self.type_name, None)}#{rule_anchor(rule.code)}"
                found.append(replace(issue, rule=rule.code, docs=docs))
        return found

    def _issue(
        self, parts: Sequence[str | int], keyword: str, message: str, severity: Severity
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

    def _nearest(self, parts: Sequence[str | int]) -> Field | None:
        for end in range(len(parts), -1, -1):
            found = self._fields.get(field_path(parts[:end]))
            if found:
                return found
        return None

    def _schema_at(self, schema_path: Sequence[str | int]) -> Mapping[str, Any] | None:
        """The subschema at a keyword path, in the type's schema or the document it leads to."""
        for document in self._documents:
            found = _walk(document, schema_path)
            if isinstance(found, Mapping):
                return found
        return None

    def _condition(
        self, schema_path: Sequence[str | int], at: Sequence[str | int], record: Any
    ) -> Condition | None:
        """The `if` that made a `then` apply, with the values in the record that met it."""
        keywords = list(schema_path)
        if "then" not in keywords:
            return None
        then_at = len(keywords) - 1 - keywords[::-1].index("then")
        holder = self._schema_at(keywords[:then_at])
        if holder is None or not isinstance(holder.get("if"), Mapping):
            return None
        levels = _instance_levels(keywords[then_at + 1 :])
        base = list(at[: len(at) - levels]) if levels else list(at)
        facts: list[tuple[str, Any]] = []

        def collect(schema: Mapping[str, Any], path: list[str | int]) -> None:
            for name, sub in schema.get("properties", {}).items():
                if not isinstance(sub, Mapping):
                    continue
                here = [*path, name]
                if sub.get("properties"):
                    collect(sub, here)
                elif any(key in sub for key in ("const", "enum", "minimum", "maximum")):
                    value = _walk(record, here)
                    name_here = self._fields.get(field_path(here))
                    facts.append((name_here.name if name_here else ".".join(map(str, here)), value))

        collect(holder["if"], base)
        return Condition(facts) if facts else None

    def _alternatives(self, schema_path: Sequence[str | int]) -> list[list[str]] | None:
        """For an `anyOf`/`oneOf` of `required` lists, the fields each branch asks for."""
        branches = _walk_list(self._schema_at(list(schema_path)[:-1]), str(schema_path[-1]))
        asked: list[list[str]] = []
        for branch in branches:
            if not isinstance(branch, Mapping) or set(branch) - {"required", "description"}:
                return None
            asked.append([str(name) for name in branch.get("required", ())])
        return asked or None

    def _errors(self, instance: Any) -> Iterator[Issue]:
        for error in self._compiled.iter_errors(instance):
            schema_path = list(error.schema_path)
            keyword = str(schema_path[-1]) if schema_path else error.kind.name
            details = error.kind.as_dict()
            at: list[str | int] = list(error.instance_path)
            here = self._fields.get(field_path(at))
            condition = self._condition(schema_path, at, instance)
            if keyword == "required":
                names = [details["property"]]
            elif keyword == "additionalProperties":
                names = list(details["unexpected"])
            else:
                if keyword in ("anyOf", "oneOf"):
                    details = {**details, "alternatives": self._alternatives(schema_path)}
                message = describe(
                    keyword,
                    details,
                    error.instance,
                    here,
                    None,
                    self._codelists,
                    error.message,
                    condition=condition,
                )
                yield self._issue(at, keyword, message, Severity.ERROR)
                continue
            for name in names:
                message = describe(
                    keyword,
                    {"property": name, "unexpected": name},
                    None,
                    self._fields.get(field_path([*at, name])),
                    here,
                    self._codelists,
                    error.message,
                    condition=condition,
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


def _walk_list(node: Mapping[str, Any] | None, key: str) -> list[Any]:
    found = node.get(key) if node is not None else None
    return list(found) if isinstance(found, list) else []
