"""The Care Exchange standard: normative JSON Schemas, codelists and the loader that serves them.

The JSON documents beside this module are the standard; this package only finds, registers and
compiles them so that the server, the validator and the clients all judge data the same way.
"""

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
