"""Idempotency and concurrency: a POST retried with its `Idempotency-Key` takes effect once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from care_exchange_conformance.context import Context
from care_exchange_conformance.registry import check

KEY = "spec/openapi.yaml#/components/parameters/IdempotencyKey"
CONCURRENT_DUPLICATES = 6


def _post(context: Context, record: dict[str, Any], key: str) -> httpx.Response:
    return context.publish(record, headers={"Idempotency-Key": key})


@check(
    "CX-IDEM-001",
    "A POST repeated with its Idempotency-Key gets the first answer again, marked replayed",
    clause=KEY,
)
def replay(context: Context) -> None:
    record, key = context.new_record(), str(uuid.uuid4())
    first = _post(context, record, key)
    context.expect_status(first, 201, "the first publish was refused")
    again = _post(context, record, key)
    context.expect(
        again.status_code == 201 and again.content == first.content,
        f"The retry was answered {again.status_code}, not with the stored answer.",
        "the first response again: 201 and the same body",
        again,
    )
    context.expect(
        again.headers.get("Idempotent-Replayed") == "true",
        "The replayed answer lacks Idempotent-Replayed: true.",
        "Idempotent-Replayed: true",
        again,
    )


@check(
    "CX-IDEM-002",
    "The same Idempotency-Key with another body is 422 idempotency_key_reused",
    clause=KEY,
)
def reused(context: Context) -> None:
    record, key = context.new_record(), str(uuid.uuid4())
    context.expect_status(_post(context, record, key), 201, "the first publish was refused")
    other = context.new_record()
    context.expect_problem(_post(context, other, key), 422, "idempotency_key_reused")
    answer = context.get(f"/v1/records/{other['recordType']}/{other['id']}", party="publisher")
    context.expect(
        answer.status_code == 404,
        "The request refused for its reused key was stored anyway.",
        "nothing stored",
        answer,
    )


@check(
    "CX-IDEM-003",
    "Concurrent duplicates of one POST take effect once: one 201, the rest replay or wait",
    clause=KEY,
)
def concurrent(context: Context) -> None:
    record, key = context.new_record(), str(uuid.uuid4())
    context.token("publisher")
    with ThreadPoolExecutor(CONCURRENT_DUPLICATES) as pool:
        answers = list(
            pool.map(lambda _: _post(context, record, key), range(CONCURRENT_DUPLICATES))
        )
    fresh = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
    replayed = [a for a in answers if a.headers.get("Idempotent-Replayed") == "true"]
    waiting = [a for a in answers if a.status_code == 409]
    codes = sorted(answer.status_code for answer in answers)
    context.expect(
        len(fresh) == 1 and len(fresh) + len(replayed) + len(waiting) == len(answers),
        f"{CONCURRENT_DUPLICATES} concurrent duplicates were answered {codes}.",
        "exactly one fresh 201; the others replayed or 409 idempotency_in_progress",
        fresh[1] if len(fresh) > 1 else answers[0],
    )
    for answer in waiting:
        context.expect_problem(answer, 409, "idempotency_in_progress")
