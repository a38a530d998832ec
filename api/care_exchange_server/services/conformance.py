"""Checking a request body against the standard's schema for its type."""

from __future__ import annotations

from typing import Any

from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_standard import Severity, load_standard


def conforming(type_name: str, document: Any) -> dict[str, Any]:
    """The document, when it conforms to the type's schema; else a 422 naming every failing field.

    The compiled validator's bare verdict comes first: explaining is only paid for on failure.
    """
    validator = load_standard().validator(type_name)
    if isinstance(document, dict) and validator.is_valid(document):
        return document
    errors = [
        FieldError(pointer=i.pointer, message=i.message, keyword=i.keyword, docs=i.docs)
        for i in validator.validate(document)
        if i.severity is Severity.ERROR
    ]
    raise ProblemError(
        "validation_failed",
        f"The document does not conform to the {type_name} schema.",
        errors or [FieldError("", "must be a JSON object.", "type")],
    )
