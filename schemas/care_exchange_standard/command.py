"""The one `care-exchange` command: the standard's subcommands and those of the parts beside it.

A part declares its subcommands through the `care_exchange.commands` entry-point group: each
entry point names a sequence of `(name, "module:attribute", "one line of help")`, kept in the
part's light `__init__`, where the attribute is a Typer app (a group) or a command function.
Nothing is imported until a subcommand is run, so `care-exchange --help` and `--version` answer
in a blink however heavy the server is. The standard cannot depend on the other parts, so a
subcommand whose part is missing is answered with the part to install.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, ClassVar

import typer
from typer.core import TyperGroup

# typer carries its own click; its groups are typed with that click's Context.
Context = Any

ENTRY_POINT_GROUP = "care_exchange.commands"
# The standard's own subcommands, declared as the other parts declare theirs.
COMMANDS = (
    (
        "validate",
        "care_exchange_standard.validate_command:validate",
        "Validate Care Exchange records offline against the standard's schemas.",
    ),
    (
        "spreadsheet",
        "care_exchange_standard.tables.spreadsheet_command:spreadsheet",
        "Write a blank spreadsheet for a record type, generated from its schema.",
    ),
    (
        "returns",
        "care_exchange_standard.returns.returns_command:returns_app",
        "Preview a body's return filled from record files; what the standard fills.",
    ),
)
# The subcommands other parts contribute, by the distribution that carries them.
PROVIDED_BY = {
    "serve": "care-exchange-server",
    "run": "care-exchange-server",
    "worker": "care-exchange-server",
    "db": "care-exchange-server",
    "admin": "care-exchange-server",
    "keys": "care-exchange-server",
    "conformance": "care-exchange-conformance",
    "login": "care-exchange-client",
    "publish": "care-exchange-client",
}
EXIT_USAGE = 2
Declared = tuple[str, str, str]


def _load(name: str, target: str) -> Any:
    """The click command for a declared subcommand, imported now that it is needed."""
    module, _, attribute = target.partition(":")
    found = getattr(importlib.import_module(module), attribute)
    if isinstance(found, typer.Typer):
        command: Any = typer.main.get_group(found)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    _plain_help(command)
    return command


def _plain_help(command: Any) -> None:
    """Help and usage errors written by click, as the whole command writes them (see `build`)."""
    command.rich_markup_mode = None
    for inner in getattr(command, "commands", {}).values():
        _plain_help(inner)


class _Lazy(TyperGroup):
    """A group whose declared subcommands are imported only when one of them is run.

    For help listings a subcommand is shown by its declared line, without importing it.
    """

    declared: ClassVar[dict[str, Declared]] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.declared})

    def get_command(self, ctx: Context, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in self.declared:
            return super().get_command(ctx, cmd_name)
        _, _, line = self.declared[cmd_name]
        return typer.core.TyperCommand(cmd_name, help=line, short_help=line)

    def resolve_command(self, ctx: Context, args: list[str]) -> Any:
        name = args[0] if args else None
        if name in self.declared and name not in self.commands:
            _, target, _ = self.declared[name]
            self.add_command(_load(name, target), name)
        return super().resolve_command(ctx, args)


def _show_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

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


def declared_commands() -> list[Declared]:
    """The standard's subcommands and those every installed part declares."""
    from importlib.metadata import entry_points

    found = list(COMMANDS)
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        declared: Iterable[Sequence[str]] = entry_point.load()
        found += [(name, target, line) for name, target, line in declared]
    return found


def build(wanted: str | None = None) -> typer.Typer:
    """The command with the standard's subcommands and every installed part's.

    When `wanted`, the subcommand asked for, is one of the standard's own, the other parts'
    are not looked up: reading every installed distribution's entry points costs a
    validation run about 40 ms.

    Help is click's plain text, not typer's Rich panels: drawing those imports Rich's
    Markdown and traceback modules, which took `care-exchange --help` past 0.3 s.
    """
    own = wanted is not None and any(name == wanted for name, _, _ in COMMANDS)
    declared = list(COMMANDS) if own else declared_commands()
    group = type("CareExchange", (_Lazy,), {"declared": {d[0]: d for d in declared}})
    app = typer.Typer(
        name="care-exchange",
        help="Care Exchange: publish once, share with those entitled, hear what it changed.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        cls=group,
    )
    # A callback keeps the command a group even when the standard's is its only subcommand.
    app.callback()(_options)
    return app


def _subcommand(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def missing_part(argv: list[str], app: typer.Typer) -> str | None:
    """The install hint when `argv` asks for a subcommand whose part is not installed."""
    name = _subcommand(argv)
    if name is None or name not in PROVIDED_BY:
        return None
    cls = app.info.cls
    if isinstance(cls, type) and issubclass(cls, _Lazy) and name in cls.declared:
        return None
    return (
        f"care-exchange {name}: this command comes with the {PROVIDED_BY[name]} part, "
        f"which is not installed here. Install it with: pip install {PROVIDED_BY[name]}"
    )


def main() -> None:
    """Console-script entry point.

    However the command ends, what it made is frozen out of the cycle collector first: the
    interpreter's exit would otherwise walk every object (50-90 ms a run here) only to free
    memory the process is about to give back. Exit handlers and finalizers still run.
    """
    try:
        app = build(_subcommand(sys.argv[1:]))
        hint = missing_part(sys.argv[1:], app)
        if hint is not None:
            typer.echo(hint, err=True)
            raise SystemExit(EXIT_USAGE)
        app()
    finally:
        gc.freeze()
