"""The return-template checks pass against the reference server and catch a server whose
returns are wrong or whose templates are lost."""

from __future__ import annotations

from typing import Any

import pytest

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import hide_items, rewrite_json

RETURNS = select(all_checks(), only=["CX-RET-*"])


def test_the_reference_server_passes_every_return_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, RETURNS, seed=13)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in RETURNS
    ]
    assert [found.id for found in RETURNS] == [
        "CX-RET-001",
        "CX-RET-002",
        "CX-RET-003",
        "CX-RET-004",
    ]


def _without_returns(body: Any) -> None:
    body["features"]["returnTemplates"] = False


def test_return_checks_do_not_apply_when_returns_are_not_offered(serve_reference: Serve) -> None:
    with serve_reference(rewrite_json("/.well-known/care-exchange", _without_returns)) as config:
        report = run(config, RETURNS, seed=13)
    assert [(r.check.id, r.status) for r in report.results] == [
        (found.id, Status.NOT_APPLICABLE) for found in RETURNS
    ]


def _uses_test_data(body: Any) -> None:
    """A server that fills returns from test data: the day's snapshot is counted."""
    for item in body.get("fields", []):
        if item["code"] == "SNAPSHOTS":
            item["value"] = 1


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (hide_items("/v1/return-templates"), ["CX-RET-002"]),
        (rewrite_json(r"/v1/return-templates/[^/]+/returns", _uses_test_data), ["CX-RET-003"]),
    ],
    ids=["templates-never-listed", "returns-from-test-data"],
)
def test_a_broken_return_path_fails_exactly_its_check(
    serve_reference: Serve, variant: Variant, expected: list[str]
) -> None:
    with serve_reference(variant) as config:
        report = run(config, RETURNS, seed=13)
    assert [r.check.id for r in report.results if r.status is not Status.PASSED] == expected
