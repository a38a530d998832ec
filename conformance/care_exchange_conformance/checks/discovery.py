"""Discovery: what a client reads before anything else, without credentials."""

from __future__ import annotations

from typing import Any

import yaml

from care_exchange_conformance.context import CAPABILITIES_PATH, METADATA_PATH, Context
from care_exchange_conformance.registry import check, spec_clause
from care_exchange_standard import load_standard
from care_exchange_standard.spec import load_spec

PRIVATE_KEY_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})


@check(
    "CX-DISC-001",
    "The capability document is served and valid",
    clause=spec_clause("paths", CAPABILITIES_PATH, "get"),
)
def capability_document(context: Context) -> None:
    context.capabilities()


@check(
    "CX-DISC-002",
    "The capability document names only record types and scopes of the standard",
    clause="spec/openapi.yaml#/components/schemas/CapabilityDocument",
)
def capability_contents(context: Context) -> None:
    document = context.capabilities()
    known = set(load_standard().record_types)
    declared = document["recordTypes"]
    unknown = sorted(set(declared) - known)
    context.expect(
        not unknown,
        f"The capability document declares record types the standard does not have: {unknown}.",
        f"record types among {sorted(known)}",
    )
    scopes = set(document["scopes"])
    missing = sorted(
        f"{name}:{action}"
        for name in declared
        for action in ("read", "publish")
        if f"{name}:{action}" not in scopes
    )
    context.expect(
        not missing,
        f"Declared record types lack their read or publish scopes: {missing}.",
        "a `<type>:read` and a `<type>:publish` scope for each declared record type",
    )


@check(
    "CX-DISC-003",
    "The OAuth authorisation server metadata is served (RFC 8414)",
    clause=spec_clause("paths", METADATA_PATH, "get"),
)
def oauth_metadata(context: Context) -> None:
    answer = context.get(METADATA_PATH)
    context.expect_status(answer, 200, "the RFC 8414 metadata could not be read")
    metadata = context.expect_schema(answer, "AuthorizationServerMetadata")
    issuer = context.capabilities()["auth"]["issuer"]
    context.expect(
        metadata["issuer"] == issuer,
        f"The metadata's issuer {metadata['issuer']!r} is not the capability document's "
        f"{issuer!r}.",
        "the same issuer in both documents (RFC 8414 section 3.3)",
        answer,
    )
    context.expect(
        metadata["token_endpoint"] == context.capabilities()["auth"]["tokenEndpoint"],
        "The metadata's token_endpoint differs from the capability document's tokenEndpoint.",
        "one token endpoint",
        answer,
    )


@check(
    "CX-DISC-004",
    "The token-signing keys are published, public parts only",
    clause=spec_clause("paths", "/jwks.json", "get"),
)
def jwks(context: Context) -> None:
    metadata = context.json(context.get(METADATA_PATH))
    answer = context.get(metadata["jwks_uri"])
    context.expect_status(answer, 200, "the JWKS could not be read")
    document = context.json(answer)
    keys: list[Any] = document.get("keys", []) if isinstance(document, dict) else []
    leaked = sorted(
        {member for key in keys if isinstance(key, dict) for member in key} & PRIVATE_KEY_MEMBERS
    )
    context.expect(
        not leaked,
        f"The JWKS publishes private key members {leaked}: anyone can now sign tokens.",
        "public key members only (RFC 7517 section 9.2)",
        answer,
    )
    context.expect_schema(answer, "Jwks")
    context.expect(bool(keys), "The JWKS holds no key.", "at least one signing key", answer)


@check(
    "CX-DISC-005",
    "The OpenAPI document is served and declares every operation of the standard",
    clause="spec/openapi.yaml#/paths/~1openapi.yaml/get",
)
def openapi_document(context: Context) -> None:
    answer = context.get("/openapi.yaml")
    context.expect_status(answer, 200, "the OpenAPI document could not be read")
    try:
        served = yaml.safe_load(answer.text)
    except yaml.YAMLError as error:
        context.fail(f"The document is not YAML: {error}.", "an OpenAPI 3.1 document", answer)
    context.expect(
        isinstance(served, dict) and str(served.get("openapi", "")).startswith("3.1"),
        "The document is not OpenAPI 3.1.",
        "`openapi: 3.1.x`",
        answer,
    )
    paths = served.get("paths") or {}
    missing = sorted(
        f"{operation.method} {operation.path}"
        for operation in load_spec().operations()
        if operation.method.lower() not in (paths.get(operation.path) or {})
    )
    context.expect(
        not missing,
        f"The served document lacks operations of the standard: {', '.join(missing[:5])}"
        + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        + ".",
        "every operation of spec/openapi.yaml (an implementation may add its own)",
        answer,
    )
