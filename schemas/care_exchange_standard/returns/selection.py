"""Which of a service's records fill one return, and the input its expressions read.

Callers pass every candidate record; the choice is made here, once, so the offline renderer and
the server fill the same return from the same records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from functools import lru_cache
from typing import Any

from care_exchange_standard.jsonata_native.parsing import Node, NotNativeError, parse
from care_exchange_standard.returns.periods import Period, PeriodError, moment

Record = Mapping[str, Any]
_LATEST = [Node("literal", -1)]


@lru_cache(maxsize=256)
def input_key(record_type: str) -> str:
    """A record type's key in the expression input: `capacity-snapshot` → `capacitySnapshot`."""
    first, *rest = record_type.split("-")
    return first + "".join(part.capitalize() for part in rest)


def _date_of(text: str) -> date:
    """The calendar date as written in the record, in its own offset."""
    return date.fromisoformat(text[:10])


def _period_of(record: Record) -> tuple[date, date] | None:
    period = record.get("period")
    if isinstance(period, Mapping):
        return _date_of(str(period["start"])), _date_of(str(period["end"]))
    return None


def _sort_key(record: Record) -> tuple[float, str]:
    """Time order: a moment as a timestamp, since offsets differ across the change of the clocks.

    A date alone stands for the end of its day, as `moment` says.
    """
    when = _when(record)
    return (moment(when).timestamp() if when else float("-inf"), str(record.get("id", "")))


def _when(record: Record) -> str:
    found = record.get("asAt") or record.get("occurredAt")
    if found:
        return str(found)
    period = record.get("period")
    return str(period.get("start", "")) if isinstance(period, Mapping) else ""


def _in_time_order(records: Sequence[Record]) -> list[Record]:
    """The records sorted as `_sort_key` says, by their text when that gives the same order.

    Date-times written alike (same length, same offset) sort as text; parsing each is most of
    the cost of choosing a return's records.
    """
    if len(records) < 2:
        return list(records)
    whens = [_when(record) for record in records]
    first = whens[0]
    if "T" in first and len({(len(when), when[19:]) for when in whens}) == 1:
        ids = [str(record.get("id", "")) for record in records]
        return [records[i] for _, _, i in sorted(zip(whens, ids, range(len(records)), strict=True))]
    return sorted(records, key=_sort_key)


def _in_span(records: Iterable[Record], start: date, end: date) -> list[Record]:
    """The records dated in the span (an event or snapshot's day), or whose period lies in it."""
    kept = []
    for record in records:
        if "asAt" in record:
            text = record["asAt"]
        elif "occurredAt" in record:
            text = record["occurredAt"]
        else:
            covered = _period_of(record)
            if covered is not None and start <= covered[0] and covered[1] <= end:
                kept.append(record)
            continue
        if start <= date.fromisoformat((text if type(text) is str else str(text))[:10]) <= end:
            kept.append(record)
    return kept


def _at_moment(records: Sequence[Record], when: Period) -> list[Record]:
    assert when.as_at is not None
    if records and "asAt" in records[0]:
        earlier = [r for r in records if moment(str(r["asAt"])) <= when.as_at]
        return earlier[-1:]
    day = when.as_at.date()
    return [r for r in records if (p := _period_of(r)) is not None and p[0] <= day <= p[1]]


def current(records: Iterable[Record], service_id: str) -> dict[str, list[Record]]:
    """The service's records by type, each id once (the last given wins), never test data.

    They are not yet in time order: `select` sorts what it chooses.
    """
    latest: dict[tuple[str, str], Record] = {}
    for record in records:
        if record.get("serviceId") != service_id or record.get("testData") is True:
            continue
        latest[(str(record.get("recordType")), str(record.get("id")))] = record
    by_type: dict[str, list[Record]] = {}
    for (record_type, _), record in latest.items():
        by_type.setdefault(record_type, []).append(record)
    return by_type


def _is_event_type(records: Sequence[Record]) -> bool:
    return bool(records) and "occurredAt" in records[0]


def resolve_event(by_type: Mapping[str, Sequence[Record]], when: Period) -> Period:
    """An event return's moment is its event's; PeriodError when the service has no such event."""
    for records in by_type.values():
        for record in records:
            if record.get("id") == when.designator and "occurredAt" in record:
                return replace(when, as_at=moment(str(record["occurredAt"])))
    raise PeriodError(f"the service has no event record {when.designator!r}")


def select(
    by_type: Mapping[str, Sequence[Record]], record_types: Sequence[str], when: Period
) -> dict[str, list[Record]]:
    """The records of each of the template's types that fall in the period (possibly none).

    An event period must have been through `resolve_event` first.
    """
    chosen: dict[str, list[Record]] = {}
    for record_type in record_types:
        records = list(by_type.get(record_type, ()))
        if when.start is not None and when.end is not None:
            chosen[record_type] = _in_time_order(_in_span(records, when.start, when.end))
        elif not _is_event_type(records):
            chosen[record_type] = _at_moment(_in_time_order(records), when)
        else:
            named = when.designator if when.kind == "event" else None
            chosen[record_type] = [r for r in records if r.get("id") == named]
    return chosen


def _nodes(node: Node) -> Iterator[Node]:
    yield node
    for child in (*node.children, *node.filters):
        yield from _nodes(child)


@lru_cache(maxsize=256)
def latest_only(expressions: tuple[str, ...], keys: tuple[str, ...]) -> frozenset[str]:
    """The input keys (`capacitySnapshot`) that every expression reads only as `key[-1]`.

    For those, the input need hold only the latest record: the answers are the same, and a
    month of daily snapshots travels to the sandbox as one. An expression that reads the
    input whole (`$`), or that the native evaluator cannot parse, keeps every key whole.
    """
    found = set(keys)
    for expression in expressions:
        try:
            tree = parse(expression)
        except (NotNativeError, RecursionError):
            return frozenset()
        for node in _nodes(tree):
            if node.kind == "variable" and node.value in ("", "$"):
                return frozenset()
            if node.kind == "name" and node.value in found and node.filters != _LATEST:
                found.discard(node.value)
    return frozenset(found)


def expression_input(
    chosen: Mapping[str, Sequence[Record]],
    service: Record | None,
    when: Period,
    provider: Record | None = None,
    latest: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """`$` of every field expression (the contract in the returns guide).

    The keys in `latest` (see `latest_only`) hold only the latest record, if any.
    """
    found: dict[str, Any] = {
        "service": dict(service) if service is not None else None,
        "provider": dict(provider) if provider is not None else None,
    }
    found["period"] = when.as_dict()
    for record_type, records in chosen.items():
        key = input_key(record_type)
        found[key] = [
            record if type(record) is dict else dict(record)
            for record in (records[-1:] if key in latest else records)
        ]
    return found
