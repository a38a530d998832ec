"""FastAPI dependencies: who is calling (from the bearer token) and whether a scope allows it.

Failures are RFC 6750 challenges inside problem+json bodies, so clients get both the standard
`WWW-Authenticate` header and the API's usual error shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from care_exchange_server.auth.principal import Principal
from care_exchange_server.auth.tokens import InvalidTokenError, verify_access_token
from care_exchange_server.deps import get_read_sessions, get_settings
from care_exchange_server.problems import ProblemError
from care_exchange_server.scopes import require_scope
from care_exchange_server.settings import Settings

REALM = "care-exchange"


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def bearer_token(request: Request) -> str:
    """The bearer token, unchecked; a bare 401 challenge when none was sent.

    RFC 6750 section 3.1: no error code when no credentials were sent.
    """
    token = _bearer_token(request)
    if token is None:
        raise ProblemError(
            "invalid_token",
            "This operation needs an access token (Authorization: Bearer).",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
        )
    return token


def authenticate(request: Request, session: Session, settings: Settings, token: str) -> Principal:
    """The caller the token speaks for, or 401 `invalid_token` saying why not.

    Blocking (it may read the database): call it in the threadpool. The client id goes into the
    request state for the access log.
    """
    try:
        principal = verify_access_token(session, settings, token)
    except InvalidTokenError as error:
        raise refusal(error) from error
    identified(request, principal)
    return principal


def refusal(error: InvalidTokenError) -> ProblemError:
    """The 401 for a token that must not be accepted, with its RFC 6750 challenge."""
    challenge = (
        f'Bearer realm="{REALM}", error="invalid_token", '
        f'error_description="{_quoted(error.description)}"'
    )
    return ProblemError("invalid_token", error.description, headers={"WWW-Authenticate": challenge})


def identified(request: Request, principal: Principal) -> None:
    """Name the client in the request state, for the access log; count it against its limit.

    Every authenticated request passes here once its token is verified and before its work (in
    the threadpool, so a shared rate-limit store may be waited on).
    """
    request.scope.setdefault("state", {})["client_id"] = principal.client_id
    request.app.state.rate_limits.check_api(principal.client_id)


async def current_principal(
    request: Request,
    token: Annotated[str, Depends(bearer_token)],
    sessions: Annotated[sessionmaker[Session], Depends(get_read_sessions)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Principal:
    """The caller, checked in its own short session so a request never holds two connections.

    Routes on the hot read path take `bearer_token` instead and authenticate inside their own
    session (`routes.common.as_reader`), saving a threadpool hop and a connection checkout.
    """

    def verify() -> Principal:
        with sessions() as session:
            return authenticate(request, session, settings, token)

    return await run_in_threadpool(verify)


def scoped(scope: str) -> Callable[[Principal], Principal]:
    """A dependency: the caller, who must hold `scope` (`Depends(scoped("admin"))`)."""

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        require_scope(principal, scope)
        return principal

    return dependency
