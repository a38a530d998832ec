"""OAuth endpoints, the JWKS and RFC 8414 metadata.

OAuth errors use RFC 6749's `{error, error_description}` shape, not problem+json, because OAuth
client libraries expect it. Authlib is synchronous: the form is awaited here, then the work runs
in a threadpool so the event loop never waits on the database or on scrypt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from authlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from care_exchange_server.auth.keys import public_jwks
from care_exchange_server.auth.metadata import authorization_server_metadata
from care_exchange_server.auth.server import (
    FormRequest,
    introspection_response,
    parse_form,
    revocation_response,
    token_response,
)
from care_exchange_server.bodies import AuthorizationServerMetadataBody
from care_exchange_server.deps import get_settings
from care_exchange_server.rate_limits import RateLimits, claimed_client_id
from care_exchange_server.routes.common import in_transaction
from care_exchange_server.settings import Settings

router = APIRouter(tags=["oauth"])

SettingsDep = Annotated[Settings, Depends(get_settings)]
Handler = Callable[[Session, Settings, FormRequest | OAuth2Error], Response]


async def _handle(request: Request, settings: Settings, handler: Handler) -> Response:
    """One transaction per OAuth request, committed whenever a response is sent.

    An RFC 6749 error is a response too, so a client assertion's jti stays spent even when the
    request it came with is refused. Rate limits apply before any of it: every endpoint here
    hashes the client's secret, which is the work they bound.
    """
    form = await request.form()
    limits: RateLimits = request.app.state.rate_limits
    claimed = claimed_client_id(request.headers.get("authorization"), form.multi_items())
    address = request.client.host if request.client else None
    await limits.check_token_off_loop(claimed, address)
    parsed = parse_form(request.method, str(request.url), request.headers, form.multi_items())
    return await in_transaction(request, lambda session: handler(session, settings, parsed))


@router.post("/oauth/token")
async def token(request: Request, settings: SettingsDep) -> Response:
    return await _handle(request, settings, token_response)


@router.post("/oauth/revoke")
async def revoke(request: Request, settings: SettingsDep) -> Response:
    return await _handle(request, settings, revocation_response)


@router.post("/oauth/introspect")
async def introspect(request: Request, settings: SettingsDep) -> Response:
    return await _handle(request, settings, introspection_response)


@router.get("/jwks.json")
async def jwks(request: Request, settings: SettingsDep) -> Response:
    """A write as well as a read: the first signing key is created on first use."""

    def work(session: Session) -> Response:
        document = public_jwks(session, settings)
        return JSONResponse(document, media_type="application/jwk-set+json")

    return await in_transaction(request, work)


@router.get("/.well-known/oauth-authorization-server")
def oauth_metadata(settings: SettingsDep) -> AuthorizationServerMetadataBody:
    return authorization_server_metadata(settings)
