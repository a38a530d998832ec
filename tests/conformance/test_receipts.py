"""The access-receipt checks pass against the reference server and catch lost or shown receipts,
and a summary that does not count the records that went into returns."""

from __future__ import annotations

from typing import Any

import pytest

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from care_exchange_server.demo import COMMISSIONER, PROVIDER
from tests.conformance.conftest import Serve, Variant, publish_real_snapshot
from tests.conformance.variants import hide_items, leak_on, rewrite_json

RECEIPTS = select(all_checks(), only=["CX-RCPT-*"])


def test_the_reference_server_passes_every_receipt_check(serve_reference: Serve) -> None:
    """With a snapshot published for real (the suite publishes only test data, which no return
    uses), so that CX-RCPT-004 has a record to count."""
    with serve_reference() as config:
        publish_real_snapshot(config)
        report = run(config, RECEIPTS, seed=11)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in RECEIPTS
    ]
    assert [found.id for found in RECEIPTS] == [
        "CX-RCPT-001",
        "CX-RCPT-002",
        "CX-RCPT-003",
        "CX-RCPT-004",
    ]


def test_records_in_returns_is_not_applicable_without_real_data(serve_reference: Serve) -> None:
    """Nothing to count without a record published for real."""
    with serve_reference() as config:
        report = run(config, select(all_checks(), only=["CX-RCPT-004"]), seed=11)
    assert [(r.status, "not test data" in (r.note or "")) for r in report.results] == [
        (Status.NOT_APPLICABLE, True)
    ]


def test_records_in_returns_is_not_applicable_without_the_member(serve_reference: Serve) -> None:
    """Nothing to check in a summary without `recordsInReturns` (a 1.0 server's)."""
    only = select(all_checks(), only=["CX-RCPT-004"])
    with serve_reference(rewrite_json(SUMMARY, _without_records_in_returns)) as config:
        publish_real_snapshot(config)
        report = run(config, only, seed=11)
    assert [(r.status, "recordsInReturns" in (r.note or "")) for r in report.results] == [
        (Status.NOT_APPLICABLE, True)
    ]


SUMMARY = "/v1/access-receipts/summary"


def _without_records_in_returns(body: Any) -> None:
    for line in body.get("subscribers", []):
        line.pop("recordsInReturns", None)


def _returns_not_counted(body: Any) -> None:
    for line in body.get("subscribers", []):
        line["recordsInReturns"] = 0


def _every_fill_counted(body: Any) -> None:
    """A summary counting receipts rather than distinct records: two fills count twice."""
    for line in body.get("subscribers", []):
        line["recordsInReturns"] = 2 * line.get("recordsInReturns", 0)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (hide_items("/v1/access-receipts"), ["CX-RCPT-001"]),
        (leak_on(r"/v1/access-receipts(/summary)?", treated_as=PROVIDER), ["CX-RCPT-003"]),
        (
            leak_on(r"/v1/access-receipts(/summary)?", treated_as=PROVIDER, caller=COMMISSIONER),
            ["CX-RCPT-003"],
        ),
        (rewrite_json(SUMMARY, _returns_not_counted), ["CX-RCPT-004"]),
        (rewrite_json(SUMMARY, _every_fill_counted), ["CX-RCPT-004"]),
    ],
    ids=[
        "receipts-not-recorded",
        "outsider-sees-receipts",
        "subscriber-sees-receipts",
        "returns-not-counted",
        "every-fill-counted",
    ],
)
def test_a_broken_receipt_path_fails_exactly_its_check(
    serve_reference: Serve, variant: Variant, expected: list[str]
) -> None:
    with serve_reference(variant) as config:
        publish_real_snapshot(config)
        report = run(config, RECEIPTS, seed=11)
    assert [r.check.id for r in report.results if r.status is not Status.PASSED] == expected
