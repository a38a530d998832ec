"""The one `care-exchange` command lists every part's subcommands without importing them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from care_exchange_standard.command import EXIT_USAGE, _load, build, declared_commands
from tests.conftest import EXAMPLES

# Rich among them: typer draws help with it when asked to, importing its Markdown and traceback
# modules (about 0.15 s, which took `care-exchange --help` past its 0.3 s).
HEAVY = (
    "jsonschema",
    "referencing",
    "care_exchange_server.cli",
    "fastapi",
    "sqlalchemy",
    "httpx",
    "rich",
)
PROBE = """
import sys
from care_exchange_standard.command import main
sys.argv = ["care-exchange", "--help"]
try:
    main()
except SystemExit:
    pass
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
"""


def test_help_lists_every_subcommand_and_imports_nothing_heavy() -> None:
    roots = {name.split(".")[0] for name in HEAVY} | {"care_exchange_server"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=sorted(roots))],
        capture_output=True,
        text=True,
        check=True,
    )
    *shown, imported = done.stdout.strip().splitlines()
    loaded = set(imported.split(",")) - {""}
    assert not [name for name in HEAVY if name in loaded], loaded
    listed = "\n".join(shown)
    for name, _, line in declared_commands():
        assert name in listed and line.split()[0] in listed


@pytest.mark.parametrize("declared", declared_commands(), ids=lambda declared: declared[0])
def test_every_declared_subcommand_loads_and_has_help(declared: tuple[str, str, str]) -> None:
    name, _, _ = declared
    done = CliRunner().invoke(build(), [name, "--help"])
    assert done.exit_code == 0, done.output
    assert f"care-exchange {name}" in done.output


def _paths(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    yield path
    for name, inner in getattr(command, "commands", {}).items():
        yield from _paths(inner, (*path, name))


@pytest.mark.parametrize("declared", declared_commands(), ids=lambda declared: declared[0])
def test_every_help_and_usage_error_is_plain_text(declared: tuple[str, str, str]) -> None:
    """As the whole command's: click's text, no Rich panels, down to the nested subcommands."""
    name, target, _ = declared
    for path in _paths(_load(name, target), (name,)):
        done = CliRunner().invoke(build(), [*path, "--help"])
        assert done.exit_code == 0, done.output
        assert done.output.startswith(f"Usage: care-exchange {' '.join(path)}")
        assert "╭" not in done.output
    wrong = CliRunner().invoke(build(), [name, "--no-such-option"])
    assert wrong.exit_code == EXIT_USAGE
    assert "No such option: --no-such-option" in wrong.output and "╭" not in wrong.output


def test_the_version_is_printed() -> None:
    done = CliRunner().invoke(build(), ["--version"])
    installed = metadata.version("care-exchange-standard")
    assert done.exit_code == 0 and done.output == f"care-exchange {installed}\n"


VALIDATE_PROBE = """
import sys
from care_exchange_standard.command import main
sys.argv = ["care-exchange", "validate", {path!r}]
try:
    main()
except SystemExit:
    pass
print("jsonschema" in sys.modules)
"""


def test_validating_a_file_does_not_import_jsonschema(tmp_path: Path) -> None:
    """Its format grammars take over a second to build: a record's check must not wait for them."""
    example = EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json"
    done = subprocess.run(
        [sys.executable, "-c", VALIDATE_PROBE.format(path=str(example))],
        capture_output=True,
        text=True,
        check=True,
    )
    *report, imported = done.stdout.strip().splitlines()
    assert "all valid" in "\n".join(report)
    assert imported == "False"


def test_the_standards_own_subcommand_is_run_without_looking_up_the_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(**_: object) -> None:
        raise AssertionError("the installed parts were looked up")

    monkeypatch.setattr(metadata, "entry_points", refuse)
    example = EXAMPLES / "valid/capacity-snapshot/nursing-home-open.json"
    done = CliRunner().invoke(build("validate"), ["validate", str(example)])
    assert done.exit_code == 0, done.output
    with pytest.raises(AssertionError, match="looked up"):
        build("publish")


FREEZE_PROBE = """
import atexit, gc, sys
from care_exchange_standard.command import main
atexit.register(lambda: print("exit handlers ran"))
sys.argv = ["care-exchange", *{argv!r}]
try:
    main()
except SystemExit:
    pass
print(gc.get_freeze_count(), len(gc.get_objects()))
"""


@pytest.mark.parametrize("argv", [["--version"], ["validate", "-"], ["no-such-command"]])
def test_the_command_leaves_the_interpreters_exit_no_objects_to_walk(argv: list[str]) -> None:
    """Whether it succeeds, fails or is misused: frozen, and exit handlers still run."""
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE.format(argv=argv)],
        input="{}",
        capture_output=True,
        text=True,
        check=True,
    )
    *_, counts, ran = done.stdout.strip().splitlines()
    frozen, walked = map(int, counts.split())
    assert frozen > 10_000 and walked < 100, counts
    assert ran == "exit handlers ran"
