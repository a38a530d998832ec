"""Where the standard's files are: inside the installed package, or in the source checkout.

A wheel carries the schemas and the OpenAPI document under `data/`, laid out as in the
repository (`data/schemas/...`, `data/spec/openapi.yaml`), so the spec's relative `$ref`s into
`../schemas/` resolve in both. A checkout, and an editable install of it, reads the repository's
own folders, so there is one copy of each file to edit.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLED = PACKAGE_DIR / "data"
ROOT = _BUNDLED if _BUNDLED.is_dir() else PACKAGE_DIR.parents[1]
SCHEMA_DIR = ROOT / "schemas"
SPEC_FILE = ROOT / "spec" / "openapi.yaml"
