"""The provider directory entry: a provider stores its own entry and reads it back (since 1.1).

The entry is the publisher's real directory information, which returns filled on the server
read, so the checks never leave it changed: each reads it first and puts it back as it was.
When the publisher has no entry (`404`), the round trip is not applicable: the suite does not
invent a provider's legal name and registration numbers. That a provider's entry is `404`
before its first `PUT` is not checked either: it needs a provider that has never stored one,
and the configured clients are long-lived.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from care_exchange_conformance.checks.receipts import organisation_id
from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import NotApplicableError, check, spec_clause
from care_exchange_standard.files import SCHEMA_DIR

ENTRY = "/v1/organisations/me/directory-entry"
EXAMPLE = SCHEMA_DIR / "examples" / "valid" / "provider" / "english-private-company.json"


@cache
def _example() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def example_entry(organisation: str) -> dict[str, Any]:
    """A valid provider directory entry (the standard's example) with the given id."""
    entry: dict[str, Any] = json.loads(_example())
    return entry | {"id": organisation}


def current_entry(context: Context) -> dict[str, Any] | None:
    """The publisher's entry as stored, or None when it has none (404)."""
    answer = context.get(ENTRY, party="publisher")
    if answer.status_code == 404:
        return None
    context.expect_status(answer, 200, "the publisher's directory entry could not be read")
    body = context.json(answer)
    context.expect(
        isinstance(body, dict) and body.get("directoryType") == "provider",
        "The directory entry read is not a provider directory entry.",
        "a body valid against schemas/directory/provider.json",
        answer,
    )
    assert isinstance(body, dict)
    return body


def _restoring(context: Context, original: dict[str, Any] | None, work: Callable[[], None]) -> None:
    """Run `work`, then put the publisher's entry back as it was, whatever `work` found.

    It is put back even when it reads as it was: a server may answer otherwise than it stores.
    With no entry before, nothing can be put back (there is no way to delete one): `work`
    must then store nothing on a conformant server.
    """
    try:
        work()
    finally:
        if original is not None:
            back = context.request("PUT", ENTRY, party="publisher", json=original)
            context.expect_status(
                back, 200, "the publisher's directory entry could not be put back as it was"
            )


@check(
    "CX-DIR-001",
    "A provider stores its directory entry and reads it back as stored",
    clause=spec_clause("paths", ENTRY, "put"),
)
def stored_and_read(context: Context) -> None:
    original = current_entry(context)
    if original is None:
        raise NotApplicableError(
            "the publisher has no directory entry (404); store one, and the suite will change "
            "it and put it back"
        )
    changed = original | {"website": f"https://conformance.invalid/{uuid.uuid4().hex[:12]}"}

    def round_trip() -> None:
        stored = context.request("PUT", ENTRY, party="publisher", json=changed)
        context.expect_status(stored, 200, "the publisher's directory entry was refused")
        context.expect(
            context.json(stored) == changed,
            "The answer to PUT is not the entry sent.",
            "the provider directory entry as now stored, equal to the one sent",
            stored,
        )
        read = context.get(ENTRY, party="publisher")
        context.expect_status(read, 200, "the stored directory entry could not be read")
        context.expect(
            context.json(read) == changed,
            "The entry read back is not the one stored.",
            "the entry as the PUT stored it",
            read,
        )

    _restoring(context, original, round_trip)


@check(
    "CX-DIR-002",
    "A directory entry whose id is not the provider's own is refused: 422 at /id",
    clause=spec_clause("paths", ENTRY, "put"),
)
def foreign_id(context: Context) -> None:
    original = current_entry(context)
    foreign = organisation_id(context, "subscriber")
    entry = (original or example_entry(foreign)) | {"id": foreign}

    def refused() -> None:
        answer = context.request("PUT", ENTRY, party="publisher", json=entry)
        if original is None and answer.status_code in (404, 405):
            raise NotApplicableError("the implementation has no provider directory entries (1.1)")
        problem = context.expect_problem(answer, 422, "validation_failed")
        pointers = [error.get("pointer") for error in problem.get("errors", [])]
        context.expect(
            "/id" in pointers,
            f"The refusal points at {pointers}.",
            "an error with pointer /id",
            answer,
        )
        context.expect(
            current_entry(context) == original,
            "The refused entry changed the publisher's stored entry.",
            "the stored entry as it was before",
        )

    _restoring(context, original, refused)


@check(
    "CX-DIR-003",
    "Only a provider has a directory entry: a subscriber's GET and PUT are 403",
    clause=spec_clause("paths", ENTRY, "get"),
)
def providers_only(context: Context) -> None:
    subscriber = organisation_id(context, "subscriber")
    read = context.get(ENTRY, party="subscriber")
    if read.status_code in (404, 405) and current_entry(context) is None:
        # A subscriber's 404 beside the provider's is how a server without the operation
        # (1.0) answers: a 1.1 server refuses the subscriber with 403 whatever it stores.
        raise NotApplicableError("the implementation has no provider directory entries (1.1)")
    context.expect_problem(read, 403, None)
    stored = context.request("PUT", ENTRY, party="subscriber", json=example_entry(subscriber))
    context.expect_problem(stored, 403, None)
