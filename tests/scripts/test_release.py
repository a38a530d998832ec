"""The release script: one version stated everywhere, a dated changelog, a tag on a clean tree."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import release  # noqa: E402

FILES = (*release.PYPROJECTS, release.STANDARD_VERSION, release.SPEC, release.CHANGELOG)
TODAY = dt.date(2026, 11, 29)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the files that state the version, prepared as version 7.0.0 of today."""
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    changelog = tmp_path / release.CHANGELOG
    changelog.write_text(
        changelog.read_text().replace(
            release.UNRELEASED, release.UNRELEASED + "\n\n### Added\n- Something new.", 1
        )
    )
    release.prepare(tmp_path, "7.0.0", TODAY)
    return tmp_path


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_repository_states_one_dated_version() -> None:
    assert release.check(ROOT) == []


def test_prepare_states_the_version_everywhere_and_dates_the_unreleased_changes(
    tree: Path,
) -> None:
    assert release.check(tree) == []
    stated = release.stated_versions(tree)
    assert {item.version for item in stated} == {"7.0.0"}
    assert len(stated) >= 2 * len(release.PYPROJECTS)
    changelog = (tree / release.CHANGELOG).read_text()
    assert "## [Unreleased]\n\n## [7.0.0] - 2026-11-29\n" in changelog
    assert changelog.index("- Something new.") > changelog.index("## [7.0.0]")


@pytest.mark.parametrize("name", [*release.PYPROJECTS, release.SPEC])
def test_check_names_the_file_that_disagrees(tree: Path, name: str) -> None:
    path = tree / name
    path.write_text(path.read_text().replace("7.0.0", "7.0.1"))
    problems = release.check(tree)
    assert problems
    assert all(name in problem for problem in problems)


def test_check_wants_a_dated_section_and_an_unreleased_one(tree: Path) -> None:
    changelog = tree / release.CHANGELOG
    changelog.write_text(
        changelog.read_text().replace("## [7.0.0] - 2026-11-29", "## [7.0.0] - 2026-13-01")
    )
    assert any("not a calendar date" in problem for problem in release.check(tree))
    changelog.write_text(changelog.read_text().replace("## [7.0.0] - 2026-13-01", "## [7.0.0]"))
    assert any("no dated section" in problem for problem in release.check(tree))
    changelog.write_text(changelog.read_text().replace(release.UNRELEASED, "## Next"))
    assert any("[Unreleased]" in problem for problem in release.check(tree))


def test_prepare_refuses_an_earlier_version_or_an_empty_release(tree: Path) -> None:
    with pytest.raises(ValueError, match="not later"):
        release.prepare(tree, "6.9.9", TODAY)
    with pytest.raises(ValueError, match="nothing to release"):
        release.prepare(tree, "7.1.0", TODAY)
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        release.prepare(tree, "7.1", TODAY)


def test_tag_names_the_version_and_carries_its_notes_only_on_a_clean_tree(tree: Path) -> None:
    _git(tree, "init", "--quiet")
    _git(tree, "add", ".")
    _git(tree, "commit", "--quiet", "-m", "7.0.0")
    (tree / "stray.txt").write_text("uncommitted")
    with pytest.raises(ValueError, match="uncommitted"):
        release.tag(tree)
    (tree / "stray.txt").unlink()
    assert release.tag(tree) == "v7.0.0"
    message = _git(tree, "tag", "--list", "v7.0.0", "--format=%(contents)")
    assert message.startswith("Care Exchange 7.0.0")
    assert "- Something new." in message
    with pytest.raises(ValueError, match="exists already"):
        release.tag(tree)


def test_the_command_exits_non_zero_naming_each_problem(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert release.main(["--root", str(tree), "check"]) == 0
    (tree / release.STANDARD_VERSION).write_text("7.0.1\n")
    assert release.main(["--root", str(tree), "check"]) == 1
    assert "schemas/VERSION says 7.0.1" in capsys.readouterr().err
