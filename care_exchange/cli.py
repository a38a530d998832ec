"""The one console command; each part of the project contributes its own subcommands."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from api import cli as api_cli
from conformance import cli as conformance_cli

app = typer.Typer(
    name="care-exchange",
    help="Care Exchange: publish once, share with those entitled, hear what it changed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("validate")(conformance_cli.validate)
api_cli.register(app)


def main() -> None:
    """Console-script entry point.

    Settings that cannot work together are an operator's mistake, told in one line per rule.
    """
    try:
        app()
    except ValidationError as error:
        for problem in error.errors():
            message = str(problem["msg"]).removeprefix("Value error, ")
            typer.echo(f"care-exchange: bad settings: {message}", err=True)
        raise SystemExit(2) from None
