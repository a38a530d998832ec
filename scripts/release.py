"""Release Care Exchange: every part carries one version, and a release is a dated, tagged one.

The standard, the server, the suite and the SDK are released together (lockstep): a
`care-exchange-client 1.1.0` reads standard 1.1.0, and one tag names all of them. `check`
proves the places that state the version agree and that the changelog dates it; `prepare`
moves `[Unreleased]` to a new version everywhere; `tag` tags a clean, checked tree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECTS = (
    "pyproject.toml",
    "schemas/pyproject.toml",
    "api/pyproject.toml",
    "conformance/pyproject.toml",
    "clients/python/pyproject.toml",
)
STANDARD_VERSION = "schemas/VERSION"
SPEC = "spec/openapi.yaml"
CHANGELOG = "CHANGELOG.md"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
PIN = re.compile(r'"(care-exchange-[a-z]+)==([^"]+)"')
SPEC_VERSION = re.compile(r"^(info:\n(?:  .*\n)*?  version: )(\S+)$", re.MULTILINE)
PROJECT_VERSION = re.compile(r'^(\[project\]\n(?:.*\n)*?version = ")([^"]+)(")$', re.MULTILINE)
RELEASED = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", re.MULTILINE)
UNRELEASED = "## [Unreleased]"


@dataclass(frozen=True)
class Stated:
    """One place that states the version, as a person fixing it would look for it."""

    place: str
    version: str


def stated_versions(root: Path) -> list[Stated]:
    found = [Stated(STANDARD_VERSION, (root / STANDARD_VERSION).read_text().strip())]
    spec = SPEC_VERSION.search((root / SPEC).read_text())
    found.append(Stated(f"{SPEC} info.version", spec.group(2) if spec else "(missing)"))
    for name in PYPROJECTS:
        text = (root / name).read_text()
        project = tomllib.loads(text)["project"]
        found.append(Stated(f"{name} version", str(project["version"])))
        for dependency in project.get("dependencies", []):
            pinned = PIN.search(f'"{dependency}"')
            if pinned:
                found.append(Stated(f"{name} pin of {pinned.group(1)}", pinned.group(2)))
    return found


def released(root: Path) -> dict[str, str]:
    """Each version the changelog dates, with its date."""
    return dict(RELEASED.findall((root / CHANGELOG).read_text()))


def check(root: Path) -> list[str]:
    """What disagrees, one line each; empty when the tree states one dated version."""
    stated = stated_versions(root)
    version = stated[0].version
    problems = [
        f"{item.place} says {item.version}, {STANDARD_VERSION} says {version}"
        for item in stated
        if item.version != version
    ]
    if not SEMVER.match(version):
        problems.append(f"{STANDARD_VERSION} holds {version!r}, not MAJOR.MINOR.PATCH")
    dates = released(root)
    if version not in dates:
        problems.append(f"{CHANGELOG} has no dated section '## [{version}] - YYYY-MM-DD'")
    else:
        try:
            dt.date.fromisoformat(dates[version])
        except ValueError:
            problems.append(f"{CHANGELOG} dates {version} {dates[version]}, not a calendar date")
    if UNRELEASED not in (root / CHANGELOG).read_text():
        problems.append(f"{CHANGELOG} has no '{UNRELEASED}' section for the next changes")
    return problems


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def prepare(root: Path, version: str, today: dt.date) -> None:
    """State `version` everywhere and date the changes so far as its changelog section."""
    if not SEMVER.match(version):
        raise ValueError(f"{version!r} is not MAJOR.MINOR.PATCH")
    newest = max(released(root), key=_semver, default=None)
    if newest is not None and _semver(version) <= _semver(newest):
        raise ValueError(f"{version} is not later than the last release, {newest}")
    changelog = (root / CHANGELOG).read_text()
    head, marker, rest = changelog.partition(UNRELEASED + "\n")
    if not marker:
        raise ValueError(f"{CHANGELOG} has no '{UNRELEASED}' section")
    if not rest.split("\n## ", 1)[0].strip():
        raise ValueError(f"{CHANGELOG} lists nothing under {UNRELEASED}: nothing to release")
    dated = f"{head}{UNRELEASED}\n\n## [{version}] - {today.isoformat()}\n{rest}"
    (root / CHANGELOG).write_text(dated)
    (root / STANDARD_VERSION).write_text(version + "\n")
    spec = root / SPEC
    spec.write_text(SPEC_VERSION.sub(lambda m: m.group(1) + version, spec.read_text(), count=1))
    for name in PYPROJECTS:
        path = root / name
        text = PROJECT_VERSION.sub(lambda m: m.group(1) + version + m.group(3), path.read_text())
        path.write_text(PIN.sub(lambda m: f'"{m.group(1)}=={version}"', text))


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


def tag(root: Path) -> str:
    """Tag HEAD `v<version>` when the tree is clean and checked.

    The tag's message is the version's changelog section, so `git show v1.0.0` says what the
    release holds.
    """
    problems = check(root)
    if problems:
        raise ValueError("versions disagree:\n  " + "\n  ".join(problems))
    if _git(root, "status", "--porcelain").strip():
        raise ValueError("the working tree has uncommitted changes; commit or stash them first")
    version = stated_versions(root)[0].version
    name = f"v{version}"
    if _git(root, "tag", "--list", name).strip():
        raise ValueError(f"{name} exists already; prepare a later version first")
    section = (root / CHANGELOG).read_text().split(f"## [{version}]", 1)[1]
    notes = section.split("\n## [", 1)[0].split("\n", 1)[1].strip()
    _git(root, "tag", "--annotate", name, "--message", f"Care Exchange {version}\n\n{notes}")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/release", description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="the versions agree and the changelog dates this one")
    ready = commands.add_parser("prepare", help="state VERSION everywhere and date the changelog")
    ready.add_argument("version")
    commands.add_parser("tag", help="tag HEAD v<version> once it is committed and checked")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            problems = check(args.root)
            for problem in problems:
                print(f"release: {problem}", file=sys.stderr)
            if problems:
                return 1
            print(f"release: every part states {stated_versions(args.root)[0].version}")
        elif args.command == "prepare":
            prepare(args.root, args.version, dt.date.today())
            print(f"release: {args.version} stated everywhere; review, commit, then tag")
        else:
            print(f"release: tagged {tag(args.root)}")
    except ValueError as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
