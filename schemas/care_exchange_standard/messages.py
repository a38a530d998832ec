"""Plain-English messages for validation errors, written for a care manager rather than a parser."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from care_exchange_standard.codelists import Codelist
from care_exchange_standard.fields import Field

_TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "array": "a list",
    "object": "a group of fields",
    "boolean": "true or false",
    "null": "null",
}

_FORMAT_HINTS = {
    "date": "a date in the form YYYY-MM-DD, for example 2026-11-02",
    "date-time": (
        "a date and time with a time zone, for example 2026-11-02T09:00:00Z "
        "or 2026-11-02T09:00:00+01:00"
    ),
    "uri": "an absolute web address, for example https://example.org/page",
    "email": "an email address, for example data@example.org",
}

_MAX_LISTED_CODES = 12


def json_type(value: Any) -> str:
    """The JSON type name of a Python value decoded from JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def show(value: Any) -> str:
    """A short JSON rendering of a value for a message."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _listing(codes: Sequence[Any]) -> str:
    shown = ", ".join(str(code) for code in codes[:_MAX_LISTED_CODES])
    more = len(codes) - _MAX_LISTED_CODES
    return shown + (f" and {more} more" if more > 0 else "")


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


@dataclass(frozen=True)
class Condition:
    """Why a rule applies to a record: the fields whose values switched it on, with the values."""

    facts: list[tuple[str, Any]]

    def __str__(self) -> str:
        parts = [f"'{name}' is {show(value)}" for name, value in self.facts]
        return " and ".join(parts)


def _quoted_list(names: Sequence[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _count(number: int, word: str) -> str:
    return f"{'one' if number == 1 else number} {word}{'' if number == 1 else 's'}"


def describe(
    keyword: str,
    details: Mapping[str, Any],
    value: Any,
    field: Field | None,
    parent: Field | None,
    codelists: Mapping[str, Codelist],
    fallback: str,
    *,
    condition: Condition | None = None,
) -> str:
    """The message for one failing keyword, in words a data person can act on.

    `field` is the field the value fills (for `required`, the missing one), `parent` the object
    holding it; `condition` says which values in the record made a conditional rule apply;
    `fallback` is the validator's own wording, used only for a keyword the standard never uses.
    """
    because = f" when {condition}" if condition else ""
    if keyword == "required":
        name = str(details.get("property"))
        if condition:
            return f"'{name}' is required{because}, and it is missing."
        return f"'{name}' is required here but is missing."
    if keyword == "additionalProperties":
        name = str(details.get("unexpected"))
        known = parent.property_names if parent else []
        holder = f"'{parent.name}'" if parent and parent.name else "this record"
        return f"'{name}' is not one of the fields of {holder}.{_suggest(name, known)}"
    if keyword == "enum":
        options = list(details.get("options", ()))
        hint = (
            _suggest(str(value), [str(option) for option in options])
            if isinstance(value, str)
            else ""
        )
        if field and field.codelist and field.codelist in codelists:
            name = field.codelist.removesuffix(".csv")
            return (
                f"{show(value)} is not a code in the {name} codelist."
                f"{hint} Allowed codes: {_listing(options)}."
            )
        return f"{show(value)} is not one of the allowed values: {_listing(options)}.{hint}"
    if keyword == "const":
        return f"must be {show(details.get('expected_value'))}{because}, not {show(value)}."
    if keyword == "type":
        wanted = details.get("types") or [details.get("type")]
        names = " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in wanted)
        actual = json_type(value)
        if (actual in ("integer", "number") and wanted != ["integer"]) or actual == "number":
            return f"{show(value)} is not {names}."
        return f"{show(value)} is not {names}; it is {_TYPE_NAMES[actual]}."
    if keyword in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        limit = details.get("limit")
        phrase = {
            "minimum": "at least",
            "exclusiveMinimum": "more than",
            "maximum": "at most",
            "exclusiveMaximum": "less than",
        }[keyword]
        return f"must be {phrase} {limit}{because}; it is {show(value)}."
    if keyword in ("minLength", "maxLength"):
        limit = int(details.get("limit", 0))
        if keyword == "minLength" and limit == 1:
            return "must not be empty."
        phrase = "at least" if keyword == "minLength" else "at most"
        length = len(str(value))
        return f"must be {phrase} {_count(limit, 'character')} long; it has {length}."
    if keyword in ("minItems", "maxItems"):
        limit = int(details.get("limit", 0))
        count = len(value) if isinstance(value, list) else 0
        noun = "entry" if limit == 1 else "entries"
        amount = "one" if limit == 1 else str(limit)
        if keyword == "minItems":
            has = "the list is empty" if count == 0 else f"it has {count}"
            return f"list at least {amount} {noun}{because}; {has}."
        return f"list at most {amount} {noun}{because}; it has {count}."
    if keyword == "pattern":
        about = f" {field.description}" if field and field.description else ""
        rule = f" That form is asked for{because}." if condition else ""
        return f"{show(value)} is not in the expected form.{rule}{about}"
    if keyword == "format":
        wanted = str(details.get("format"))
        return f"{show(value)} is not {_FORMAT_HINTS.get(wanted, 'in ' + wanted + ' format')}."
    if keyword == "uniqueItems":
        return "lists the same entry more than once; give each one once."
    if keyword in ("oneOf", "anyOf"):
        alternatives = details.get("alternatives")
        if alternatives and all(len(names) == 1 for names in alternatives):
            return f"give at least one of {_quoted_list([n[0] for n in alternatives])}."
        if keyword == "oneOf":
            return "matches none, or more than one, of the forms allowed here."
        return "does not match any of the forms allowed here."
    if keyword == "false":
        return "nothing is allowed here."
    return fallback
