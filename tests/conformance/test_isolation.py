"""The isolation checks pass against the reference server and catch leaks on each path."""

from __future__ import annotations

from dataclasses import replace

import pytest

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from care_exchange_server.demo import PROVIDER, SECOND_PROVIDER
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import leak_on

ISOLATION = select(all_checks(), only=["CX-ISO-*"])


def test_the_reference_server_passes_every_isolation_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, ISOLATION, seed=9)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in ISOLATION
    ]
    assert len(ISOLATION) == 8


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (leak_on(r"/v1/records/[^/]+/[^/]+"), ["CX-ISO-001"]),
        (leak_on(r"/v1/records/[^/]+"), ["CX-ISO-003"]),
        (leak_on(r"/v1/feed/[^/]+"), ["CX-ISO-004"]),
        (leak_on(r"/v1/records/[^/]+/[^/]+", ("PUT", "DELETE"), PROVIDER), ["CX-ISO-005"]),
        (
            leak_on(r"/v1/records/[^/]+", ("POST",), PROVIDER, SECOND_PROVIDER),
            ["CX-ISO-006"],
        ),
        (
            leak_on(r"/v1/records/[^/]+/[^/]+", ("PUT", "DELETE"), PROVIDER, SECOND_PROVIDER),
            ["CX-ISO-007"],
        ),
        (leak_on(r"/v1/records/[^/]+/[^/]+", ("GET",), PROVIDER, SECOND_PROVIDER), ["CX-ISO-008"]),
    ],
    ids=[
        "cross-tenant-read",
        "leak-in-lists-only",
        "leak-in-the-feed-only",
        "foreign-write",
        "publish-for-another-providers-service",
        "another-provider-writes",
        "another-provider-reads",
    ],
)
def test_a_leak_on_one_path_fails_exactly_its_check(
    serve_reference: Serve, variant: Variant, expected: list[str]
) -> None:
    with serve_reference(variant) as config:
        report = run(config, ISOLATION, seed=9)
    assert [r.check.id for r in report.results if r.status is not Status.PASSED] == expected


def test_the_second_publishers_checks_do_not_apply_without_one(serve_reference: Serve) -> None:
    second = [found for found in ISOLATION if found.id >= "CX-ISO-006"]
    with serve_reference() as config:
        report = run(replace(config, second_publisher=None), second, seed=9)
    assert [(r.check.id, r.status) for r in report.results] == [
        (found.id, Status.NOT_APPLICABLE) for found in second
    ]
    assert all("second_publisher" in (r.note or "") for r in report.results)
