"""Helpers every JSON route uses: strict body parsing and idempotent POSTs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from care_exchange_server.auth.dependencies import authenticate
from care_exchange_server.auth.principal import Principal
from care_exchange_server.contract import read_json as read_json
from care_exchange_server.deps import get_settings
from care_exchange_server.errors import problem_response, request_id
from care_exchange_server.problems import FieldError, ProblemError
from care_exchange_server.services import idempotency
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import rolled_back, transaction

IDEMPOTENCY_HEADER = "Idempotency-Key"
Model = TypeVar("Model", bound=BaseModel)


def parse_model(model: type[Model], data: Any) -> Model:
    """A pydantic model from a decoded body, with every error as a JSON pointer."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = [
            FieldError(
                pointer="".join(f"/{part}" for part in item["loc"]),
                message=str(item["msg"]),
                keyword=str(item["type"]),
            )
            for item in error.errors()
        ]
        raise ProblemError("validation_failed", "The request body is not valid.", errors) from None


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    media = "application/json" if body is not None else None
    return Response(content, status_code=status, headers=headers, media_type=media)


Handler = Callable[[Session], tuple[int, Any, dict[str, str]]]


def _request_hash(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


async def run_post(
    request: Request,
    principal: Principal,
    handler: Handler,
    for_replay: Callable[[Any], Any] | None = None,
) -> Response:
    """Run a POST's work in one transaction, honouring Idempotency-Key when one is sent.

    Errors the client caused (4xx) are stored and replayed like successes; an unexpected failure
    releases the key so that the same request can be retried. `for_replay` removes what must
    never be stored, such as a client secret that is shown once. The database work runs in the
    threadpool: it blocks, and the event loop must keep serving other requests meanwhile.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)  # its form is checked by contract.py
    post = _Post(
        sessions=request.app.state.sessions,
        organisation=principal.organisation_id,
        key=key,
        request_hash="" if key is None else _request_hash(request, await request.body()),
        request_id=request_id(request),
        handler=handler,
        for_replay=for_replay,
    )
    return await run_in_threadpool(post.run)


async def dry_run_post(request: Request, handler: Handler) -> Response:
    """A POST's work, checked in full and then undone; no idempotency key is claimed or kept."""

    def undone() -> Response:
        with rolled_back(request.app.state.sessions) as session:
            status, body, headers = handler(session)
        return json_response(status, body, headers)

    return await run_in_threadpool(undone)


@dataclass(frozen=True)
class _Post:
    """One POST's work and what idempotency needs to know about it."""

    sessions: sessionmaker[Session]
    organisation: str
    key: str | None
    request_hash: str
    request_id: str
    handler: Handler
    for_replay: Callable[[Any], Any] | None

    def run(self) -> Response:
        """The work, under the key's claim when a key was sent (see services.idempotency).

        A 4xx rolls the work back, so it is stored in a second transaction, under the claim
        only if it is still this request's: otherwise the request that took the claim over
        stores its own answer.
        """
        if self.key is None:
            with transaction(self.sessions) as session:
                status, body, headers = self.handler(session)
            return json_response(status, body, headers)
        claim = idempotency.claim(self.sessions, self.organisation, self.key, self.request_hash)
        if isinstance(claim, idempotency.StoredResponse):
            headers = {**claim.headers, "Idempotent-Replayed": "true"}
            return Response(claim.body, status_code=claim.status, headers=headers, media_type=None)
        try:
            with transaction(self.sessions) as session:
                if not idempotency.hold(session, claim):
                    return problem_response(idempotency.in_progress(), self.request_id)
                status, body, headers = self.handler(session)
                response = json_response(status, body, headers)
                kept = body if self.for_replay is None else self.for_replay(body)
                replay = _stored(json_response(status, kept, headers))
                idempotency.store(session, claim, replay)
            return response
        except ProblemError as problem:
            response = problem_response(problem, self.request_id)
            with transaction(self.sessions) as session:
                if idempotency.hold(session, claim):
                    idempotency.store(session, claim, _stored(response))
            return response
        except BaseException:
            idempotency.release(self.sessions, claim)
            raise


async def in_transaction(request: Request, work: Callable[[Session], Response]) -> Response:
    """Run blocking database work in the threadpool, in one transaction, committed on success."""
    sessions: sessionmaker[Session] = request.app.state.sessions

    def run() -> Response:
        with transaction(sessions) as session:
            return work(session)

    return await run_in_threadpool(run)


async def in_read_session(request: Request, work: Callable[[Session], Response]) -> Response:
    """Run read-only database work in the threadpool: one hop, one connection.

    The fused form of the hot read paths (`as_reader`, the record read), which authenticate
    inside the same session; other reads take the `get_session` dependency.
    """
    sessions: sessionmaker[Session] = request.app.state.read_sessions

    def run() -> Response:
        with sessions() as session:
            return work(session)

    return await run_in_threadpool(run)


async def as_reader(
    request: Request, token: str, work: Callable[[Session, Principal], Response]
) -> Response:
    """Authenticate and read in one threadpool hop and one connection: the hot read path."""
    settings: Settings = request.app.state.settings
    return await in_read_session(
        request, lambda session: work(session, authenticate(request, session, settings, token))
    )


def _stored(response: Response) -> idempotency.StoredResponse:
    headers = {
        name: value
        for name, value in response.headers.items()
        if name.lower() not in ("content-length", "x-request-id")
    }
    return idempotency.StoredResponse(response.status_code, bytes(response.body).decode(), headers)


@dataclass(frozen=True)
class Paging:
    """A list operation's `page_size` and `page_token` query parameters."""

    page_size: int | None = None
    token: str | None = None

    def size(self, settings: Settings) -> int:
        return page_size_of(settings, self.page_size)


def paging(
    page_size: Annotated[int | None, Query()] = None,
    page_token: Annotated[str | None, Query()] = None,
) -> Paging:
    return Paging(page_size, page_token)


Paged = Annotated[Paging, Depends(paging)]
Config = Annotated[Settings, Depends(get_settings)]


def page_size_of(settings: Settings, page_size: int | None) -> int:
    """The page size asked for, or the default; 400 outside 1 to the maximum."""
    if page_size is None:
        return settings.page_size_default
    if not 1 <= page_size <= settings.page_size_max:
        raise ProblemError(
            "invalid_query",
            f"page_size must be between 1 and {settings.page_size_max}.",
            [
                FieldError.of_parameter(
                    "page_size", f"must be 1 to {settings.page_size_max}.", "maximum"
                )
            ],
        )
    return page_size


def next_link(request: Request, last: int | None, page_size: int | None) -> str:
    """The absolute URL of the feed page after change `last`: RPDE's `next`, not a page token.

    With nothing after it (`last` None) the next page is the one just read: a client polls it.
    """
    if last is None:
        return str(request.url)
    query: dict[str, int] = {"after": last}
    if page_size is not None:
        query["page_size"] = page_size
    return str(
        request.url.remove_query_params(["after", "page_size"]).include_query_params(**query)
    )
