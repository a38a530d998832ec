"""Exception handlers: every failure leaves as problem+json, never as a bare 500 page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as database
from starlette.exceptions import HTTPException

from care_exchange_server.contract import load_contract
from care_exchange_server.problems import PROBLEM_MEDIA_TYPE, FieldError, ProblemError

log = logging.getLogger("care_exchange.api")

RETRY_AFTER_SECONDS = 1
# The statuses the framework answers with itself, as problems of the catalogue.
_FRAMEWORK_CODES = {404: "not_found", 405: "method_not_allowed"}


def problem_response(problem: ProblemError, request_id: str) -> JSONResponse:
    """The problem as an `application/problem+json` response."""
    return JSONResponse(
        problem.printable_body(request_id),
        status_code=problem.status,
        headers=dict(problem.headers),
        media_type=PROBLEM_MEDIA_TYPE,
    )


def request_id(request: Request) -> str:
    """The id the request middleware gives every request before anything else runs."""
    found: str = request.state.request_id
    return found


def _field_error(item: Mapping[str, Any]) -> FieldError:
    location = tuple(item["loc"])
    message, keyword = str(item["msg"]), str(item.get("type", "invalid"))
    if location and location[0] in ("query", "header", "path") and len(location) > 1:
        return FieldError.of_parameter(str(location[1]), message, keyword)
    return FieldError("".join(f"/{part}" for part in location[1:]), message, keyword)


def install_error_handlers(app: FastAPI) -> None:
    """Map FastAPI's, Starlette's and our own exceptions to problem details."""

    @app.exception_handler(ProblemError)
    async def problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(error, request_id(request))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [_field_error(item) for item in error.errors()]
        in_body = any(item["loc"] and item["loc"][0] == "body" for item in error.errors())
        code = "validation_failed" if in_body else "invalid_query"
        detail = "The request has parameters or fields that are not valid."
        return problem_response(ProblemError(code, detail, errors), request_id(request))

    @app.exception_handler(HTTPException)
    async def http(request: Request, error: HTTPException) -> Response:
        code = _FRAMEWORK_CODES.get(error.status_code, "bad_request")
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names only the first route's method; the spec knows them all.
            headers["Allow"] = ", ".join(load_contract().methods_at(request.url.path))
        refused = ProblemError(code, str(error.detail), headers=headers)
        return problem_response(refused, request_id(request))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"request_id": request_id(request)})
        failed = ProblemError(
            "internal_error", "The server failed; the request id identifies the log entry."
        )
        return problem_response(failed, request_id(request))

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        """A database that dropped the connection, is restarting or is locked will be back.

        The client is told to retry (a POST with its Idempotency-Key, which makes that safe even
        when the connection was lost while committing); any other database error is a bug.
        """
        if not _transient(error):
            return await unexpected(request, error)
        cause = getattr(error, "orig", None) or error  # not the statement: it may hold data
        log.warning(
            "database unavailable: %s: %s",
            type(cause).__name__,
            str(cause).strip(),
            extra={"request_id": request_id(request)},
        )
        retry_later = ProblemError(
            "service_unavailable",
            "The database is unavailable for a moment; retry after the time in Retry-After.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        return problem_response(retry_later, request_id(request))

    for transient in (database.DBAPIError, database.DisconnectionError, database.TimeoutError):
        app.add_exception_handler(transient, unavailable)


def _transient(error: Exception) -> bool:
    """Lost or refused connections, lock and busy timeouts, deadlocks, a full pool."""
    if isinstance(
        error, database.OperationalError | database.DisconnectionError | database.TimeoutError
    ):
        return True
    return isinstance(error, database.DBAPIError) and error.connection_invalidated
