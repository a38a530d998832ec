"""The application factory: one FastAPI app per settings, its own engine and session factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from fastapi import APIRouter, Depends, FastAPI
from starlette.routing import BaseRoute

from care_exchange_server.contract import conform, load_contract
from care_exchange_server.errors import install_error_handlers
from care_exchange_server.middleware import install_middleware
from care_exchange_server.rate_limits import RateLimits
from care_exchange_server.routes import (
    admin,
    agreements,
    artefacts,
    directory,
    discovery,
    feed,
    feedback,
    oauth,
    receipts,
    records,
    reference,
    return_templates,
    subscriptions,
)
from care_exchange_server.services.receipt_book import ReceiptBook
from care_exchange_server.settings import Settings
from care_exchange_server.storage.db import make_engine, session_factory
from care_exchange_standard.returns import Limits, SandboxPool


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.receipt_book.close()
    app.state.return_pool.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the server.

    The spec's own document is served (bundled, `routes.artefacts`) and its own reference page
    (`routes.reference`), so FastAPI's generated document and pages are switched off rather
    than left to disagree with them.
    """
    settings = settings or Settings()
    app = FastAPI(
        title="Care Exchange reference server",
        lifespan=_lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    load_contract()
    engine = make_engine(settings.database_url)
    read_engine = make_engine(settings.database_url, reading=True)
    app.state.settings = settings
    app.state.engines = (engine, read_engine)
    app.state.sessions = session_factory(engine)
    app.state.read_sessions = session_factory(read_engine)
    app.state.receipt_book = ReceiptBook(app.state.sessions)
    app.state.rate_limits = RateLimits(settings)
    app.state.return_pool = SandboxPool(
        Limits(
            seconds_per_field=settings.return_seconds_per_field,
            memory_bytes=settings.return_memory_bytes,
        ),
        size=settings.return_workers,
    )
    install_middleware(app, settings)
    install_error_handlers(app)
    app.router.routes.extend(_operations())
    app.router.routes.append(reference.ASSET_ROUTE)
    return app


@cache
def _operations() -> list[BaseRoute]:
    """Every operation's route, each held to the spec (`conform`), built once per process.

    FastAPI builds an included router's routes on the first request an app serves; routes
    shared by every app built here are built once, not once an app (a test suite builds
    thousands, and each would pay about 40 ms).
    """
    operations = APIRouter(dependencies=[Depends(conform)])
    for module in (
        discovery,
        artefacts,
        reference,
        oauth,
        records,
        feed,
        feedback,
        receipts,
        subscriptions,
        directory,
        agreements,
        return_templates,
        admin,
    ):
        operations.include_router(module.router)
    return list(operations.routes)


def dispose(app: FastAPI) -> None:
    """Write the receipts still pending, then close the app's connection pools and workers."""
    app.state.receipt_book.close()
    app.state.return_pool.close()
    for engine in app.state.engines:
        engine.dispose()
