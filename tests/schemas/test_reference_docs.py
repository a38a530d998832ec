"""The committed reference pages are exactly what the generator renders from the schemas."""

from __future__ import annotations

from care_exchange_standard import Standard
from care_exchange_standard.reference_docs import DOCS_DIR, documented_fields, render_all


def test_committed_docs_are_current(standard: Standard) -> None:
    pages = render_all(standard)
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in DOCS_DIR.glob("*.md")}
    stale = sorted(name for name in pages if on_disk.get(name) != pages[name])
    extra = sorted(set(on_disk) - set(pages))
    assert (stale, extra) == ([], []), (
        "run: .venv/bin/python -m care_exchange_standard.reference_docs"
    )


def test_every_field_has_an_anchor_that_error_links_use(standard: Standard) -> None:
    pages = render_all(standard)
    for info in standard.types.values():
        page = pages[f"{info.name}.md"]
        for field in documented_fields(info):
            assert f'<a id="{field.name}"></a>' in page, f"{info.name}: {field.name}"


def test_every_codelist_a_type_uses_is_tabled_on_its_page(standard: Standard) -> None:
    pages = render_all(standard)
    for info in standard.types.values():
        for field in info.fields.values():
            if field.codelist:
                stem = field.codelist.removesuffix(".csv")
                assert f'<a id="codelist-{stem}"></a>' in pages[f"{info.name}.md"]
                first_code = standard.codelists[field.codelist].codes[0]
                assert f"| {first_code} |" in pages[f"{info.name}.md"]
