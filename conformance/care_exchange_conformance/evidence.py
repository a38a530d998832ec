"""What a failed check shows: the request it sent and the response it got, with secrets removed.

A report is handed to a commissioner or attached to a ticket, so it must never carry a client
secret, an assertion or a token: they are replaced wherever they appear (headers, form fields,
JSON members), and bodies are cut to a readable length.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

REDACTED = "<redacted>"
BODY_LIMIT = 4000
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
SECRET_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "client_assertion",
        "clientSecret",
        "secret",
        "token",
    }
)


@dataclass(frozen=True)
class Exchange:
    """One request and its response, as a report shows them."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int
    response_headers: dict[str, str]
    response_body: str | None

    @classmethod
    def of(cls, response: httpx.Response) -> Exchange:
        request = response.request
        return cls(
            method=request.method,
            url=str(request.url),
            request_headers=_headers(request.headers),
            request_body=_body(request.content, request.headers.get("content-type", "")),
            status=response.status_code,
            response_headers=_headers(response.headers),
            response_body=_body(response.content, response.headers.get("content-type", "")),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _headers(headers: httpx.Headers) -> dict[str, str]:
    shown: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} {REDACTED}".strip()
        shown[name] = value
    return shown


def _body(content: bytes, content_type: str) -> str | None:
    if not content:
        return None
    text = content.decode("utf-8", errors="replace")
    if "json" in content_type:
        with suppress(ValueError):
            text = json.dumps(redact(json.loads(text)), ensure_ascii=False)
    elif "x-www-form-urlencoded" in content_type:
        pairs = parse_qsl(text, keep_blank_values=True)
        text = urlencode([(k, REDACTED if k in SECRET_FIELDS else v) for k, v in pairs])
    if len(text) > BODY_LIMIT:
        text = f"{text[:BODY_LIMIT]}... ({len(text) - BODY_LIMIT} more characters)"
    return text


def redact(value: Any) -> Any:
    """A JSON value with every member named like a secret replaced."""
    if isinstance(value, Mapping):
        return {
            name: REDACTED if name in SECRET_FIELDS and item else redact(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
