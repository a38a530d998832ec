"""The feedback checks pass against the reference server and catch feedback lost or leaked."""

from __future__ import annotations

from typing import Any

import pytest

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import hide_items, leak_on, rewrite_json

FEEDBACK = select(all_checks(), only=["CX-FDBK-*"])


def test_the_reference_server_passes_every_feedback_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, FEEDBACK, seed=12)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in FEEDBACK
    ]
    assert [found.id for found in FEEDBACK] == [
        "CX-FDBK-001",
        "CX-FDBK-002",
        "CX-FDBK-003",
        "CX-FDBK-004",
    ]


def _without_feedback(body: Any) -> None:
    body["features"]["feedback"] = False


def test_feedback_checks_do_not_apply_when_it_is_not_offered(serve_reference: Serve) -> None:
    with serve_reference(rewrite_json("/.well-known/care-exchange", _without_feedback)) as config:
        report = run(config, FEEDBACK, seed=12)
    assert [(r.check.id, r.status) for r in report.results] == [
        (found.id, Status.NOT_APPLICABLE) for found in FEEDBACK
    ]
    assert all("feedback" in (r.note or "") for r in report.results)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (leak_on(r"/v1/feedback"), ["CX-FDBK-004"]),
        (leak_on(r"/v1/feedback", ("POST",)), ["CX-FDBK-003"]),
        (hide_items("/v1/feedback"), ["CX-FDBK-002"]),
    ],
    ids=["outsider-sees-feedback", "outsider-sends-feedback", "provider-never-sees-feedback"],
)
def test_a_broken_feedback_path_fails_exactly_its_check(
    serve_reference: Serve, variant: Variant, expected: list[str]
) -> None:
    with serve_reference(variant) as config:
        report = run(config, FEEDBACK, seed=12)
    assert [r.check.id for r in report.results if r.status is not Status.PASSED] == expected
