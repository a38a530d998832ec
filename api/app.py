"""The application factory: one FastAPI app per settings, its own engine and session factory."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.middleware import install_middleware
from api.routes import admin, agreements, directory, discovery, oauth, records
from api.settings import Settings
from api.storage.db import make_engine, read_session_factory, session_factory


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the server.

    The normative OpenAPI document is served as written, so FastAPI's own generated document is
    switched off rather than left to disagree with it.
    """
    settings = settings or Settings()
    app = FastAPI(
        title="Care Exchange reference server",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.read_sessions = read_session_factory(engine)
    install_middleware(app, settings)
    install_error_handlers(app)
    for module in (discovery, oauth, records, directory, agreements, admin):
        app.include_router(module.router)
    return app
