"""`care-exchange` subcommands of the server: database, serving, the demo, administration."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.orm import Session

from care_exchange_server.app import create_app
from care_exchange_server.auth import clients, keys
from care_exchange_server.demo import (
    DemoClient,
    demo_clients,
    expired_token,
    reset,
    seed,
    walkthrough,
    write_conformance_config,
)
from care_exchange_server.middleware import configure_logging
from care_exchange_server.problems import ProblemError
from care_exchange_server.services import directory, events, idempotency
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import make_engine, session_factory, transaction
from care_exchange_server.storage.enums import AuthMethod
from care_exchange_server.storage.migrate import upgrade
from care_exchange_server.storage.models import Client
from care_exchange_server.worker import run_until_signalled, start_in_thread

db_app = typer.Typer(help="The database.", no_args_is_help=True)
admin_app = typer.Typer(help="Organisations and OAuth clients (prints JSON).", no_args_is_help=True)
keys_app = typer.Typer(help="Token-signing keys.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo that `care-exchange run` seeds.", no_args_is_help=True)


def load_settings() -> Settings:
    """Settings from the environment.

    Settings that cannot work together are an operator's mistake, told in one line per rule.
    """
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            message = str(problem["msg"]).removeprefix("Value error, ")
            typer.echo(f"care-exchange: bad settings: {message}", err=True)
        raise typer.Exit(2) from None


def _print(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


@contextmanager
def _transaction(settings: Settings) -> Iterator[Session]:
    """One transaction on a short-lived engine: commands run once and exit."""
    engine = make_engine(settings.database_url)
    try:
        with transaction(session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    upgrade(load_settings().database_url)


def _settings_for(host: str, port: int) -> Settings:
    """Settings from the environment; without CARE_EXCHANGE_ISSUER the issuer is this address."""
    settings = load_settings()
    if "issuer" not in settings.model_fields_set:
        settings = settings.model_copy(update={"issuer": f"http://{host}:{port}"})
    return settings


LOOPBACK = ["127.0.0.0/8", "::1/128"]


DEMO_WEBHOOKS: dict[str, Any] = {
    "webhook_allowed_hosts": LOOPBACK,
    "webhook_heartbeat_seconds": 10.0,
    "webhook_timeout_seconds": 5.0,
}


def _demo_settings(settings: Settings) -> Settings:
    """Settings for the demo, whose webhooks may go to receivers on the same machine.

    The demo runs on a developer's machine, the conformance suite's receiver among its webhook
    receivers; heartbeats and timeouts are short so that the suite's checks of them take
    seconds. Each applies only where the environment does not set it.
    """
    update = {
        name: value
        for name, value in DEMO_WEBHOOKS.items()
        if name not in settings.model_fields_set
    }
    return settings.model_copy(update=update)


@db_app.command("prune")
def db_prune() -> None:
    """Delete idempotency keys and delivered events past retention (run it daily from cron).

    Events not yet delivered (or read, for pull subscriptions) are kept however old.
    """
    settings = load_settings()
    with _transaction(settings) as session:
        keys = idempotency.prune(session, timedelta(hours=settings.idempotency_retention_hours))
        gone = events.prune(session, timedelta(days=settings.event_retention_days))
    _print({"idempotencyKeysDeleted": keys, "subscriptionEventsDeleted": gone})


def _check_port(host: str, port: int) -> None:
    """Stop before anything is seeded or migrated when the address cannot be listened on."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            typer.echo(
                f"care-exchange: cannot listen on {host}:{port} ({error.strerror}); "
                f"choose another port with --port {port + 1}",
                err=True,
            )
            raise typer.Exit(2) from None


APP_FACTORY = "care_exchange_server.cli:app_from_environment"
SQLITE_ONE_PROCESS = (
    "care-exchange serve: --workers above 1 needs PostgreSQL (CARE_EXCHANGE_DATABASE_URL="
    "postgresql+psycopg://...): processes sharing a SQLite file queue for its one write lock, and"
    " a writer that waits past the busy timeout is answered 503"
)


def app_from_environment() -> FastAPI:
    """The app of each `serve --workers N` process, from the settings in its environment.

    uvicorn starts worker processes from an import string, so the parent passes them that way.
    """
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def settings_environment(settings: Settings) -> dict[str, str]:
    """Every setting as the `CARE_EXCHANGE_*` variable that gives it.

    What the command derived (the issuer from --host and --port, say) reaches worker processes.
    """
    found: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        text = value if isinstance(value, str) else json.dumps(value)
        found[f"CARE_EXCHANGE_{name.upper()}"] = "off" if value is None else text
    return found


def _serve(settings: Settings, host: str, port: int, with_worker: bool, workers: int = 1) -> None:
    """Serve with uvloop and httptools where installed (uvicorn's "auto" picks them).

    With several workers, uvicorn's parent process supervises them and serves nothing: the
    delivery worker runs there, once however many processes serve.
    """
    configure_logging(settings.log_level)
    typer.echo(
        f"Care Exchange listening on http://{host}:{port} "
        f"(API reference at http://{host}:{port}/docs); Ctrl+C stops it."
    )
    halt = start_in_thread(settings) if with_worker else None
    served: str | FastAPI = create_app(settings) if workers == 1 else APP_FACTORY
    if workers > 1:
        os.environ.update(settings_environment(settings))
    try:
        uvicorn.run(
            served,
            factory=workers > 1,
            workers=workers,
            host=host,
            port=port,
            loop="auto",
            http="auto",
            log_config=None,
            access_log=False,
        )
    finally:
        if halt is not None:
            halt()


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    with_worker: Annotated[
        bool, typer.Option(help="Also deliver webhooks from this process.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes (PostgreSQL only above 1). Rate limits kept in memory"
            " count in each process apart: see CARE_EXCHANGE_RATE_LIMIT_STORAGE_URI.",
        ),
    ] = 1,
) -> None:
    """Serve the API; the embedded SQLite database is migrated first, PostgreSQL is not."""
    _check_port(host, port)
    settings = _settings_for(host, port)
    if settings.database_url.startswith("sqlite"):
        if workers > 1:
            typer.echo(SQLITE_ONE_PROCESS, err=True)
            raise typer.Exit(2)
        upgrade(settings.database_url)
    _serve(settings, host, port, with_worker, workers)


def worker() -> None:
    """Deliver webhooks until stopped (SIGTERM); run as many as needed, they share the work."""
    settings = load_settings()
    configure_logging(settings.log_level)
    run_until_signalled(settings)


def run(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate the embedded database, seed the demo, print its credentials, and serve.

    A delivery worker runs in the same process, so webhooks work without a second command.
    """
    _check_port(host, port)
    settings = _demo_settings(_settings_for(host, port))
    upgrade(settings.database_url)
    with _transaction(settings) as session:
        made = seed(session)
        seeded = [] if made is not None else demo_clients(session)
    if made is None:
        typer.echo(_seeded_before(settings.issuer, seeded, port))
    else:
        _show_demo(settings, made)
    _serve(settings, host, port, with_worker=True)


def _show_demo(settings: Settings, made: list[DemoClient]) -> None:
    """Print the credentials with the walkthrough, and write the suite's configuration."""
    with _transaction(settings) as session:
        expired = expired_token(session, settings, made[0].client_id)
    typer.echo(walkthrough(settings.issuer, made))
    written = write_conformance_config(settings.issuer, made, expired)
    typer.echo(
        f"\nConformance suite against this demo (configuration in {written}):\n"
        f"  care-exchange conformance run --config {written}\n"
    )


def _seeded_before(base_url: str, seeded: list[Client], port: int) -> str:
    """The walkthrough of a demo seeded by an earlier run, whose secrets exist only as hashes."""
    if not seeded:
        return "The demo was seeded before, but its clients are gone; delete var/ to start again."
    shown = [DemoClient(client.organisation_id, client.client_id, "SECRET") for client in seeded]
    return (
        "The demo was seeded by an earlier run. Its secrets were shown then and are stored only\n"
        f"as hashes: `care-exchange demo reset --port {port}` issues new ones (the old ones stop\n"
        "working) and prints this walkthrough with them filled in.\n\n"
        + walkthrough(base_url, shown)
    )


@demo_app.command("reset")
def demo_reset(
    host: Annotated[str, typer.Option(help="Address the demo server listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the demo server listens on.")] = 8000,
) -> None:
    """Issue new secrets for the demo's clients and print the walkthrough with them.

    Works while the demo server runs; the old secrets stop working at once. The conformance
    suite's configuration for the demo is written again with the new ones.
    """
    settings = _demo_settings(_settings_for(host, port))
    upgrade(settings.database_url)
    try:
        with _transaction(settings) as session:
            made = reset(session)
    except LookupError as error:
        typer.echo(f"care-exchange demo: {error.args[0]}", err=True)
        raise typer.Exit(2) from None
    _show_demo(settings, made)


@admin_app.command("org-create")
def org_create(
    name: Annotated[str, typer.Option(help="The organisation's name.")],
    kind: Annotated[str, typer.Option(help=f"One of: {', '.join(directory.ORGANISATION_KINDS)}.")],
    org_id: Annotated[
        str | None, typer.Option("--id", help="Its id (generated if absent).")
    ] = None,
) -> None:
    """Create an organisation."""
    try:
        with _transaction(load_settings()) as session:
            made = directory.create_organisation(session, name, kind, org_id)
            _print(directory.organisation_dict(made))
    except (ValueError, ProblemError) as error:
        said = error.detail if isinstance(error, ProblemError) else error
        typer.echo(f"care-exchange admin: {said}", err=True)
        raise typer.Exit(2) from None


@admin_app.command("client-create")
def client_create(
    org_id: Annotated[str, typer.Option("--org", help="The organisation the client belongs to.")],
    name: Annotated[str, typer.Option(help="A name people will recognise.")],
    scope: Annotated[list[str], typer.Option(help="A scope it may ask for (repeat the option).")],
    jwks_file: Annotated[
        typer.FileText | None,
        typer.Option(help="Public JWKS for private_key_jwt; without it the client gets a secret."),
    ] = None,
) -> None:
    """Create a client; a new secret is printed once and never stored in plain text."""
    jwks = json.load(jwks_file) if jwks_file else None
    method = AuthMethod.PRIVATE_KEY_JWT if jwks else AuthMethod.CLIENT_SECRET_BASIC
    try:
        with _transaction(load_settings()) as session:
            made, secret = clients.create_client(session, org_id, name, scope, method, jwks)
            _print(clients.client_dict(made, secret))
    except ValueError as error:
        typer.echo(f"care-exchange admin: {error}", err=True)
        raise typer.Exit(2) from None


@admin_app.command("client-list")
def client_list() -> None:
    """List every client (never their secrets)."""
    with _transaction(load_settings()) as session:
        _print([clients.client_dict(client) for client in clients.list_clients(session)])


@admin_app.command("client-disable")
def client_disable(client_id: str) -> None:
    """Disable a client at once: its tokens stop working. Prints the client, as client-list does."""
    with _transaction(load_settings()) as session:
        disabled = clients.disable_client(session, client_id)
        if disabled is None:
            typer.echo(f"care-exchange admin: no client {client_id}", err=True)
            raise typer.Exit(2)
        _print(clients.client_dict(disabled))


@admin_app.command("expired-token")
def admin_expired_token(client_id: str) -> None:
    """Print a token for the client that expired a minute ago, for the suite's expired_token.

    The conformance suite cannot sign one itself (CX-AUTH-017); the server refuses it.
    """
    settings = load_settings()
    try:
        with _transaction(settings) as session:
            typer.echo(expired_token(session, settings, client_id))
    except LookupError as error:
        typer.echo(f"care-exchange admin: {error.args[0]}", err=True)
        raise typer.Exit(2) from None


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start signing with a new key; the old one stays published until its tokens expire."""
    settings = load_settings()
    with _transaction(settings) as session:
        keys.rotate_keys(session, settings)
        _print(keys.public_jwks(session, settings))
