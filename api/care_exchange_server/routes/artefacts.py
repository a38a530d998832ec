"""The server's OpenAPI document, self-contained, and the standard's files at their `$id` paths."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from care_exchange_server.deps import get_settings
from care_exchange_server.problems import ProblemError
from care_exchange_server.services.artefacts import Artefact, openapi_documents, standard_files
from care_exchange_server.settings import Settings

router = APIRouter(tags=["discovery"])
# The files change only with a release of the server; an hour keeps a cache fresh across a day
# of requests while a new release is seen soon, and the entity tag makes a recheck cheap.
CACHE_CONTROL = "public, max-age=3600"


def artefact_response(artefact: Artefact, request: Request, cache_control: str) -> Response:
    """The file, or `304` when the client already holds this version of it."""
    headers = {"ETag": artefact.etag, "Cache-Control": cache_control}
    if artefact.matches(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(artefact.body, media_type=artefact.media_type, headers=headers)


@router.get("/openapi.yaml")
def openapi_yaml(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> Response:
    return artefact_response(openapi_documents(settings.issuer).yaml, request, CACHE_CONTROL)


@router.get("/openapi.json")
def openapi_json(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> Response:
    return artefact_response(openapi_documents(settings.issuer).json, request, CACHE_CONTROL)


@router.get("/schemas/v1/{folder}/{file}")
def standard_file(
    request: Request,
    folder: str,
    file: str,
) -> Response:
    artefact = standard_files().get((folder, file))
    if artefact is None:
        raise ProblemError("not_found", f"The standard has no file {folder}/{file}.")
    return artefact_response(artefact, request, CACHE_CONTROL)
