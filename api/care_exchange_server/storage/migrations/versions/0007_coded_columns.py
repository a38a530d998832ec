"""states and kinds: CHECK constraints hold every coded column to its values

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00

The values are written out here, not taken from `storage.enums`: a migration stays what it was
when it ran, and a later change of the values is a migration of its own. On SQLite each table
is rebuilt (batch mode), which `env.py` does with foreign keys off.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_STATES = ("active", "retracted")
CODED: dict[str, dict[str, tuple[str, ...]]] = {
    "organisations": {
        "kind": (
            "provider",
            "commissioner",
            "regulator",
            "public-health",
            "workforce-body",
            "vendor",
            "administrator",
        ),
    },
    "clients": {"auth_method": ("client_secret_basic", "private_key_jwt")},
    "agreements": {"status": ("requested", "active", "declined", "revoked", "expired")},
    "records": {"state": RECORD_STATES},
    "record_versions": {"state": RECORD_STATES},
    "feed_entries": {"state": ("updated", "deleted")},
    "feedback": {"kind": ("acknowledgement", "question", "impact")},
    "access_receipts": {"channel": ("read", "list", "feed", "webhook", "events")},
    "subscriptions": {
        "channel": ("webhook", "pull"),
        "content": ("id-only", "full"),
        "status": ("active", "paused", "disabled", "error"),
    },
    "subscription_events": {
        "type": (
            "org.careexchange.record.updated",
            "org.careexchange.record.deleted",
            "org.careexchange.feedback.created",
        ),
    },
}


def _listed(values: Sequence[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _refuse_strays() -> None:
    """Stop, having changed nothing, if any row holds a value its column will no longer take.

    Adding the constraints would fail on such a row anyway, but naming one table at a time and
    not the value; this names every column and value to correct before migrating again.
    """
    connection = op.get_bind()
    strays: list[str] = []
    for table, columns in CODED.items():
        for column, values in columns.items():
            found = connection.execute(
                sa.text(
                    f"SELECT {column}, COUNT(*) FROM {table} "
                    f"WHERE {column} NOT IN ({_listed(values)}) GROUP BY {column} ORDER BY {column}"
                )
            )
            strays += [f"{table}.{column} = {value!r} in {count} row(s)" for value, count in found]
    if strays:
        raise RuntimeError(
            "Cannot add the CHECK constraints of migration 0007: "
            + "; ".join(strays)
            + ". Correct these rows to one of the allowed values, then migrate again."
        )


def upgrade() -> None:
    _refuse_strays()
    for table, columns in CODED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in columns.items():
                batch_op.create_check_constraint(
                    f"ck_{table}_{column}", f"{column} IN ({_listed(values)})"
                )


def downgrade() -> None:
    for table, columns in CODED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_constraint(f"ck_{table}_{column}", type_="check")
