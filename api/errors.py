"""Exception handlers: every failure leaves as problem+json, never as a bare 500 page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from api.problems import FieldError, ProblemError

log = logging.getLogger("care_exchange.api")

_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def request_id(request: Request) -> str | None:
    found: str | None = getattr(request.state, "request_id", None)
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
        return error.response(request_id(request))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [_field_error(item) for item in error.errors()]
        in_body = any(item["loc"] and item["loc"][0] == "body" for item in error.errors())
        code, status = ("validation_failed", 422) if in_body else ("invalid_query", 400)
        detail = "The request has parameters or fields that are not valid."
        return ProblemError(status, code, detail, errors).response(request_id(request))

    @app.exception_handler(HTTPException)
    async def http(request: Request, error: HTTPException) -> Response:
        code = _STATUS_CODES.get(error.status_code, "not_found")
        return ProblemError(
            error.status_code, code, str(error.detail), headers=dict(error.headers or {})
        ).response(request_id(request))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"request_id": request_id(request)})
        return ProblemError(
            500, "internal_error", "The server failed; the request id identifies the log entry."
        ).response(request_id(request))
