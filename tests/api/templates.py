"""Worlds built once and copied: each test gets its own database holding a fresh world.

Building the world of `tests.api.world` costs about a second (migrations, scrypt hashes, a
signing key, eight token requests), which hundreds of tests on two databases cannot each pay.
So it is built once into a template database and every test gets a copy (SQLite's backup API;
on PostgreSQL, a copy made once and put back as the template was before each test: see
`pg_copies`). The copy holds the same organisations, clients, signing key, services,
delegation and agreement, so the parties' real tokens are valid in it, and nothing one test
changes is seen by another.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from care_exchange_server.app import create_app, dispose
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.migrate import upgrade
from care_exchange_testing.postgres import fresh_database
from tests.api import pg_copies
from tests.api.world import Party, World, build_world, renew_end_dates

# The template's tokens must outlive the longest test run that copies it.
TOKEN_LIFETIME_SECONDS = 86_400


@dataclass(frozen=True)
class Template:
    """A database holding a built world, and the parties (with tokens) it was built for."""

    backend: str
    url: str
    parties: dict[str, Party]
    admin_url: str = ""

    def fresh_parties(self) -> dict[str, Party]:
        return {name: replace(party) for name, party in self.parties.items()}


def populate(
    backend: str, url: str, issuer: str, admin_url: str = "", entitlement: bool = False
) -> Template:
    """Migrate the empty database at `url` and build the world in it (`build_world`)."""
    upgrade(url)
    settings = Settings(
        database_url=url, issuer=issuer, access_token_lifetime_seconds=TOKEN_LIFETIME_SECONDS
    )
    application = create_app(settings)
    try:
        with TestClient(application, base_url=issuer) as client:
            parties = build_world(application, client, entitlement).parties
    finally:
        dispose(application)
    return Template(backend, url, parties, admin_url)


def copy(template: Template, folder: Path) -> Iterator[str]:
    """A new database with the template's contents, dropped when the generator finishes."""
    if template.backend == "sqlite":
        target = folder / f"world-{uuid.uuid4().hex[:8]}.sqlite3"
        source = sqlite3.connect(template.url.removeprefix("sqlite:///"))
        made = sqlite3.connect(target)
        try:
            source.backup(made)
        finally:
            made.close()
            source.close()
        yield f"sqlite:///{target}"
        return
    base, template_name = template.url.rsplit("/", 1)
    name = pg_copies.take(template.admin_url, template_name)
    try:
        yield f"{base}/{name}"
    finally:
        pg_copies.give_back(template.admin_url, template_name, name)


def postgresql_template(
    admin_url: str, issuer: str, entitlement: bool = False, empty: bool = False
) -> Iterator[Template]:
    """A template on PostgreSQL (a built world, or only migrated when `empty`), with its
    copies dropped before it is."""
    for url in fresh_database(admin_url):
        if empty:
            upgrade(url)
            template = Template("postgresql", url, {}, admin_url)
        else:
            template = populate("postgresql", url, issuer, admin_url, entitlement)
        try:
            yield template
        finally:
            pg_copies.discard(admin_url, url.rsplit("/", 1)[1])


def built(
    backend: str, folder: Path, issuer: str, admin_url: str, entitlement: bool = False
) -> Iterator[Template]:
    """A template on `backend` (for a module's own, module-scoped template fixture)."""
    if backend == "sqlite":
        yield populate("sqlite", f"sqlite:///{folder / 'world.sqlite3'}", issuer, "", entitlement)
        return
    yield from postgresql_template(admin_url, issuer, entitlement)


def copied_world(template: Template, folder: Path, issuer: str) -> Iterator[tuple[World, FastAPI]]:
    """A fresh copy of the template's world, served by its own app, and that app.

    The agreements of the entitlement world that end relative to today are renewed first.
    """
    for url in copy(template, folder):
        application = create_app(Settings(database_url=url, issuer=issuer))
        try:
            with transaction(application.state.sessions) as session:
                renew_end_dates(session, date.today())
            with TestClient(application, base_url=issuer) as client:
                yield World(client, template.fresh_parties()), application
        finally:
            dispose(application)
