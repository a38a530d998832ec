"""Discovery: what this server is, what it supports, and where its documents are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from care_exchange_server.bodies import (
    AuthCapabilityBody,
    CapabilityDocumentBody,
    FeaturesBody,
    HealthBody,
    IdempotencyCapabilityBody,
    LimitsBody,
    RootDocumentBody,
    RootLinksBody,
    SubscriptionsCapabilityBody,
)
from care_exchange_server.deps import get_settings
from care_exchange_server.routes.common import json_response
from care_exchange_server.scopes import all_scopes
from care_exchange_server.services.health import readiness
from care_exchange_server.settings import Settings
from care_exchange_server.storage.enums import AuthMethod, SubscriptionChannel, SubscriptionContent
from care_exchange_standard import STANDARD_VERSION, load_standard

router = APIRouter(tags=["discovery"])


@router.get("/")
def root() -> RootDocumentBody:
    return RootDocumentBody(
        name="Care Exchange reference server",
        standardVersion=STANDARD_VERSION,
        links=RootLinksBody(
            capabilities="/.well-known/care-exchange",
            oauthMetadata="/.well-known/oauth-authorization-server",
            jwks="/jwks.json",
            openapi="/openapi.yaml",
            openapiJson="/openapi.json",
            docs="/docs",
        ),
    )


@router.get("/healthz")
def health() -> HealthBody:
    return HealthBody(status="ok")


@router.get("/readyz")
async def ready(request: Request) -> Response:
    found = await run_in_threadpool(readiness, request.app.state.engines[0])
    return json_response(200 if found["status"] == "ready" else 503, found)


@router.get("/.well-known/care-exchange")
def capabilities(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> CapabilityDocumentBody:
    return CapabilityDocumentBody(
        standardVersion=STANDARD_VERSION,
        apiVersion="v1",
        recordTypes=load_standard().record_types,
        scopes=all_scopes(),
        idempotency=IdempotencyCapabilityBody(
            header="Idempotency-Key", retentionHours=settings.idempotency_retention_hours
        ),
        limits=LimitsBody(
            maxBodyBytes=settings.max_body_bytes,
            pageSizeDefault=settings.page_size_default,
            pageSizeMax=settings.page_size_max,
            bulkMaxItems=settings.bulk_max_items,
        ),
        rateLimits=request.app.state.rate_limits.body(),
        auth=AuthCapabilityBody(
            issuer=settings.issuer,
            tokenEndpoint=settings.token_endpoint,
            tokenEndpointAuthMethods=[method.value for method in AuthMethod],
            accessTokenLifetimeSeconds=settings.access_token_lifetime_seconds,
        ),
        subscriptions=SubscriptionsCapabilityBody(
            channels=[channel.value for channel in SubscriptionChannel],
            contents=[content.value for content in SubscriptionContent],
            retryDelaysSeconds=settings.webhook_retry_delays_seconds,
            heartbeatSeconds=settings.webhook_heartbeat_seconds,
            timeoutSeconds=settings.webhook_timeout_seconds,
            secretOverlapHours=settings.webhook_secret_overlap_hours,
            eventRetentionDays=settings.event_retention_days,
            signatureSchemes=["v1"],
            webhookUrlSchemes=["https", "http"] if settings.webhook_allowed_hosts else ["https"],
        ),
        features=FeaturesBody(subscriptions=True, feed=True, feedback=True, returnTemplates=True),
    )
