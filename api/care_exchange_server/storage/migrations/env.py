"""Alembic environment: online migrations against the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from care_exchange_server.storage.db import make_engine
from care_exchange_server.storage.models import Base


def _check_foreign_keys(connection: Connection) -> None:
    """SQLite's keys were off while tables were rebuilt: refuse to commit any they would break."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken}")


config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url must be set"
engine = make_engine(url)
try:
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table by copy, drop and rename. With foreign keys on, the drop
            # would fail, or cascade to the rows that reference the table. SQLite ignores this
            # pragma inside a transaction, so it goes to the driver before Alembic begins one.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                _check_foreign_keys(connection)
finally:
    # Also when a migration fails: no pooled connection is left open behind it.
    engine.dispose()
