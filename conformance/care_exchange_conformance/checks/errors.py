"""Errors: bad input gets an RFC 9457 problem with the spec's code and a pointer, never a 5xx."""

from __future__ import annotations

import json

from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import check

RESPONSES = "spec/openapi.yaml#/components/responses"


def _records(context: Context) -> str:
    return f"/v1/records/{context.record_type()}"


@check(
    "CX-ERR-001", "A body that is not JSON is 400 invalid_json", clause=f"{RESPONSES}/BadRequest"
)
def not_json(context: Context) -> None:
    answer = context.request(
        "POST",
        _records(context),
        party="publisher",
        content=b'{"recordType": ',
        headers={"Content-Type": "application/json"},
    )
    context.expect_problem(answer, 400, "invalid_json")


@check(
    "CX-ERR-002",
    "A record that breaks its schema is 422 with a JSON pointer to the field",
    clause=f"{RESPONSES}/UnprocessableContent",
)
def invalid_record(context: Context) -> None:
    record = context.new_record()
    record["serviceId"] = 12345
    answer = context.request("POST", _records(context), party="publisher", json=record)
    body = context.expect_problem(answer, 422, "validation_failed")
    pointers = [error.get("pointer") for error in body.get("errors", [])]
    context.expect(
        "/serviceId" in pointers,
        f"The errors point at {pointers}, not at the field that is wrong.",
        'an entry of errors[] with "pointer": "/serviceId"',
        answer,
    )
    context.expect(
        context.get(f"{_records(context)}/{record['id']}", party="publisher").status_code == 404,
        "The refused record was stored anyway.",
        "nothing stored when a publish is refused",
    )


@check(
    "CX-ERR-003",
    "An unknown record type is 404 unknown_record_type",
    clause="spec/openapi.yaml#/paths/~1v1~1records~1{type}/get",
)
def unknown_type(context: Context) -> None:
    answer = context.get("/v1/records/no-such-type", party="subscriber")
    context.expect_problem(answer, 404, "unknown_record_type")


@check(
    "CX-ERR-004",
    "A bad or unknown query parameter is 400 invalid_query, naming the parameter",
    clause=f"{RESPONSES}/BadRequest",
)
def bad_query(context: Context) -> None:
    for params, name in (({"page_size": "0"}, "page_size"), ({"colour": "red"}, "colour")):
        answer = context.get(_records(context), party="subscriber", params=params)
        body = context.expect_problem(answer, 400, "invalid_query")
        named = [error.get("parameter") for error in body.get("errors", [])]
        context.expect(
            name in named,
            f"The errors name {named}, not the parameter that is wrong.",
            f'an entry of errors[] with "parameter": "{name}"',
            answer,
        )


@check(
    "CX-ERR-005",
    "A body over the declared limit is 413 payload_too_large",
    clause=f"{RESPONSES}/PayloadTooLarge",
)
def too_large(context: Context) -> None:
    limit = int(context.capabilities()["limits"]["maxBodyBytes"])
    record = context.new_record()
    record["notes"] = "x" * (limit + 1)
    answer = context.request(
        "POST",
        _records(context),
        party="publisher",
        content=json.dumps(record).encode(),
        headers={"Content-Type": "application/json"},
    )
    context.expect_problem(answer, 413, "payload_too_large")


@check(
    "CX-ERR-006",
    "A body in another media type is 415 unsupported_media_type",
    clause=f"{RESPONSES}/UnsupportedMediaType",
)
def wrong_media_type(context: Context) -> None:
    answer = context.request(
        "POST",
        _records(context),
        party="publisher",
        content=json.dumps(context.new_record()).encode(),
        headers={"Content-Type": "text/plain"},
    )
    context.expect_problem(answer, 415, "unsupported_media_type")
