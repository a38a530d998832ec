"""The errors checks pass against the reference server and catch what they are for."""

from __future__ import annotations

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from tests.conformance.conftest import Serve
from tests.conformance.variants import PlainJsonErrors, middleware

ERRORS = select(all_checks(), only=["CX-ERR-*"])


def test_the_reference_server_passes_every_errors_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, ERRORS, seed=5)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in ERRORS
    ]
    assert len(ERRORS) == 6


def test_errors_as_plain_json_fail_every_errors_check(serve_reference: Serve) -> None:
    with serve_reference(middleware(PlainJsonErrors)) as config:
        report = run(config, ERRORS, seed=5)
    assert [r.status for r in report.results] == [Status.FAILED] * len(ERRORS)
    assert all("not a problem document" in r.failures[0].message for r in report.results)
