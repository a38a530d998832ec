"""Every generated page on disk is what its generator renders now.

A schema, codelist, the spec, the problem catalogue or a setting changed without the pages
being regenerated fails here, naming the command that fixes it.
"""

from __future__ import annotations

from pathlib import Path

from care_exchange_server import reference_pages
from care_exchange_server.problems import CATALOGUE
from care_exchange_standard import operations_docs, reference_docs
from care_exchange_standard.standard import load_standard

DOCS = Path(__file__).resolve().parents[2] / "docs"
FIX = "generated pages are stale; run: ./scripts/docs --generate"


def _stale(directory: Path, pages: dict[str, str], owned: list[Path]) -> list[str]:
    """Pages that differ from the rendering, and pages on disk no generator renders any more."""
    differ = [
        name
        for name, text in pages.items()
        if not (directory / name).exists() or (directory / name).read_text("utf-8") != text
    ]
    extra = [str(path.relative_to(directory)) for path in owned]
    return differ + sorted(name for name in extra if name not in pages)


def test_field_and_codelist_reference_is_current() -> None:
    directory = DOCS / "reference"
    pages = reference_docs.render_all(load_standard())
    assert _stale(directory, pages, list(directory.glob("*.md"))) == [], FIX


def test_api_operations_reference_is_current() -> None:
    assert _stale(DOCS / "api", operations_docs.render_all(), []) == [], FIX


def test_error_catalogue_and_settings_reference_are_current() -> None:
    pages = reference_pages.render_all()
    assert _stale(DOCS, pages, list((DOCS / "errors").glob("*.md"))) == [], FIX


def test_regenerating_into_an_empty_folder_writes_exactly_the_committed_pages(
    tmp_path: Path,
) -> None:
    """The writers (not only the renderers) produce what is committed, in the same places."""
    reference_docs.write_all(tmp_path / "reference")
    operations_docs.write_all(tmp_path / "api")
    reference_pages.write_all(tmp_path)
    written = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.md"))
    for relative in written:
        assert (DOCS / relative).read_text("utf-8") == (tmp_path / relative).read_text("utf-8"), (
            f"{relative}: {FIX}"
        )


def test_every_problem_code_has_a_page_where_its_type_uri_sends_readers() -> None:
    for code in CATALOGUE:
        assert (DOCS / "errors" / f"{code}.md").is_file(), f"errors/{code}.md: {FIX}"
