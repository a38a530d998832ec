"""OAuth endpoints, the JWKS and RFC 8414 metadata.

OAuth errors use RFC 6749's `{error, error_description}` shape, not problem+json, because OAuth
client libraries expect it. Authlib is synchronous: the form is awaited here, then the work runs
in a threadpool so the event loop never waits on the database or on scrypt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from authlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from care_exchange_server.auth.keys import public_jwks
from care_exchange_server.auth.metadata import authorization_server_metadata
from care_exchange_server.auth.server import (
    FormRequest,
    introspection_response,
    parse_form,
    revocation_response,
    token_response,
)
from care_exchange_server.deps import get_settings, get_write_session
from care_exchange_server.settings import Settings

router = APIRouter(tags=["oauth"])

SessionDep = Annotated[Session, Depends(get_write_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Handler = Callable[[Session, Settings, FormRequest | OAuth2Error], Response]


async def _handle(
    request: Request, session: Session, settings: Settings, handler: Handler
) -> Response:
    form = await request.form()
    parsed = parse_form(request.method, str(request.url), request.headers, form.multi_items())
    response: Response = await run_in_threadpool(handler, session, settings, parsed)
    return response


@router.post("/oauth/token")
async def token(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _handle(request, session, settings, token_response)


@router.post("/oauth/revoke")
async def revoke(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _handle(request, session, settings, revocation_response)


@router.post("/oauth/introspect")
async def introspect(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _handle(request, session, settings, introspection_response)


@router.get("/jwks.json")
def jwks(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    document = public_jwks(session, settings)
    session.commit()  # the first key may have been created just now
    return JSONResponse(document, media_type="application/jwk-set+json")


@router.get("/.well-known/oauth-authorization-server")
def oauth_metadata(settings: SettingsDep) -> dict[str, Any]:
    return authorization_server_metadata(settings)
