"""A report never carries a secret: headers, form fields and JSON members are redacted."""

from __future__ import annotations

import json

import httpx

from care_exchange_conformance.evidence import BODY_LIMIT, REDACTED, Exchange


def _exchange(request: httpx.Request, response_body: bytes, content_type: str) -> Exchange:
    response = httpx.Response(
        200, content=response_body, headers={"content-type": content_type}, request=request
    )
    return Exchange.of(response)


def test_credentials_and_tokens_are_redacted_everywhere() -> None:
    request = httpx.Request(
        "POST",
        "https://api.example.org/oauth/token",
        headers={"Authorization": "Basic Y2xpZW50OnNlY3JldA=="},
        data={"grant_type": "client_credentials", "client_secret": "s3cret"},
    )
    token = json.dumps({"access_token": "eyJ.abc.def", "token_type": "Bearer"}).encode()
    shown = _exchange(request, token, "application/json")
    assert shown.request_headers["authorization"] == f"Basic {REDACTED}"
    assert shown.request_body == f"grant_type=client_credentials&client_secret={REDACTED}".replace(
        "<", "%3C"
    ).replace(">", "%3E")
    assert json.loads(shown.response_body or "") == {
        "access_token": REDACTED,
        "token_type": "Bearer",
    }
    assert "s3cret" not in json.dumps(shown.as_dict())
    assert "eyJ.abc.def" not in json.dumps(shown.as_dict())


def test_nested_secrets_are_redacted_and_long_bodies_cut() -> None:
    request = httpx.Request("GET", "https://api.example.org/v1/subscriptions")
    body = json.dumps({"items": [{"channel": {"secret": "whsec_x"}}], "pad": "x" * BODY_LIMIT})
    shown = _exchange(request, body.encode(), "application/json")
    assert shown.response_body is not None
    assert "whsec_x" not in shown.response_body
    assert shown.response_body.endswith("more characters)")
