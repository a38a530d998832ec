"""Fill a return: one service, one period, every field computed or told why not.

A field's status says what its value means: `value` (a true zero is a value), `empty` (the
records were there but gave nothing), `no-source` (nothing was published for a type it reads in
that period), `unmapped` (the standard cannot fill it yet) or `error` (its expression failed,
only this field).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from care_exchange_standard.returns.periods import Period, parse_period
from care_exchange_standard.returns.sandbox import Answers, Limits, Sandbox
from care_exchange_standard.returns.selection import (
    current,
    expression_input,
    input_key,
    latest_only,
    resolve_event,
    select,
)
from care_exchange_standard.returns.templates import Template

STATUSES = ("value", "empty", "no-source", "unmapped", "error")


@dataclass(slots=True)
class FieldResult:
    """One answered question of a return (not frozen: a return makes one per field)."""

    definition: Mapping[str, Any]
    status: str
    value: Any = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"code": self.definition["code"]}
        for name in ("label", "section", "unit", "valueType"):
            if name in self.definition:
                found[name] = self.definition[name]
        found |= {"value": self.value, "status": self.status}
        if self.message:
            found["message"] = self.message
        return found


@dataclass(frozen=True)
class FilledReturn:
    """A template filled for one service and period, from the records that fell in it."""

    template: Template
    service_id: str
    period: Period
    fields: list[FieldResult]
    sources: dict[str, list[str]] = field(default_factory=dict)

    def coverage(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for result in self.fields:
            counts[result.status] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        """The filled return as the API and `returns render --format json` give it."""
        template = self.template
        return {
            "template": {"id": template.id, "version": template.version, "title": template.title},
            "serviceId": self.service_id,
            "period": self.period.as_dict(),
            "fields": [result.as_dict() for result in self.fields],
            "coverage": self.coverage(),
            "sources": self.sources,
        }


def _one(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) == 1:
            return value[0]
        raise ValueError(f"gave {len(value)} values where one was expected")
    return value


def _coerce(wanted: str, codes: Collection[str], value: Any) -> Any:
    """The value as the field's type wants it; ValueError says what was wrong."""
    value = _one(value)
    if wanted in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"gave {value!r} where a number was expected")
        if wanted == "number":
            return value
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"gave {value:g} where a whole number was expected")
        return int(value)
    if wanted == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"gave {value!r} where true or false was expected")
        return value
    if not isinstance(value, str):
        raise ValueError(f"gave {value!r} where text was expected")
    if wanted == "date":
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            raise ValueError(f"gave {value!r} where a date was expected") from None
    if wanted == "code" and value not in codes:
        raise ValueError(f"gave {value!r}, which is not one of the return's codes")
    return value


@dataclass(frozen=True)
class _FieldPlan:
    """What filing one field's answer needs, worked out once for every return of a template."""

    definition: Mapping[str, Any]
    asked: int | None  # its place among the expressions asked; None when unmapped
    wanted: str
    codes: frozenset[str]
    kinds: tuple[str, ...]
    whole: bool  # asked, and an integer or a number: a whole number is its value as it is

    @classmethod
    def of(cls, template: Template) -> list[_FieldPlan]:
        plans, asked = [], 0
        for definition in template.fields:
            mapped = definition["match"] != "unmapped"
            kinds = {str(entry).split("/")[0] for entry in definition.get("dependsOn", ())}
            plans.append(
                cls(
                    definition,
                    asked if mapped else None,
                    str(definition.get("valueType", "")),
                    frozenset(definition.get("codes", ())),
                    tuple(sorted(kinds)),
                    mapped and definition.get("valueType") in ("integer", "number"),
                )
            )
            asked += mapped
        return plans

    def answer(
        self,
        answers: Answers,
        chosen: Mapping[str, list[Any]],
        entries: Mapping[str, Mapping[str, Any] | None],
    ) -> FieldResult:
        definition, asked = self.definition, self.asked
        if asked is None:
            return FieldResult(definition, "unmapped", message=str(definition.get("reason", "")))
        value = answers.values[asked]
        if answers.errors and asked in answers.errors:
            return FieldResult(definition, "error", message=answers.errors[asked])
        if value is None or value == []:
            missing = [
                kind
                for kind in self.kinds
                if (entries[kind] is None if kind in entries else not chosen[kind])
            ]
            if missing:
                said = "nothing published in the period for " + ", ".join(missing)
                return FieldResult(definition, "no-source", message=said)
            return FieldResult(definition, "empty")
        try:
            return FieldResult(definition, "value", _coerce(self.wanted, self.codes, value))
        except ValueError as error:
            return FieldResult(definition, "error", message=str(error))


@dataclass(frozen=True)
class ReturnRequest:
    """One service's return: candidate records (any service, type or period) and its entries.

    `service` and `provider` are the directory entries, when known.
    """

    service_id: str
    records: Iterable[Mapping[str, Any]]
    service: Mapping[str, Any] | None = None
    provider: Mapping[str, Any] | None = None


class _Chosen(NamedTuple):  # a tuple: one is made per return
    period: Period
    records: dict[str, list[Mapping[str, Any]]]
    data: dict[str, Any]


def _choose(
    template: Template, request: ReturnRequest, when: Period, latest: frozenset[str]
) -> _Chosen:
    by_type = current(request.records, request.service_id)
    if when.kind == "event":
        when = resolve_event(by_type, when)
    chosen = select(by_type, template.record_types, when)
    data = expression_input(chosen, request.service, when, request.provider, latest)
    return _Chosen(when, chosen, data)


def fill_many(
    template: Template,
    requests: Sequence[ReturnRequest],
    *,
    period: str,
    limits: Limits | None = None,
    sandbox: Sandbox | None = None,
) -> list[FilledReturn]:
    """Fill `template` for several services and one period; PeriodError for a period it refuses.

    The period is checked before anything is evaluated (an event period's event, service by
    service, as its turn comes). Records of other services, types and
    periods are left out here, as are test data and all but the last copy of each record id. A
    `sandbox` given is reused (one worker process for many returns); otherwise one is started
    for these returns and stopped. Each return is chosen and filed while the worker judges
    the one before.
    """
    when = parse_period(template.period_kind, period, template.year_starts)
    plans = _FieldPlan.of(template)
    expressions = [str(p.definition["expression"]) for p in plans if p.asked is not None]
    keys = tuple(input_key(record_type) for record_type in template.record_types)
    latest = latest_only(tuple(expressions), keys)
    chosen: deque[_Chosen] = deque()  # each let go once filed: fewer objects for the collector
    # a whole number's place among the answers, for the fields whose value it is as it comes
    filed = [(p, p.definition, p.asked if p.whole and p.asked is not None else -1) for p in plans]

    def inputs() -> Iterator[dict[str, Any]]:
        for request in requests:
            chosen.append(_choose(template, request, when, latest))
            yield chosen[-1].data

    filled: list[FilledReturn] = []
    with ExitStack() as stack:
        if sandbox is None:
            sandbox = stack.enter_context(Sandbox(limits))
        answers = sandbox.evaluate_each(inputs(), expressions)
        for request, answered in zip(requests, answers, strict=True):
            one = chosen.popleft()
            entries = {"service": request.service, "provider": request.provider}
            values = answered.values
            results = [
                FieldResult(definition, "value", value)
                if whole >= 0 and type(value := values[whole]) is int  # the common case
                else plan.answer(answered, one.records, entries)
                for plan, definition, whole in filed
            ]
            sources = {kind: [str(r["id"]) for r in found] for kind, found in one.records.items()}
            filled.append(FilledReturn(template, request.service_id, one.period, results, sources))
    return filled


def fill(
    template: Template,
    records: Iterable[Mapping[str, Any]],
    *,
    service_id: str,
    period: str,
    service: Mapping[str, Any] | None = None,
    provider: Mapping[str, Any] | None = None,
    limits: Limits | None = None,
    sandbox: Sandbox | None = None,
) -> FilledReturn:
    """Fill `template` for one service and period, as `fill_many` does."""
    request = ReturnRequest(service_id, records, service, provider)
    return fill_many(template, [request], period=period, limits=limits, sandbox=sandbox)[0]
