"""The isolation checks pass against the reference server and catch leaks on each path."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select as sql_select
from starlette.types import ASGIApp, Receive, Scope, Send

from care_exchange_conformance.checks import all_checks
from care_exchange_conformance.registry import select
from care_exchange_conformance.runner import Status, run
from care_exchange_server.auth.tokens import issue_access_token
from care_exchange_server.demo import COMMISSIONER, OTHER, PROVIDER
from care_exchange_server.storage.db import transaction
from care_exchange_server.storage.models import Client
from care_exchange_testing.reference import SECOND_PROVIDER
from tests.conformance.conftest import Serve, Variant

ISOLATION = select(all_checks(), only=["CX-ISO-*"])


def test_the_reference_server_passes_every_isolation_check(serve_reference: Serve) -> None:
    with serve_reference() as config:
        report = run(config, ISOLATION, seed=9)
    assert [(r.check.id, r.status, r.failures, r.note) for r in report.results] == [
        (found.id, Status.PASSED, (), None) for found in ISOLATION
    ]
    assert len(ISOLATION) == 8


def _organisation(authorization: bytes) -> str | None:
    token = authorization.removeprefix(b"Bearer ").decode()
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    found: Any = payload.get("org")
    return found if isinstance(found, str) else None


def leak_on(
    paths: str,
    methods: tuple[str, ...] = ("GET",),
    treated_as: str = COMMISSIONER,
    caller: str = OTHER,
) -> Variant:
    """A broken variant: on matching requests `caller` (the outsider, or the second provider) is
    treated as another organisation (the subscriber with an agreement, or the provider), as a
    server that forgot to check the caller's organisation on that path would."""

    def apply(app: FastAPI) -> None:
        with transaction(app.state.sessions) as session:
            client = session.scalars(
                sql_select(Client).where(Client.organisation_id == treated_as)
            ).first()
            assert client is not None
            token = issue_access_token(session, app.state.settings, client)
        pattern = re.compile(paths)

        class Leak:
            def __init__(self, inner: ASGIApp) -> None:
                self.inner = inner

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if (
                    scope["type"] == "http"
                    and scope["method"] in methods
                    and pattern.fullmatch(scope["path"])
                ):
                    headers = dict(scope["headers"])
                    if _organisation(headers.get(b"authorization", b"")) == caller:
                        headers[b"authorization"] = f"Bearer {token}".encode()
                        scope = {**scope, "headers": list(headers.items())}
                await self.inner(scope, receive, send)

        app.add_middleware(Leak)

    return apply


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
