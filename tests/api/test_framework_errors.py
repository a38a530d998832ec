"""Errors the framework raises itself (no route, wrong method, parameters it parses, a bug) leave
as problem details too.

Routes raise `ProblemError`, whose handler is tested everywhere; these failures never reach a
route's own code, so only the exception handlers of api/errors.py turn them into
application/problem+json. The app gets test routes for what no route of its own reaches today: a
body that FastAPI parses, a header parameter, an unexpected exception. None of this depends on
the database, so it runs on a copy of the SQLite world only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any

import httpx2
import pytest
from fastapi import Header, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel

from care_exchange_server.app import create_app, dispose
from care_exchange_server.settings import Settings
from tests.api import templates
from tests.api.conftest import ISSUER
from tests.api.templates import Template

PROBLEMS = "https://care-exchange.org/problems"


class Payload(BaseModel):
    places: int


def fail() -> None:
    raise RuntimeError("a bug in a route")


def take_body(payload: Payload) -> dict[str, int]:
    return {"places": payload.places}


def take_parameters(
    number: int, places: Annotated[int, Query()], x_places: Annotated[int, Header()]
) -> dict[str, int]:
    return {"places": number + places + x_places}


@pytest.fixture(scope="module")
def client(
    sqlite_world_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An app over a copy of the world, with the test routes."""
    for url in templates.copy(sqlite_world_template, tmp_path_factory.mktemp("errors")):
        application = create_app(Settings(database_url=url, issuer=ISSUER))
        application.add_api_route("/v1/test-failure", fail, methods=["GET"])
        application.add_api_route("/v1/test-body", take_body, methods=["POST"])
        application.add_api_route("/v1/test-parameters/{number}", take_parameters, methods=["GET"])
        try:
            with TestClient(
                application, base_url=ISSUER, raise_server_exceptions=False
            ) as test_client:
                yield test_client
        finally:
            dispose(application)


def assert_problem(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["type"], body["status"], body["code"]) == (f"{PROBLEMS}/{code}", status, code)
    assert body["title"] and body["detail"] and body["requestId"]
    return body


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "allow"),
    [
        ("GET", "/v1/no-such-thing", 404, "not_found", None),
        ("GET", "/no-such-thing", 404, "not_found", None),
        ("GET", "/v1/records/capacity-snapshot/rec-1/versions/2", 404, "not_found", None),
        ("DELETE", "/.well-known/care-exchange", 405, "method_not_allowed", "GET"),
        ("POST", "/jwks.json", 405, "method_not_allowed", "GET"),
        ("PUT", "/v1/feed/capacity-snapshot", 405, "method_not_allowed", "GET"),
    ],
)
def test_no_route_and_a_wrong_method_are_problem_details(
    client: TestClient, method: str, path: str, status: int, code: str, allow: str | None
) -> None:
    response = client.request(method, path)
    assert_problem(response, status, code)
    assert response.headers.get("allow") == allow


def test_an_unexpected_failure_is_a_problem_without_its_details_but_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="care_exchange.api"):
        response = client.get("/v1/test-failure")
    body = assert_problem(response, 500, "internal_error")
    assert "a bug in a route" not in response.text and "RuntimeError" not in response.text
    assert body["detail"] == "The server failed; the request id identifies the log entry."
    (logged,) = [r for r in caplog.records if r.name == "care_exchange.api"]
    assert logged.getMessage() == "unhandled error" and logged.exc_info is not None
    assert getattr(logged, "request_id", None) == body["requestId"]


def test_a_body_the_framework_parses_is_a_422_pointing_at_the_field(client: TestClient) -> None:
    assert client.post("/v1/test-body", json={"places": 3}).json() == {"places": 3}
    response = client.post("/v1/test-body", json={"places": "many"})
    body = assert_problem(response, 422, "validation_failed")
    assert [(e["pointer"], e["keyword"]) for e in body["errors"]] == [("/places", "int_parsing")]


@pytest.mark.parametrize(
    ("number", "places", "x_places", "parameter"),
    [("x", "1", "1", "number"), ("1", "many", "1", "places"), ("1", "1", "x", "x-places")],
)
def test_parameters_the_framework_parses_are_a_400_naming_them(
    client: TestClient, number: str, places: str, x_places: str, parameter: str
) -> None:
    fine = client.get("/v1/test-parameters/1?places=1", headers={"x-places": "2"})
    assert fine.json() == {"places": 4}
    response = client.get(
        f"/v1/test-parameters/{number}?places={places}", headers={"x-places": x_places}
    )
    body = assert_problem(response, 400, "invalid_query")
    found = [(e["parameter"], e["keyword"]) for e in body["errors"]]
    assert found == [(parameter, "int_parsing")]
