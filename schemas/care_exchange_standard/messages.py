"""Plain-English messages for validation errors, written for a care manager rather than a parser."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from care_exchange_standard.codelists import Codelist
from care_exchange_standard.fields import Field

_TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text (a JSON string)",
    "array": "a list (a JSON array)",
    "object": "an object",
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


def describe(
    keyword: str,
    details: Mapping[str, Any],
    value: Any,
    field: Field | None,
    parent: Field | None,
    codelists: Mapping[str, Codelist],
    fallback: str,
) -> str:
    """The message for one failing keyword; `fallback` is the validator's own wording."""
    if keyword == "required":
        name = str(details.get("property"))
        return f"'{name}' is required here but is missing."
    if keyword == "additionalProperties":
        name = str(details.get("unexpected"))
        known = parent.property_names if parent else []
        return f"'{name}' is not a field of this object.{_suggest(name, known)}"
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
        return f"must be {show(details.get('expected_value'))}, not {show(value)}."
    if keyword == "type":
        wanted = details.get("types") or [details.get("type")]
        names = " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in wanted)
        return f"must be {names}, not {_TYPE_NAMES[json_type(value)]} ({show(value)})."
    if keyword in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        limit = details.get("limit")
        phrase = {
            "minimum": "at least",
            "exclusiveMinimum": "more than",
            "maximum": "at most",
            "exclusiveMaximum": "less than",
        }[keyword]
        return f"must be {phrase} {limit}; it is {show(value)}."
    if keyword in ("minLength", "maxLength"):
        phrase = "at least" if keyword == "minLength" else "at most"
        return f"must be {phrase} {details.get('limit')} characters long; it has {len(str(value))}."
    if keyword in ("minItems", "maxItems"):
        phrase = "at least" if keyword == "minItems" else "at most"
        count = len(value) if isinstance(value, list) else 0
        return f"must list {phrase} {details.get('limit')} items; it has {count}."
    if keyword == "pattern":
        about = f" {field.description}" if field and field.description else ""
        return f"{show(value)} is not in the expected form.{about}"
    if keyword == "format":
        wanted = str(details.get("format"))
        return f"{show(value)} is not {_FORMAT_HINTS.get(wanted, 'in ' + wanted + ' format')}."
    if keyword == "uniqueItems":
        return "lists the same item more than once."
    if keyword in ("oneOf", "anyOf"):
        return f"does not match any of the forms allowed here ({fallback})."
    return fallback
