"""A kept PostgreSQL copy must reach the next test exactly as the template was."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.api import pg_copies
from tests.api.conftest import ISSUER
from tests.api.templates import Template, postgresql_template


@pytest.fixture
def template(postgres_server: str) -> Iterator[Template]:
    yield from postgresql_template(postgres_server, ISSUER, empty=True)


def _name(template: Template) -> str:
    return template.url.rsplit("/", 1)[1]


def _query(template: Template, database: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(f"{template.admin_url.rsplit('/', 1)[0]}/{database}") as connection:
        cursor = connection.execute(statement)
        return cursor.fetchall() if cursor.description else []


def test_a_copy_given_back_comes_again_with_the_templates_rows_and_sequences(
    template: Template,
) -> None:
    first = pg_copies.take(template.admin_url, _name(template))
    version = _query(template, first, "SELECT version_num FROM alembic_version")
    _query(template, first, "DELETE FROM alembic_version")
    _query(template, first, "SELECT nextval('records_pk_seq'), nextval('records_pk_seq')")
    pg_copies.give_back(template.admin_url, _name(template), first)

    again = pg_copies.take(template.admin_url, _name(template))

    assert again == first
    assert _query(template, again, "SELECT version_num FROM alembic_version") == version
    assert _query(template, again, "SELECT nextval('records_pk_seq')") == [(1,)]
    pg_copies.give_back(template.admin_url, _name(template), again)


def test_a_copy_whose_tables_changed_or_still_in_use_is_dropped_not_kept(
    template: Template,
) -> None:
    changed = pg_copies.take(template.admin_url, _name(template))
    _query(template, changed, "ALTER TABLE records ADD COLUMN stray integer")
    pg_copies.give_back(template.admin_url, _name(template), changed)
    busy = pg_copies.take(template.admin_url, _name(template))
    url = f"{template.admin_url.rsplit('/', 1)[0]}/{busy}"
    with psycopg.connect(url, autocommit=True):
        pg_copies.give_back(template.admin_url, _name(template), busy)

    fresh = pg_copies.take(template.admin_url, _name(template))

    assert fresh not in (changed, busy)
    existing = {row[0] for row in _query(template, "postgres", "SELECT datname FROM pg_database")}
    assert changed not in existing
    assert busy not in existing
    pg_copies.give_back(template.admin_url, _name(template), fresh)
