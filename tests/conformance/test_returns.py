"""The return-template checks pass against the reference server, leave no template in use, and
catch a server whose returns are wrong, whose templates are lost or cannot be retired."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from care_exchange_server.demo import COMMISSIONER, OTHER
from care_exchange_server.storage.models import ReturnTemplate
from tests.conformance.conftest import Serve, Variant
from tests.conformance.variants import hide_items, leak_on, middleware, rewrite_json

RETURNS = select(all_checks(), only=["CX-RET-*"])


def test_the_reference_server_passes_every_return_check(
    serve_reference: Serve, database_url: str
) -> None:
    """And the run retires every template it declared: none is left in use."""
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
        "CX-RET-005",
    ]
    assert report.not_cleaned_up == []
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.select(ReturnTemplate.id, ReturnTemplate.retired_at)
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 4  # CX-RET-001, -002, -003 and -005 each declared one
    assert [template_id for template_id, retired_at in rows if retired_at is None] == []


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


class RetirementIgnored:
    """A broken variant: retiring a template answers 204 and does nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "DELETE"
            and scope["path"].startswith("/v1/return-templates/")
        ):
            await Response(status_code=204)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (hide_items("/v1/return-templates"), ["CX-RET-002"]),
        (rewrite_json(r"/v1/return-templates/[^/]+/returns", _uses_test_data), ["CX-RET-003"]),
        (middleware(RetirementIgnored), ["CX-RET-005"]),
        (
            leak_on(
                r"/v1/return-templates/[^/]+", ("DELETE",), treated_as=COMMISSIONER, caller=OTHER
            ),
            ["CX-RET-005"],
        ),
    ],
    ids=[
        "templates-never-listed",
        "returns-from-test-data",
        "retirement-ignored",
        "outsider-retires",
    ],
)
def test_a_broken_return_path_fails_exactly_its_check(
    serve_reference: Serve, variant: Variant, expected: list[str]
) -> None:
    with serve_reference(variant) as config:
        report = run(config, RETURNS, seed=13)
    assert [r.check.id for r in report.results if r.status is not Status.PASSED] == expected
