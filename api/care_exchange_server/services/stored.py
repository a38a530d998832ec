"""A record's latest version as one plain row: what reads return and what a publish stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from care_exchange_server.problems import FieldError
from care_exchange_server.storage.enums import RecordState
from care_exchange_server.storage.models import Record


@dataclass(frozen=True)
class StoredRecord:
    """The latest version of a record as one row, for reads and for what a publish stored."""

    pk: int
    record_type: str
    record_id: str
    service_id: str
    provider_id: str
    version: int
    state: RecordState
    submitted_by: str
    published_at: datetime
    data: dict[str, Any] | None
    # What the standard's validator warned about when this version was published; not stored.
    warnings: tuple[FieldError, ...] = ()


STORED_COLUMNS = (
    Record.pk,
    Record.record_type,
    Record.record_id,
    Record.service_id,
    Record.provider_id,
    Record.version,
    Record.state,
    Record.submitted_by,
    Record.published_at,
    Record.data,
)
