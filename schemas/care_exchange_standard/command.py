"""The one `care-exchange` command: the standard's subcommands and those of the parts beside it.

A part contributes subcommands through the `care_exchange.commands` entry-point group; each
entry point names a function that adds them to the command. The standard cannot depend on the
other parts, so a subcommand whose part is missing is answered with the part to install.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import entry_points, version
from typing import Annotated

import typer

from care_exchange_standard.validate_command import validate

ENTRY_POINT_GROUP = "care_exchange.commands"
# The subcommands other parts contribute, by the distribution that carries them.
PROVIDED_BY = {
    "serve": "care-exchange-server",
    "run": "care-exchange-server",
    "worker": "care-exchange-server",
    "db": "care-exchange-server",
    "admin": "care-exchange-server",
    "keys": "care-exchange-server",
    "conformance": "care-exchange-conformance",
}
EXIT_USAGE = 2


def _show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"care-exchange {version('care-exchange-standard')}")
        raise typer.Exit()


def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Care Exchange: publish once, share with those entitled, hear what it changed."""


def build() -> typer.Typer:
    """The command with the standard's subcommands and every installed part's."""
    app = typer.Typer(
        name="care-exchange",
        help="Care Exchange: publish once, share with those entitled, hear what it changed.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    # A callback keeps the command a group even when the standard's is its only subcommand.
    app.callback()(_options)
    app.command("validate")(validate)
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        register: Callable[[typer.Typer], None] = entry_point.load()
        register(app)
    return app


def missing_part(argv: list[str], app: typer.Typer) -> str | None:
    """The install hint when `argv` asks for a subcommand whose part is not installed."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    if name is None or name not in PROVIDED_BY:
        return None
    known = {command.name for command in app.registered_commands}
    known |= {group.name for group in app.registered_groups}
    if name in known:
        return None
    return (
        f"care-exchange {name}: this command comes with the {PROVIDED_BY[name]} part, "
        f"which is not installed here. Install it with: pip install {PROVIDED_BY[name]}"
    )


def main() -> None:
    """Console-script entry point."""
    app = build()
    hint = missing_part(sys.argv[1:], app)
    if hint is not None:
        typer.echo(hint, err=True)
        raise SystemExit(EXIT_USAGE)
    app()
