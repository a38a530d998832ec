"""feed: change numbers in commit order and each organisation's feed entries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counter = op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(counter, [{"id": 1, "value": 0}])
    op.create_table(
        "feed_entries",
        sa.Column("organisation_id", sa.String(length=128), nullable=False),
        sa.Column("record_pk", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=60), nullable=False),
        sa.Column("change_number", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["record_pk"], ["records.pk"]),
        sa.PrimaryKeyConstraint("organisation_id", "record_pk"),
        sa.UniqueConstraint("change_number"),
    )
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feed_entries_position",
            ["organisation_id", "record_type", "change_number"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_entries_position")
    op.drop_table("feed_entries")
    op.drop_table("change_counter")
