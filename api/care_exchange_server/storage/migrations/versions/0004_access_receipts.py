"""access receipts: which subscriber received which record version, when, under which agreement

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_receipts",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("subscriber_id", sa.String(length=128), nullable=False),
        sa.Column("service_id", sa.String(length=128), nullable=False),
        sa.Column("agreement_id", sa.String(length=128), nullable=False),
        sa.Column("record_pk", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=60), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreements.id"]),
        sa.ForeignKeyConstraint(["provider_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["record_pk"], ["records.pk"]),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"]),
        sa.ForeignKeyConstraint(["subscriber_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("access_receipts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_access_receipts_provider_read", ["provider_id", "read_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("access_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_access_receipts_provider_read")
    op.drop_table("access_receipts")
