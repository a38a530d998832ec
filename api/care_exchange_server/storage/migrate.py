"""Alembic, driven from code: the only path by which the database schema changes."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """A configuration with no ini file: the URL comes from settings, never from a file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database up to `revision` (the newest by default)."""
    command.upgrade(alembic_config(database_url), revision)


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def schema_state(engine: Engine) -> str:
    """`current` when the database is at the head of these migrations, else `behind` or `ahead`.

    A revision these migrations do not know was made by a newer server: `ahead`.
    """
    with engine.connect() as connection:
        found = MigrationContext.configure(connection).get_current_revision()
    script = _script()
    if found == script.get_current_head():
        return "current"
    known = found is None or any(step.revision == found for step in script.walk_revisions())
    return "behind" if known else "ahead"
