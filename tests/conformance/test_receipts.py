"""The access-receipt checks pass against the reference server and catch lost or shown receipts."""

from __future__ import annotations

import pytest

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from care_exchange_server.demo import COMMISSIONER, PROVIDER
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import hide_items, leak_on

RECEIPTS = select(all_checks(), only=["CX-RCPT-*"])


def test_the_reference_server_passes_every_receipt_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, RECEIPTS, seed=11)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in RECEIPTS
    ]
    assert [found.id for found in RECEIPTS] == ["CX-RCPT-001", "CX-RCPT-002", "CX-RCPT-003"]


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (hide_items("/v1/access-receipts"), ["CX-RCPT-001"]),
        (leak_on(r"/v1/access-receipts(/summary)?", treated_as=PROVIDER), ["CX-RCPT-003"]),
        (
            leak_on(r"/v1/access-receipts(/summary)?", treated_as=PROVIDER, caller=COMMISSIONER),
            ["CX-RCPT-003"],
        ),
    ],
    ids=["receipts-not-recorded", "outsider-sees-receipts", "subscriber-sees-receipts"],
)
def test_a_broken_receipt_path_fails_exactly_its_check(
    serve_reference: Serve, variant: Variant, expected: list[str]
) -> None:
    with serve_reference(variant) as config:
        report = run(config, RECEIPTS, seed=11)
    assert [r.check.id for r in report.results if r.status is not Status.PASSED] == expected
