"""The discovery checks pass against the reference server and catch what they are for."""

from __future__ import annotations

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from tests.conformance.conftest import Serve
from tests.conformance.variants import leak_private_key

DISCOVERY = select(all_checks(), only=["CX-DISC-*"])


def test_the_reference_server_passes_every_discovery_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, DISCOVERY, seed=1)
    assert [(r.check.id, r.status, r.failures) for r in report.results] == [
        (found.id, Status.PASSED, ()) for found in DISCOVERY
    ]
    assert report.conforms and len(DISCOVERY) == 5


def test_a_jwks_leaking_private_keys_fails_cx_disc_004(serve_reference: Serve) -> None:
    with serve_reference(leak_private_key) as config:
        report = run(config, DISCOVERY, seed=1)
    failed = {r.check.id: r for r in report.results if r.status is not Status.PASSED}
    assert list(failed) == ["CX-DISC-004"]
    (failure,) = failed["CX-DISC-004"].failures
    assert "private key members ['d']" in failure.message
    assert failure.exchange is not None and failure.exchange.status == 200
    assert not report.conforms
