"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 07:51:16.704612
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("organisation_id", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column(
            "response_headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "key"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revoked_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=128), nullable=False),
        sa.Column(
            "private_jwk",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_table(
        "used_assertions",
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("jti", sa.String(length=300), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti"),
    )
    with op.batch_alter_table("used_assertions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_assertions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "agreements",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("subscriber_id", sa.String(length=128), nullable=False),
        sa.Column(
            "record_types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "service_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("statutory", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["organisations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreements_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_agreements_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("organisation_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("auth_method", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=300), nullable=True),
        sa.Column(
            "jwks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("client_id"),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clients_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "delegations",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("vendor_id", sa.String(length=128), nullable=False),
        sa.Column(
            "service_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["organisations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delegations_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_delegations_vendor_id"), ["vendor_id"], unique=False)

    op.create_table(
        "services",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "records",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_type", sa.String(length=60), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("service_id", sa.String(length=128), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("submitted_by", sa.String(length=128), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["organisations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("record_type", "record_id"),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_records_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_records_published_at"), ["published_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_records_service_id"), ["service_id"], unique=False)

    op.create_table(
        "record_versions",
        sa.Column("record_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("submitted_by", sa.String(length=128), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["record_pk"],
            ["records.pk"],
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("record_pk", "version"),
    )


def downgrade() -> None:
    op.drop_table("record_versions")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_records_service_id"))
        batch_op.drop_index(batch_op.f("ix_records_published_at"))
        batch_op.drop_index(batch_op.f("ix_records_provider_id"))

    op.drop_table("records")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_provider_id"))

    op.drop_table("services")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegations_vendor_id"))
        batch_op.drop_index(batch_op.f("ix_delegations_provider_id"))

    op.drop_table("delegations")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_organisation_id"))

    op.drop_table("clients")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreements_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_agreements_provider_id"))

    op.drop_table("agreements")
    with op.batch_alter_table("used_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_assertions_expires_at"))

    op.drop_table("used_assertions")
    op.drop_table("signing_keys")
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_tokens_expires_at"))

    op.drop_table("revoked_tokens")
    op.drop_table("organisations")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
