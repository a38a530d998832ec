"""Throwaway PostgreSQL databases on the machine's server, for the tests and the benchmarks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg


def unreachable(admin_url: str) -> str | None:
    """Why the server cannot be used, or None when it answers."""
    try:
        with psycopg.connect(admin_url, connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return f"PostgreSQL at {admin_url} cannot be reached: {error}".strip()


def fresh_database(admin_url: str, prefix: str = "care_exchange_test") -> Iterator[str]:
    """The SQLAlchemy URL of a new empty database, dropped when the generator finishes."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
