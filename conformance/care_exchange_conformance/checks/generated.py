"""Generated requests: schemathesis against `spec/openapi.yaml`, with the suite's tokens.

Valid requests to every read, invalid ones (bad parameters, bad bodies) to every operation the
suite's clients may call, a few of each per operation (`generated_examples`, 5 by default),
drawn by Hypothesis from the run's seed so a run repeats. They are sent once, at the first of
these checks, and each check reports its own kind of finding: the first request that showed it,
with its response, and how many more did. What is sent and what is not (the `admin` operations,
features declared absent, changes that might be valid) is told in `generation`.

Levels. A 5xx, a body that breaks its documented schema and a media type other than the
documented one are wrong whatever the request was: level 1. An undocumented status (a `429`
from a rate limiter, a `414` or `431` from a proxy in front of the implementation meeting a long
generated value) and an invalid request that is not refused are level 2: generated values reach
corners where a sound implementation can still disagree with the letter of the spec (a
trailing newline against a pattern's `$`, say). The errors checks (`CX-ERR-*`) require the
refusals that matter at level 1, on requests chosen by hand.
"""

from __future__ import annotations

from care_exchange_conformance.context import Context
from care_exchange_conformance.evidence import REDACTED
from care_exchange_conformance.generation import Kind, by_operation, outcome
from care_exchange_conformance.registry import Level, NotApplicableError, check, spec_clause

SHOWN_OPERATIONS = 5


def _report(context: Context, kind: Kind, expected: str) -> None:
    """Fail with the first finding of `kind`, counting the others by operation."""
    found = outcome(context)
    if not found.requests:
        raise NotApplicableError("no generated request could be sent to any operation")
    findings = found.of(kind)
    if not findings:
        return
    first = findings[0]
    request = "a generated valid request" if first.valid else "a generated invalid request"
    if first.why_invalid:
        request += f" ({first.why_invalid})"
    message = f"{first.operation}, {request}: {first.message}"
    if len(findings) > 1:
        counted = list(by_operation(findings))
        shown = ", ".join(f"{name} ({count})" for name, count in counted[:SHOWN_OPERATIONS])
        hidden = len(counted) - SHOWN_OPERATIONS
        more = f" and {hidden} more operations" if hidden > 0 else ""
        message += (
            f" {len(findings)} of the {found.requests} generated requests showed this: "
            f"{shown}{more}."
        )
    context.fail(_redacted(context, message, found.parties), expected, first.response)


def _redacted(context: Context, text: str, parties: set[str]) -> str:
    """The text without the secrets and tokens of the clients the requests were sent as."""
    for party in sorted(parties):
        client = context.config.party(party)
        secrets = [context.token(party), client.client_secret if client else ""]
        for secret in filter(None, secrets):
            text = text.replace(secret, REDACTED)
    return text


@check(
    "CX-SPEC-001",
    "No generated request, valid or invalid, is answered with a 5xx or left unanswered",
    clause=spec_clause("info", "description"),
)
def no_server_error(context: Context) -> None:
    _report(
        context,
        Kind.SERVER_ERROR,
        "an answer below 500 to every request: bad input never produces a 5xx",
    )


@check(
    "CX-SPEC-002",
    "Every answer to a generated request has a status the spec documents for the operation",
    clause=spec_clause("paths"),
    level=Level.RECOMMENDED,
)
def documented_status(context: Context) -> None:
    _report(
        context,
        Kind.UNDOCUMENTED_STATUS,
        "one of the statuses listed under the operation's responses in spec/openapi.yaml",
    )


@check(
    "CX-SPEC-003",
    "Every answer to a generated request has the media type documented for its status",
    clause=spec_clause("paths"),
)
def documented_media_type(context: Context) -> None:
    _report(
        context,
        Kind.CONTENT_TYPE,
        "the Content-Type documented for the status (application/json, or "
        "application/problem+json for errors)",
    )


@check(
    "CX-SPEC-004",
    "Every answer to a generated request has a body valid against its documented schema",
    clause=spec_clause("components", "schemas"),
)
def documented_body(context: Context) -> None:
    _report(
        context,
        Kind.RESPONSE_SCHEMA,
        "a body valid against the schema documented for the operation and status",
    )


@check(
    "CX-SPEC-005",
    "Generated invalid parameters and bodies are refused with a 4xx",
    clause=spec_clause("components", "responses", "BadRequest"),
    level=Level.RECOMMENDED,
)
def invalid_refused(context: Context) -> None:
    _report(
        context,
        Kind.ACCEPTED_INVALID,
        "a 4xx refusal (400 invalid_query or invalid_header, 404 for a path parameter that "
        "cannot name anything, 400 or 422 for a body) of a request the spec does not allow",
    )
