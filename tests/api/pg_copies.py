"""PostgreSQL copies of a template database, put back as the template was rather than dropped.

CREATE DATABASE ... TEMPLATE costs about 170 ms on this machine (it copies the system catalogues
too) and a few hundred tests on PostgreSQL each need a copy. A copy a test has finished with is
kept instead: it holds the template's rows in a schema of its own (`cx_template`), and giving it
to the next test deletes the public tables' rows and copies those back, in one transaction of a
few milliseconds. A copy is dropped instead when it cannot be trusted: another session is still
connected to it, or its public tables are not the template's any more (a test changed the schema).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

SNAPSHOT = "cx_template"


@dataclass
class _Kept:
    """What this process knows about one template's copies."""

    restore: sql.Composed
    shape: str
    free: list[str] = field(default_factory=list)
    made: list[str] = field(default_factory=list)


_KEPT: dict[str, _Kept] = {}


def _database_url(admin_url: str, name: str) -> str:
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def _shape(connection: psycopg.Connection) -> str:
    """A fingerprint of the public tables: their names, columns and types."""
    row = connection.execute(
        "SELECT md5(coalesce(string_agg(table_name || '.' || column_name || ':' || data_type,"
        " ',' ORDER BY table_name, column_name), '')) FROM information_schema.columns"
        " WHERE table_schema = 'public'"
    ).fetchone()
    return str(row[0]) if row else ""


def _snapshot(connection: psycopg.Connection) -> sql.Composed:
    """Keep the copy's rows in the snapshot schema; the statements that put them back."""
    tables = [
        str(row[0])
        for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]
    sequences = connection.execute(
        "SELECT sequencename, coalesce(last_value, start_value), last_value IS NOT NULL"
        " FROM pg_sequences WHERE schemaname = 'public' ORDER BY sequencename"
    ).fetchall()
    connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SNAPSHOT)))
    statements: list[sql.Composable] = [sql.SQL("SET LOCAL session_replication_role = replica")]
    for table in tables:
        public, kept = sql.Identifier("public", table), sql.Identifier(SNAPSHOT, table)
        connection.execute(sql.SQL("CREATE TABLE {} AS TABLE {}").format(kept, public))
        statements.append(sql.SQL("DELETE FROM {}").format(public))
        statements.append(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(public, kept))
    for name, value, called in sequences:
        statements.append(
            sql.SQL("SELECT setval({}, {}, {})").format(
                sql.Literal(f"public.{name}"), sql.Literal(value), sql.Literal(called)
            )
        )
    return sql.SQL("; ").join(statements)


def take(admin_url: str, template_name: str) -> str:
    """The name of a database holding exactly the template's contents, for one test."""
    kept = _KEPT.get(template_name)
    while kept and kept.free:
        name = kept.free.pop()
        try:
            with psycopg.connect(_database_url(admin_url, name)) as connection:
                connection.execute(kept.restore)
            return name
        except psycopg.Error:
            kept.made.remove(name)
            _drop(admin_url, name)
    name = f"care_exchange_copy_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_name)
            )
        )
    with psycopg.connect(_database_url(admin_url, name)) as connection:
        restore = _snapshot(connection)
        if kept is None:
            kept = _KEPT[template_name] = _Kept(restore, _shape(connection))
    kept.made.append(name)
    return name


def give_back(admin_url: str, template_name: str, name: str) -> None:
    """Keep the copy for the next test, or drop it when it cannot be put back as it was."""
    kept = _KEPT[template_name]
    try:
        with psycopg.connect(_database_url(admin_url, name), autocommit=True) as connection:
            others = connection.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            reusable = others == (0,) and _shape(connection) == kept.shape
    except psycopg.Error:
        reusable = False
    if reusable:
        kept.free.append(name)
    else:
        kept.made.remove(name)
        _drop(admin_url, name)


def discard(admin_url: str, template_name: str) -> None:
    """Drop every copy of the template this process made (before the template goes)."""
    kept = _KEPT.pop(template_name, None)
    for name in kept.made if kept else []:
        _drop(admin_url, name)


def _drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
