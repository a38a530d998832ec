"""return templates: stored template versions, and the `return` channel of access receipts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 23:50:00

A template's id is taken once (`return_templates`); each of its versions is a row of
`return_template_versions`, unique by (template id, version). Access receipts may now name the
channel `return`: the CHECK constraint of 0007 is replaced (on SQLite the table is rebuilt).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("read", "list", "feed", "webhook", "events")
CONSTRAINT = "ck_access_receipts_channel"


def _channels(values: Sequence[str]) -> str:
    return "channel IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    op.create_table(
        "return_templates",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("return_templates", schema=None) as batch_op:
        batch_op.create_index("ix_return_templates_owner_id", ["owner_id"], unique=False)
    op.create_table(
        "return_template_versions",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("template_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=128), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["template_id"], ["return_templates.id"]),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("template_id", "version"),
    )
    with op.batch_alter_table("access_receipts", schema=None) as batch_op:
        batch_op.drop_constraint(CONSTRAINT, type_="check")
        batch_op.create_check_constraint(CONSTRAINT, _channels((*CHANNELS, "return")))


def downgrade() -> None:
    """Refused while receipts of filled returns exist: a provider's record of who read what is
    never deleted to make a downgrade fit."""
    found = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM access_receipts WHERE channel = 'return'")
    )
    if found.scalar_one():
        raise RuntimeError("access receipts of channel 'return' exist; 0008 cannot be undone")
    with op.batch_alter_table("access_receipts", schema=None) as batch_op:
        batch_op.drop_constraint(CONSTRAINT, type_="check")
        batch_op.create_check_constraint(CONSTRAINT, _channels(CHANNELS))
    op.drop_table("return_template_versions")
    with op.batch_alter_table("return_templates", schema=None) as batch_op:
        batch_op.drop_index("ix_return_templates_owner_id")
    op.drop_table("return_templates")
