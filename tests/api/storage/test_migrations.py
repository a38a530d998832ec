"""The migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select

from care_exchange_server.storage.models import Base, ChangeCounter


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert differences == []
            counter = connection.execute(select(ChangeCounter.id, ChangeCounter.value)).all()
            assert [tuple(row) for row in counter] == [(1, 0)]
    finally:
        engine.dispose()
