"""The Care Exchange standard: normative JSON Schemas, codelists and the loader that serves them.

The JSON documents beside this module are the standard; this package only finds, registers and
compiles them so that the server, the validator and the clients all judge data the same way.

Its names are imported on first use (PEP 562), so that `care-exchange --help`, which imports this
package, does not pay for loading JSON Schema machinery it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from care_exchange_standard.codelists import Codelist, load_codelists
    from care_exchange_standard.fields import Field
    from care_exchange_standard.files import SCHEMA_DIR
    from care_exchange_standard.standard import (
        STANDARD_VERSION,
        Standard,
        TypeInfo,
        load_standard,
    )
    from care_exchange_standard.validation import Issue, Severity

_HOMES = {
    "Codelist": "codelists",
    "load_codelists": "codelists",
    "Field": "fields",
    "SCHEMA_DIR": "files",
    "STANDARD_VERSION": "standard",
    "Standard": "standard",
    "TypeInfo": "standard",
    "load_standard": "standard",
    "Issue": "validation",
    "Severity": "validation",
}

__all__ = [
    "SCHEMA_DIR",
    "STANDARD_VERSION",
    "Codelist",
    "Field",
    "Issue",
    "Severity",
    "Standard",
    "TypeInfo",
    "load_codelists",
    "load_standard",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'care_exchange_standard' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"care_exchange_standard.{home}"), name)
    globals()[name] = value
    return value
