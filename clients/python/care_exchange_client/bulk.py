"""Publishing any number of records through `/v1/bulk`: chunked, keyed, results in input order.

Chunks respect both of the server's limits from its capability document: at most
`limits.bulkMaxItems` records (or the caller's smaller `chunk_size`) and at most
`limits.maxBodyBytes` of body. Records are read from the iterable as they are needed, so a
large input is never held whole, and results are handed out as each chunk is answered.

**Why a re-run never publishes twice.** Each chunk's `Idempotency-Key` is derived from the
chunk's content: `cx-bulk-` and the SHA-256 of the caller's optional `namespace` and the exact
bytes sent (each record encoded with sorted keys, so the bytes depend only on the records, not
on dict order). Run the same input again after an interruption and the chunks,
their bytes and their keys come out the same, so within the server's idempotency window
(`idempotency.retentionHours`, at least 24 hours) the server replays each stored answer instead
of publishing again, and the results read exactly as on the first run (`replayed` says so). A
chunk that was still being processed when the first run died is answered
`409 idempotency_in_progress`, which is retried after `Retry-After`. A content key is the right
key here because two bulk requests with the same records are the same request: record ids are
unique per type, so publishing them again could only fail.

What changes the keys: a different order or grouping of the input, another `chunk_size`, or a
server with other limits. Records already published are then answered `409 conflict` per
item, not published twice; only their results differ. Past the window the same holds.
Use `namespace` to keep two deliberately different runs apart (it is part of every key).

`dry_run=True` has the server check every item as a publication would and store nothing; the
results read as a publication's would (`201` for an item that would be published). The server
ignores the key of a dry run, but its keys are derived apart from a real run's all the same, so
that not even a server that wrongly kept one could later answer a real run with a dry run's
results.

A chunk refused as a whole (a token without any publish scope, a body the server will not take)
raises its `ProblemError` from the iterator; the results already handed out stand, and a re-run
replays them.

**One chunk ahead.** The blocking client sends each chunk as soon as the one before it is
answered, before that one's results are handed out (`walk.AheadWalk`), so the server is never
idle while this process reads records and files results. A consumer that stops early may thus
leave one chunk more published than it saw answered; a re-run replays it. The async client
sends a chunk when the last one's results are all handed out.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson

from care_exchange_client import operations as ops
from care_exchange_client.calls import Call, json_result
from care_exchange_client.errors import UnexpectedResponse
from care_exchange_client.types import BulkResult, CapabilityDocument, Limits, Problem

_OPEN, _CLOSE = b'{"records":[', b"]}"
KEY_PREFIX = "cx-bulk-"


@dataclass(frozen=True)
class BulkItemResult:
    """What happened to the input record at `index` (counted from 0 over the whole input)."""

    index: int
    status: int
    record_type: str | None = None
    id: str | None = None
    version: int | None = None
    problem: Problem | None = None
    replayed: bool = False
    dry_run: bool = False

    @property
    def published(self) -> bool:
        return self.status == 201


@dataclass(frozen=True)
class Chunk:
    """Records sent in one bulk request, from input position `offset`, and its key."""

    offset: int
    records: tuple[bytes, ...]
    key: str

    @property
    def content(self) -> bytes:
        return _OPEN + b",".join(self.records) + _CLOSE


@dataclass(frozen=True)
class BulkAnswer:
    """A bulk answer, and whether it was a replay of a stored one (`Idempotent-Replayed`)."""

    result: BulkResult
    replayed: bool


def canonical(record: Mapping[str, Any]) -> bytes:
    """A record's bytes depend on its content alone: sorted keys, no spaces, UTF-8.

    orjson writes them ten times sooner than `json`, byte for byte the same but for the exponent
    of a tiny float (`1e-7`, where `json` writes `1e-07`). What it cannot write (an integer
    beyond 64 bits) or writes as `null` (a NaN, which must be refused, not sent as null) goes
    `json`'s way, so both refuse the same records.
    """
    try:
        encoded = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        encoded = b"null"
    if b"null" not in encoded:
        return encoded
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def chunk_key(content: bytes, namespace: str = "") -> str:
    """The namespace is hashed in, not spelled out, so any namespace leaves a whole digest."""
    digest = hashlib.sha256(namespace.encode() + b"\0" + content).hexdigest()
    return KEY_PREFIX + digest


def chunks(
    records: Iterable[Mapping[str, Any]],
    max_items: int,
    max_bytes: int,
    namespace: str = "",
) -> Iterator[Chunk]:
    """Greedy in input order, so the same input and limits always give the same chunks."""
    room = max_bytes - len(_OPEN) - len(_CLOSE)
    offset, batch, size = 0, list[bytes](), 0
    for record in records:
        encoded = canonical(record)
        extra = len(encoded) + (1 if batch else 0)
        if batch and (len(batch) == max_items or size + extra > room):
            yield _chunk(offset, batch, namespace)
            offset, batch, size = offset + len(batch), [], 0
            extra = len(encoded)
        batch.append(encoded)
        size += extra
    if batch:
        yield _chunk(offset, batch, namespace)


def _chunk(offset: int, batch: list[bytes], namespace: str) -> Chunk:
    content = _OPEN + b",".join(batch) + _CLOSE
    return Chunk(offset, tuple(batch), chunk_key(content, namespace))


def _read_answer(response: httpx2.Response) -> BulkAnswer:
    replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
    return BulkAnswer(json_result(response), replayed)


def results(chunk: Chunk, answer: BulkAnswer) -> list[BulkItemResult]:
    items = answer.result.get("results")
    if not isinstance(items, list) or len(items) != len(chunk.records):
        raise UnexpectedResponse(200, json.dumps(answer.result).encode(), "bulk results")
    found: list[BulkItemResult] = []
    for item in sorted(items, key=lambda each: each["index"]):
        index = chunk.offset + item["index"]
        dry_run = answer.result.get("dryRun", False)
        if "problem" in item:
            problem: Problem = item["problem"]  # type: ignore[typeddict-item]
            found.append(
                BulkItemResult(
                    index,
                    item["status"],
                    problem=problem,
                    replayed=answer.replayed,
                    dry_run=dry_run,
                )
            )
        else:
            found.append(
                BulkItemResult(
                    index,
                    item["status"],
                    record_type=item.get("recordType"),
                    id=item.get("id"),
                    version=item.get("version"),
                    replayed=answer.replayed,
                    dry_run=dry_run,
                )
            )
    return found


def _too_large(index: int, size: int, limit: int) -> BulkItemResult:
    """A record that cannot fit any request is reported without sending it."""
    problem = Problem(
        type="https://care-exchange.org/problems/payload_too_large",
        title="Payload too large",
        status=413,
        detail=f"The record is {size} bytes; the server takes bodies of at most {limit}.",
        code="payload_too_large",
        requestId="",
    )
    return BulkItemResult(index, 413, problem=problem)


class BulkWalker:
    """Drives `publish_many`: the capability document first (for the limits), then each chunk.

    The position is how many input records have a result so far.
    """

    def __init__(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        chunk_size: int | None = None,
        namespace: str = "",
        dry_run: bool = False,
        limits: Limits | None = None,
    ) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self._records = records
        self._chunk_size = chunk_size
        self._namespace = f"dry-run\0{namespace}" if dry_run else namespace
        self._dry_run = dry_run
        self._limits = limits
        self._chunks: Iterator[Chunk] | None = None
        # In input order: the chunks sent and not yet answered, and the results of records too
        # large to send between them.
        self._out: deque[Chunk | BulkItemResult] = deque()
        self._items: deque[BulkItemResult] = deque()
        self._settled = 0

    @property
    def position(self) -> int:
        return self._settled

    @property
    def ahead(self) -> bool:
        """Once the limits are known, the next chunk is the next records, whatever the answers."""
        return self._limits is not None

    def next_call(self) -> Call[Any] | None:
        if self._limits is None:
            return ops.get_capabilities()
        if self._chunks is None:
            most = self._limits["bulkMaxItems"]
            size = min(most, self._chunk_size) if self._chunk_size else most
            self._chunks = chunks(
                self._records, size, self._limits["maxBodyBytes"], self._namespace
            )
        limit = self._limits["maxBodyBytes"]
        for chunk in self._chunks:
            if len(chunk.content) > limit:  # reported in its place, after the chunks before it
                self._out.append(_too_large(chunk.offset, len(chunk.content), limit))
                continue
            self._out.append(chunk)
            call = ops.publish_bulk_encoded(chunk.content, chunk.key, dry_run=self._dry_run)
            return Call(
                call.operation_id,
                call.method,
                call.path,
                _read_answer,
                params=call.params,
                content=call.content,
                headers=call.headers,
            )
        self._hand_out_unsent()
        return None

    def receive(self, answer: Any) -> None:
        """The answer to the first chunk out (calls are answered in the order they were made)."""
        if self._limits is None:
            document: CapabilityDocument = answer
            self._limits = document["limits"]
            return
        self._hand_out_unsent()
        chunk = self._out.popleft()
        assert isinstance(chunk, Chunk)
        self._items.extend(results(chunk, answer))
        self._hand_out_unsent()

    def _hand_out_unsent(self) -> None:
        """The results of records too large to send, up to the next chunk still out."""
        while self._out and not isinstance(unsent := self._out[0], Chunk):
            self._items.append(unsent)
            self._out.popleft()

    def pop(self) -> BulkItemResult | None:
        if not self._items:
            return None
        item = self._items.popleft()
        self._settled = item.index + 1
        return item
