"""Checking a request body against the standard's schema for its type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_standard import Severity, load_standard
from care_exchange_standard.rules import Context
from care_exchange_standard.validation import Issue


def conforming(type_name: str, document: Any) -> dict[str, Any]:
    """The document, when it conforms to the type's schema; else a 422 naming every failing field.

    The compiled validator's bare verdict comes first: explaining is only paid for on failure.
    """
    validator = load_standard().validator(type_name)
    if isinstance(document, dict) and validator.is_valid(document):
        return document
    errors = [_field_error(i) for i in validator.validate(document) if i.severity is Severity.ERROR]
    raise ProblemError(
        "validation_failed",
        f"The document does not conform to the {type_name} schema.",
        errors or [FieldError("", "must be a JSON object.", "type")],
    )


def _field_error(issue: Issue) -> FieldError:
    return FieldError(
        pointer=issue.pointer,
        message=issue.message,
        keyword=issue.keyword,
        docs=issue.docs,
        rule=issue.rule,
    )


def judged(
    type_name: str, document: dict[str, Any], service: Mapping[str, Any] | None
) -> list[FieldError]:
    """The warnings on a conforming document; a 422 when it breaks one of the standard's rules.

    Rules may compare the record with its service (a capacity snapshot is for a care home), so
    they run once the service is known, after the schema.
    """
    issues = load_standard().validator(type_name).judge(document, Context.now(service))
    errors = [_field_error(i) for i in issues if i.severity is Severity.ERROR]
    if errors:
        raise ProblemError(
            "validation_failed", f"The {type_name} breaks the standard's rules.", errors
        )
    return [_field_error(issue) for issue in issues]
