"""Pages for people: the API reference (Swagger UI) and the page of each problem type.

Everything the reference page loads is served here, from files shipped in this package, and
its Content-Security-Policy lets the browser fetch nothing else: a hospital or council network
that blocks other sites still shows it, and nothing on it can send data anywhere but here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.routing import Route

from care_exchange_server.deps import get_settings
from care_exchange_server.problems import ProblemError
from care_exchange_server.routes.artefacts import artefact_response
from care_exchange_server.services.artefacts import Artefact
from care_exchange_server.services.problem_pages import problem_page
from care_exchange_server.settings import Settings

router = APIRouter(tags=["discovery"])
ASSETS_PATH = "/docs/assets/"
_ASSET_DIR = Path(__file__).resolve().parents[1] / "swagger_ui"
_MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "care-exchange-docs.js")
# Vendored files change only with a release of the server.
_ASSET_CACHE = "public, max-age=86400"
PAGE_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Care Exchange API reference</title>
<link rel="stylesheet" href="{ASSETS_PATH}swagger-ui.css">
</head>
<body>
<noscript>This page needs JavaScript. The API is described by
<a href="/openapi.yaml">/openapi.yaml</a> and <a href="/openapi.json">/openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}care-exchange-docs.js"></script>
</body>
</html>
"""


def docs_policy(issuer: str) -> str:
    """Scripts and styles from here only; requests tried from the page to here or the issuer.

    Swagger UI sets element styles and draws icons from `data:` images in its stylesheet, which
    the style and image sources allow; no script runs that this server did not serve.
    """
    parts = urlsplit(issuer)
    connect = "'self'" + (f" {parts.scheme}://{parts.netloc}" if parts.netloc else "")
    return (
        f"{PAGE_POLICY}; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; font-src 'self'; connect-src {connect}"
    )


@router.get("/docs", response_class=HTMLResponse)
def docs(settings: Annotated[Settings, Depends(get_settings)]) -> HTMLResponse:
    return HTMLResponse(
        _DOCS_PAGE, headers={"Content-Security-Policy": docs_policy(settings.issuer)}
    )


@router.get("/problems/{code}", response_class=HTMLResponse)
def problem_type(code: str) -> HTMLResponse:
    page = problem_page(code)
    if page is None:
        raise ProblemError("not_found", f"{code!r} is not a problem this server answers with.")
    return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_POLICY})


@cache
def _assets() -> dict[str, Artefact]:
    return {
        name: Artefact((_ASSET_DIR / name).read_bytes(), _MEDIA_TYPES[Path(name).suffix])
        for name in _ASSETS
    }


async def _asset(request: Request) -> Response:
    artefact = _assets().get(request.path_params["name"])
    if artefact is None:
        raise ProblemError("not_found", "No such file of the API reference page.")
    return artefact_response(artefact, request, _ASSET_CACHE)


# The page's own files, not an operation of the API: outside the spec, like the page's markup.
ASSET_ROUTE = Route(ASSETS_PATH + "{name}", _asset, methods=["GET"])
