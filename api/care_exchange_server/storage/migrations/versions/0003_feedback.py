"""feedback from subscribers and the providers' replies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("service_id", sa.String(length=128), nullable=False),
        sa.Column("subscriber_id", sa.String(length=128), nullable=False),
        sa.Column("author_client_id", sa.String(length=128), nullable=False),
        sa.Column("record_pk", sa.Integer(), nullable=True),
        sa.Column("record_version", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["record_pk"], ["records.pk"]),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"]),
        sa.ForeignKeyConstraint(["subscriber_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_feedback_subscriber_id"), ["subscriber_id"], unique=False
        )
    op.create_table(
        "feedback_replies",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("feedback_pk", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("author_client_id", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["feedback_pk"], ["feedback.pk"]),
        sa.ForeignKeyConstraint(["provider_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("feedback_replies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_replies_feedback_pk"), ["feedback_pk"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_replies_feedback_pk"))
    op.drop_table("feedback_replies")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_provider_id"))
    op.drop_table("feedback")
