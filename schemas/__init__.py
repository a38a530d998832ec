"""The Care Exchange standard: normative JSON Schemas, codelists and the loader that serves them.

The JSON documents beside this module are the standard; this package only finds, registers and
compiles them so that the server, the validator and the clients all judge data the same way.
"""

from schemas.codelists import Codelist, load_codelists
from schemas.fields import Field
from schemas.standard import SCHEMA_DIR, STANDARD_VERSION, Standard, TypeInfo, load_standard
from schemas.validation import Issue, Severity

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
