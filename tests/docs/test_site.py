"""The documentation site builds strictly, with no broken internal link or anchor.

`mkdocs build --strict` refuses a link to a missing page; the link checker (on for this build)
also opens every internal link and anchor in the built HTML. External sites are not fetched
(CI has no network), but links into the site's own published address,
`https://care-exchange.org/docs/`, and the addresses the code hands out (the validator's field
links, the problems' pages) are checked against the built pages here.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from care_exchange_server.problems import CATALOGUE
from care_exchange_standard.reference_docs import documented_fields
from care_exchange_standard.standard import load_standard
from care_exchange_standard.validation import docs_link

ROOT = Path(__file__).resolve().parents[2]
SITE_URL = "https://care-exchange.org/docs/"
_OWN_LINK = re.compile(r'href="https://care-exchange\.org/docs/([^"#]*)(?:#([^"]*))?"')

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "CARE_EXCHANGE_DOCS_CHECK_LINKS": "true",
        "NO_MKDOCS_2_WARNING": "1",
        "CARE_EXCHANGE_DOCS_BASE": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, "mkdocs build --strict failed:\n" + done.stdout + done.stderr
    return out


def _page(site: Path, path: str) -> Path | None:
    """The built file a published address serves (a folder's index.html, as web servers do)."""
    for candidate in (site / path / "index.html", site / path):
        if candidate.is_file():
            return candidate
    return None


def _resolves(site: Path, url: str) -> bool:
    assert url.startswith(SITE_URL), url
    path, _, anchor = url.removeprefix(SITE_URL).partition("#")
    page = _page(site, path)
    if page is None:
        return False
    return not anchor or f'id="{anchor}"' in page.read_text("utf-8")


def _own_links(site: Path) -> Iterator[tuple[Path, str]]:
    for page in site.rglob("*.html"):
        for match in _OWN_LINK.finditer(page.read_text("utf-8")):
            anchor = f"#{match.group(2)}" if match.group(2) else ""
            yield page, f"{SITE_URL}{match.group(1)}{anchor}"


def test_links_to_the_sites_own_address_lead_to_its_pages(site: Path) -> None:
    broken = [f"{page.relative_to(site)}: {url}" for page, url in _own_links(site)]
    broken = [entry for entry in broken if not _resolves(site, entry.partition(": ")[2])]
    assert broken == []


_SOURCES = ("spec", "schemas/care_exchange_standard", "api", "conformance", "clients/python")
_ADDRESS = re.compile(r"https://care-exchange\.org/docs/[A-Za-z0-9_./#-]*")


def test_addresses_of_the_site_in_the_spec_and_the_code_lead_to_its_pages(site: Path) -> None:
    """The spec's examples and the code's messages point readers at pages that exist.

    A templated address (`.../reference/<type>#<field>`) is checked up to its first `<`.
    """
    found = {
        (str(path.relative_to(ROOT)), address.rstrip("."))
        for folder in _SOURCES
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".yaml"} and path.is_file()
        for address in _ADDRESS.findall(path.read_text("utf-8"))
    }
    assert found
    assert sorted(entry for entry in found if not _resolves(site, entry[1])) == []


def test_the_validators_field_links_lead_to_the_fields_entries(site: Path) -> None:
    standard = load_standard()
    links = [
        docs_link(info.name, field)
        for info in standard.types.values()
        for field in [None, *documented_fields(info)]
    ]
    assert [link for link in links if not _resolves(site, link)] == []


def test_the_commissioners_guide_shows_the_tested_snippets_whole(site: Path) -> None:
    """The page shows the very files the snippet tests run, not a copy that could drift."""
    page = (site / "guides" / "commissioner" / "index.html").read_text("utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for snippet in ("verify_webhook.py", "verify_webhook.mjs"):
        source = (ROOT / "docs" / "snippets" / snippet).read_text("utf-8")
        lines = [line.strip() for line in source.splitlines() if line.strip()]
        assert [line for line in lines if line not in text] == [], snippet


def test_every_problem_type_has_its_page_under_errors(site: Path) -> None:
    missing = [code for code in CATALOGUE if not _resolves(site, f"{SITE_URL}errors/{code}/")]
    assert missing == []
