"""Publishing records read from files: what became of each, for `care-exchange publish`.

Each record is answered on its own: accepted (published now, or found published by an earlier
run: the bulk keys replay it, or the server says its id is taken by this very record), refused
with the server's reasons, or not sent because it was invalid here. Records stream through: the
places of those sent and not yet answered are all that is held.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from care_exchange_client.bulk import BulkItemResult
from care_exchange_client.client import Client
from care_exchange_client.errors import CareExchangeError
from care_exchange_standard.inputs import Located

MAX_SHOWN = 50


class Verdict(StrEnum):
    """What became of one record."""

    ACCEPTED = "accepted"
    ALREADY = "already published"
    REFUSED = "refused"


@dataclass(frozen=True)
class Refusal:
    """A record the server refused: where it is, and why in the server's words."""

    where: str
    status: int
    reasons: tuple[str, ...]


@dataclass
class Tally:
    """The run so far: counts, and the first refusals in full."""

    dry_run: bool = False
    accepted: int = 0
    already: int = 0
    refused: int = 0
    not_sent: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    def add(self, verdict: Verdict, refusal: Refusal | None = None) -> None:
        if verdict is Verdict.ACCEPTED:
            self.accepted += 1
        elif verdict is Verdict.ALREADY:
            self.already += 1
        else:
            self.refused += 1
            if refusal is not None and len(self.refusals) < MAX_SHOWN:
                self.refusals.append(refusal)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _refusal(found: Located, result: BulkItemResult) -> Refusal:
    problem: dict[str, Any] = dict(result.problem or {})
    errors = problem.get("errors") or []
    reasons = [
        f"{found.place(str(error.get('pointer', '')))}: {error.get('message', '')}".strip()
        for error in errors
        if isinstance(error, dict)
    ]
    return Refusal(
        found.where,
        result.status,
        tuple(reasons or [str(problem.get("detail") or problem.get("title") or result.status)]),
    )


def _already_there(client: Client, found: Located, result: BulkItemResult) -> bool:
    """Whether a record refused as a taken id is this very record, published before."""
    problem: dict[str, Any] = dict(result.problem or {})
    record = found.record
    if result.status != 409 or problem.get("code") != "conflict" or not isinstance(record, dict):
        return False
    try:
        stored = client.get_record(str(record.get("recordType")), str(record.get("id")))
    except CareExchangeError:
        return False
    return _canonical(stored.get("data")) == _canonical(record)


def judge(client: Client, found: Located, result: BulkItemResult) -> tuple[Verdict, Refusal | None]:
    if result.published:
        return (
            Verdict.ALREADY if result.replayed and not result.dry_run else Verdict.ACCEPTED
        ), None
    if not result.dry_run and _already_there(client, found, result):
        return Verdict.ALREADY, None
    return Verdict.REFUSED, _refusal(found, result)


def publish_located(
    client: Client,
    records: Iterable[Located],
    tally: Tally,
    *,
    chunk_size: int | None = None,
    on_result: Callable[[Verdict], None] = lambda verdict: None,
) -> Tally:
    """Publish `records` in chunks, filing each answer in `tally` as it comes.

    The records are read as the chunks are made, and a chunk is made while the one before it is
    out (`AheadWalk`): reading and checking them overlaps the wait for the server.
    """
    pending: deque[Located] = deque()

    def bodies() -> Iterator[Any]:
        for found in records:
            pending.append(found)
            yield found.record

    answers = client.publish_many(bodies(), chunk_size=chunk_size, dry_run=tally.dry_run)
    for result in answers:
        found = pending.popleft()
        verdict, refusal = judge(client, found, result)
        tally.add(verdict, refusal)
        on_result(verdict)
    return tally
