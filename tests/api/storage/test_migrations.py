"""The migrations build exactly the tables the models describe, on both databases, and keep
the data of a database they upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, null, select, update
from sqlalchemy.exc import IntegrityError

from care_exchange_server.storage.db import make_engine
from care_exchange_server.storage.migrate import alembic_config, upgrade
from care_exchange_server.storage.models import Base, ChangeCounter
from tests.api.storage.rows import AT, ROWS, insert, reflected


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


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that `ROWS` fills, in primary-key order."""
    with engine.connect() as connection:
        tables = reflected(connection)
        return {
            name: [
                tuple(row)
                for row in connection.execute(
                    select(tables[name]).order_by(*tables[name].primary_key.columns)
                )
            ]
            for name in dict.fromkeys(name for name, _ in ROWS)
        }


def _migrated_to(url: str, revision: str) -> Iterator[Engine]:
    upgrade(url, revision)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def at_0006(unmigrated_url: str) -> Iterator[Engine]:
    """A database migrated as far as 0006, the last revision before the CHECK constraints."""
    yield from _migrated_to(unmigrated_url, "0006")


def test_the_check_constraints_keep_every_row_of_a_database_holding_data(
    at_0006: Engine, unmigrated_url: str
) -> None:
    """On SQLite each table is rebuilt: nothing may be lost, least of all the events that
    cascade from a subscription, nor a foreign key left pointing nowhere."""
    with at_0006.begin() as connection:
        insert(connection, ROWS)
    before = _contents(at_0006)
    upgrade(unmigrated_url, "0007")
    assert _revision(at_0006) == "0007"
    assert _contents(at_0006) == before
    assert all(before.values())
    with at_0006.connect() as connection:
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        tables = reflected(connection)
        with pytest.raises(IntegrityError):
            connection.execute(update(tables["agreements"]).values(status="lapsed"))


def test_stray_values_are_named_and_stop_the_migration_before_it_changes_anything(
    at_0006: Engine, unmigrated_url: str
) -> None:
    strays = {("agreements", "status"): "lapsed", ("feed_entries", "state"): "gone"}
    rows = [
        (table, {**row, **{c: v for (t, c), v in strays.items() if t == table}})
        for table, row in ROWS
    ]
    with at_0006.begin() as connection:
        insert(connection, rows)
    before = _contents(at_0006)
    with pytest.raises(RuntimeError) as refused:
        upgrade(unmigrated_url)
    message = str(refused.value)
    assert "agreements.status = 'lapsed' in 1 row(s)" in message
    assert "feed_entries.state = 'gone' in 1 row(s)" in message
    assert _revision(at_0006) == "0006"
    assert _contents(at_0006) == before


@pytest.fixture
def at_0007(unmigrated_url: str) -> Iterator[Engine]:
    """A database migrated as far as 0007, the last revision before return templates."""
    yield from _migrated_to(unmigrated_url, "0007")


def test_return_templates_keep_every_row_and_let_receipts_name_the_return_channel(
    at_0007: Engine, unmigrated_url: str
) -> None:
    """0008 rebuilds the receipts' CHECK constraint (the table, on SQLite) and adds the template
    tables: the rows stay, `return` is taken, anything else still refused, and a template's
    version is stored once."""
    with at_0007.begin() as connection:
        insert(connection, ROWS)
    before = _contents(at_0007)
    upgrade(unmigrated_url, "0008")
    assert _revision(at_0007) == "0008"
    assert _contents(at_0007) == before
    with at_0007.begin() as connection:
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        tables = reflected(connection)
        receipts = tables["access_receipts"]
        connection.execute(update(receipts).values(channel="return"))
        template = {"id": "t-1", "owner_id": "org-s", "created_at": AT}
        connection.execute(tables["return_templates"].insert().values(template))
        version = {
            "template_id": "t-1",
            "version": "1.0.0",
            "owner_id": "org-s",
            "document": {"id": "t-1"},
            "created_at": AT,
        }
        connection.execute(tables["return_template_versions"].insert().values(version))
    with at_0007.connect() as connection, pytest.raises(IntegrityError):
        connection.execute(update(receipts).values(channel="teleport"))
    with at_0007.connect() as connection, pytest.raises(IntegrityError):
        connection.execute(tables["return_template_versions"].insert().values(version))


@pytest.fixture
def at_0008(unmigrated_url: str) -> Iterator[Engine]:
    """A database migrated as far as 0008, the last revision before provider directory entries."""
    yield from _migrated_to(unmigrated_url, "0008")


def test_provider_directory_entries_are_a_nullable_column_that_keeps_every_row(
    at_0008: Engine, unmigrated_url: str
) -> None:
    """0009 adds `organisations.directory_entry`, null in every existing row; it is undone only
    while no provider has stored an entry, and then gives back the rows it found."""
    with at_0008.begin() as connection:
        insert(connection, ROWS)
    before = _contents(at_0008)
    upgrade(unmigrated_url, "0009")
    assert _revision(at_0008) == "0009"
    after = _contents(at_0008)
    assert after["organisations"] == [(*row, None) for row in before["organisations"]]
    assert {name: rows for name, rows in after.items() if name != "organisations"} == {
        name: rows for name, rows in before.items() if name != "organisations"
    }
    entry = {"directoryType": "provider", "id": "org-p"}
    with at_0008.begin() as connection:
        organisations = reflected(connection)["organisations"]
        connection.execute(
            update(organisations).where(organisations.c.id == "org-p").values(directory_entry=entry)
        )
    with at_0008.connect() as connection:
        stored = connection.execute(select(organisations.c.directory_entry)).scalars().all()
        assert sorted(stored, key=lambda found: found is None) == [entry, None]
    with pytest.raises(RuntimeError, match="0009 cannot be undone"):
        command.downgrade(alembic_config(unmigrated_url), "0008")
    assert _revision(at_0008) == "0009"
    with at_0008.begin() as connection:
        connection.execute(update(organisations).values(directory_entry=null()))
    command.downgrade(alembic_config(unmigrated_url), "0008")
    assert _revision(at_0008) == "0008"
    assert _contents(at_0008) == before


@pytest.fixture
def at_0009(unmigrated_url: str) -> Iterator[Engine]:
    """A database migrated as far as 0009, the last revision before retired return templates."""
    yield from _migrated_to(unmigrated_url, "0009")


def test_retired_return_templates_are_a_nullable_column_that_keeps_every_row(
    at_0009: Engine, unmigrated_url: str
) -> None:
    """0010 adds `return_templates.retired_at`, null (in use) in every existing row; it is
    undone only while no template is retired (without the column one would be in use again),
    and then gives back the rows it found."""
    template = {"id": "t-1", "owner_id": "org-s", "created_at": AT}
    version = {
        "template_id": "t-1",
        "version": "1.0.0",
        "owner_id": "org-s",
        "document": {"id": "t-1"},
        "created_at": AT,
    }
    with at_0009.begin() as connection:
        insert(connection, ROWS)
        tables = reflected(connection)
        connection.execute(tables["return_templates"].insert().values(template))
        connection.execute(tables["return_template_versions"].insert().values(version))

    def templates() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with at_0009.connect() as connection:
            found = reflected(connection)
            return (
                [tuple(row) for row in connection.execute(select(found["return_templates"]))],
                [
                    tuple(row)
                    for row in connection.execute(select(found["return_template_versions"]))
                ],
            )

    before, before_templates = _contents(at_0009), templates()
    upgrade(unmigrated_url, "0010")
    assert _revision(at_0009) == "0010"
    assert _contents(at_0009) == before
    after_templates = templates()
    assert after_templates == (
        [(*row, None) for row in before_templates[0]],
        before_templates[1],
    )
    with at_0009.begin() as connection:
        retired = reflected(connection)["return_templates"]
        connection.execute(update(retired).values(retired_at=AT))
    with pytest.raises(RuntimeError, match="0010 cannot be undone"):
        command.downgrade(alembic_config(unmigrated_url), "0009")
    assert _revision(at_0009) == "0010"
    with at_0009.begin() as connection:
        connection.execute(update(retired).values(retired_at=null()))
    command.downgrade(alembic_config(unmigrated_url), "0009")
    assert _revision(at_0009) == "0009"
    assert _contents(at_0009) == before
    assert templates() == before_templates
