"""The committed check catalogue is what the registry renders."""

from __future__ import annotations

from care_exchange_conformance.catalogue import render
from care_exchange_conformance.registry import REGISTRY
from care_exchange_standard.files import ROOT


def test_the_catalogue_page_is_current() -> None:
    page = (ROOT / "docs" / "conformance-checks.md").read_text(encoding="utf-8")
    assert page == render(), "run: .venv/bin/python -m care_exchange_conformance.catalogue"
    assert all(f"`{check_id}`" in page for check_id in REGISTRY)
