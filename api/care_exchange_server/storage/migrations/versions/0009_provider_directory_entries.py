"""provider directory entries: a provider's own entry, on its organisation's row

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 03:10:00

`organisations.directory_entry` holds the provider directory entry
(`schemas/directory/provider.json`) a provider stores with
`PUT /v1/organisations/me/directory-entry`; it is null until then, and for every other kind of
organisation. One nullable column, added and dropped in place (SQLite 3.35 and later drop a
column without rebuilding the table, which every other table's foreign keys point at).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "organisations",
        sa.Column(
            "directory_entry",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    """Refused while a provider's entry is stored: it is the provider's data, never dropped to
    make a downgrade fit."""
    found = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM organisations WHERE directory_entry IS NOT NULL")
    )
    if found.scalar_one():
        raise RuntimeError("provider directory entries are stored; 0009 cannot be undone")
    op.drop_column("organisations", "directory_entry")
