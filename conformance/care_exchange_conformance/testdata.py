"""Records the suite publishes, so that no check is ever skipped for want of data.

They are the standard's own valid examples, moved to the configured service with fresh ids and
labelled `testData: true`, so that no subscriber takes them for a report.
"""

from __future__ import annotations

import json
import random
import uuid
from functools import cache
from typing import Any

from care_exchange_standard.files import SCHEMA_DIR


@cache
def _examples(record_type: str) -> tuple[str, ...]:
    folder = SCHEMA_DIR / "examples" / "valid" / record_type
    return tuple(path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.json")))


def has_examples(record_type: str) -> bool:
    return bool(_examples(record_type))


def example_record(record_type: str, service_id: str, chooser: random.Random) -> dict[str, Any]:
    """A valid record of `record_type` for `service_id`, labelled test data, with a new id.

    The seed picks the example, so a repeated run makes the same choices; the id is random
    whatever the seed, since ids are unique across the exchange and runs.
    """
    examples = _examples(record_type)
    if not examples:
        raise ValueError(f"the standard has no valid example of {record_type}")
    record: dict[str, Any] = json.loads(chooser.choice(examples))
    record["id"] = str(uuid.uuid4())
    record["serviceId"] = service_id
    record["testData"] = True
    return record


def record_path(record: dict[str, Any]) -> str:
    """The URL path of a record of the standard."""
    return f"/v1/records/{record['recordType']}/{record['id']}"
