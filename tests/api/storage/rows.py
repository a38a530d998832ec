"""One valid row in each table that holds a state or a kind, with the rows they refer to.

Written through reflected tables (plain text columns, whatever the models say), so what takes
or refuses a value is the database alone. The order is the one foreign keys need.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, MetaData, Table

AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
SERVICE = {"directoryType": "service", "id": "svc-1", "providerId": "org-p"}
RECORD = {"id": "rec-1", "serviceId": "svc-1"}

ROWS: list[tuple[str, dict[str, Any]]] = [
    ("organisations", {"id": "org-p", "name": "P", "kind": "provider", "created_at": AT}),
    ("organisations", {"id": "org-s", "name": "S", "kind": "commissioner", "created_at": AT}),
    (
        "clients",
        {
            "client_id": "cli-1",
            "organisation_id": "org-p",
            "name": "P's client",
            "auth_method": "client_secret_basic",
            "secret_hash": "hash",
            "jwks": None,
            "scopes": "agreements",
            "created_at": AT,
            "disabled_at": None,
        },
    ),
    (
        "services",
        {
            "id": "svc-1",
            "provider_id": "org-p",
            "document": SERVICE,
            "created_at": AT,
            "updated_at": AT,
        },
    ),
    (
        "agreements",
        {
            "id": "agr-1",
            "provider_id": "org-p",
            "subscriber_id": "org-s",
            "record_types": ["capacity-snapshot"],
            "service_ids": None,
            "purpose": "Oversight.",
            "legal_basis": "Public task.",
            "end_date": date(2027, 1, 31),
            "statutory": False,
            "status": "active",
            "created_at": AT,
            "decided_at": AT,
            "revoked_at": None,
        },
    ),
    (
        "records",
        {
            "pk": 1,
            "record_type": "capacity-snapshot",
            "record_id": "rec-1",
            "service_id": "svc-1",
            "provider_id": "org-p",
            "version": 1,
            "state": "active",
            "submitted_by": "org-p",
            "published_at": AT,
            "data": RECORD,
        },
    ),
    (
        "record_versions",
        {
            "record_pk": 1,
            "version": 1,
            "state": "active",
            "submitted_by": "org-p",
            "published_at": AT,
            "data": RECORD,
        },
    ),
    (
        "feed_entries",
        {
            "organisation_id": "org-s",
            "record_pk": 1,
            "record_type": "capacity-snapshot",
            "change_number": 1,
            "state": "updated",
        },
    ),
    (
        "feedback",
        {
            "pk": 1,
            "id": "fbk-1",
            "kind": "impact",
            "text": "A placement was made.",
            "provider_id": "org-p",
            "service_id": "svc-1",
            "subscriber_id": "org-s",
            "author_client_id": "cli-1",
            "record_pk": 1,
            "record_version": 1,
            "period_start": None,
            "period_end": None,
            "created_at": AT,
        },
    ),
    (
        "access_receipts",
        {
            "pk": 1,
            "provider_id": "org-p",
            "subscriber_id": "org-s",
            "service_id": "svc-1",
            "agreement_id": "agr-1",
            "record_pk": 1,
            "record_type": "capacity-snapshot",
            "record_id": "rec-1",
            "version": 1,
            "channel": "read",
            "read_at": AT,
        },
    ),
    (
        "subscriptions",
        {
            "pk": 1,
            "id": "sub-1",
            "organisation_id": "org-s",
            "types": ["capacity-snapshot"],
            "service_ids": None,
            "area_codes": None,
            "channel": "pull",
            "url": None,
            "content": "id-only",
            "status": "active",
            "last_sequence": 1,
            "delivered_sequence": 0,
            "attempts": 0,
            "created_at": AT,
            "updated_at": AT,
        },
    ),
    (
        "subscription_events",
        {
            "pk": 1,
            "subscription_pk": 1,
            "sequence": 1,
            "event_id": "evt-1",
            "type": "org.careexchange.record.updated",
            "record_pk": 1,
            "version": 1,
            "feedback_pk": None,
            "created_at": AT,
        },
    ),
]


def reflected(connection: Connection) -> dict[str, Table]:
    metadata = MetaData()
    metadata.reflect(connection)
    return dict(metadata.tables)


def insert(
    connection: Connection,
    rows: list[tuple[str, dict[str, Any]]],
    tables: dict[str, Table] | None = None,
) -> None:
    tables = tables or reflected(connection)
    for table, row in rows:
        connection.execute(tables[table].insert().values(**row))


def rows_before(table: str) -> list[tuple[str, dict[str, Any]]]:
    """The rows the first row of `table` refers to (all the rows listed before it)."""
    first = next(index for index, (name, _) in enumerate(ROWS) if name == table)
    return ROWS[:first]


def row_of(table: str) -> dict[str, Any]:
    return next(row for name, row in ROWS if name == table)
