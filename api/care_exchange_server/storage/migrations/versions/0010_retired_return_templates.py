"""retired return templates: when a template's owner retired it

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 05:45:00

`return_templates.retired_at` is null while a template is in use and set when its owner retires
it (`DELETE /v1/return-templates/{templateId}`). A retired template is kept with its versions,
for audit, and its id stays taken. One nullable column, added and dropped in place.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "return_templates", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    """Refused while a template is retired: without the column it would be in use again, shown
    and filled, which its owner ended."""
    found = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM return_templates WHERE retired_at IS NOT NULL")
    )
    if found.scalar_one():
        raise RuntimeError("retired return templates exist; 0010 cannot be undone")
    op.drop_column("return_templates", "retired_at")
