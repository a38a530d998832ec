"""The standard's rules: checks across fields, the same in every validator and on every server.

A JSON Schema cannot say that occupied plus vacant places make up the places in use, or that a
period ends after it starts; publishing such records would fill every body's return with
nonsense. Rules are data (`schemas/rules/<record-type>.json`, in the format of
`formats/rule-set.json`), so other implementations apply the very same checks. They are the
standard's own, not a stranger's, so they run in-process, with JSONata's guards still on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema_rs

from care_exchange_standard import jsonata_thread
from care_exchange_standard.jsonata_native import STUMBLES, Expression, JsonataError, verdict_of

RULE_SET_SCHEMA = "https://care-exchange.org/schemas/v1/formats/rule-set.json"
CLOCK_SKEW = timedelta(minutes=5)
TIMEOUT_MS = 200


@dataclass(frozen=True)
class Rule:
    """One rule, with its expression compiled once."""

    record_type: str
    code: str
    severity: str
    title: str
    message: str
    expression: str
    pointers: tuple[str, ...]
    since: str
    each: str | None
    compiled: Expression


@dataclass(frozen=True)
class Failure:
    """A rule a record broke, at the pointers it blames (item indices filled in)."""

    rule: Rule
    pointers: tuple[str, ...]


@dataclass(frozen=True)
class Context:
    """What rules may compare a record with besides itself: the clock, and its service."""

    latest_date: str
    latest_millis: int
    service: Mapping[str, Any] | None = None

    @classmethod
    def now(cls, service: Mapping[str, Any] | None = None) -> Context:
        """Tomorrow (UTC) is the last acceptable date, so no time zone is told it is early."""
        moment = datetime.now(UTC)
        latest = (moment.date() + timedelta(days=1)).isoformat()
        return cls(latest, int((moment + CLOCK_SKEW).timestamp() * 1000), service)

    @classmethod
    def on(cls, day: date, service: Mapping[str, Any] | None = None) -> Context:
        """As `now` would be at the very end of `day` (UTC), for tests and re-judging the past."""
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        latest = (day + timedelta(days=1)).isoformat()
        return cls(latest, int((end + CLOCK_SKEW).timestamp() * 1000), service)

    def bindings(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "latestDate": self.latest_date,
            "latestMillis": self.latest_millis,
        }
        if self.service is not None:
            found["service"] = dict(self.service)
        return found


def rule_anchor(code: str) -> str:
    """The anchor of a rule on its type's reference page (`rule-places-within-registered`)."""
    return "rule-" + code.split("/", 1)[1]


class RuleSetError(ValueError):
    """A rule file that does not match `formats/rule-set.json` or whose expressions fail."""


def _compiled(expression: str, where: str) -> Expression:
    """An expression known to parse, to be run natively, or by jsonatapy where it must be.

    jsonatapy's parser says so in microseconds a rule; the native function is made later.
    """
    try:
        jsonata_thread.check(expression)
    except ValueError as error:
        raise RuleSetError(f"{where}: {error}") from None
    return Expression(expression)


def parse_rule_set(
    document: Mapping[str, Any], where: str, registry: jsonschema_rs.Registry
) -> list[Rule]:
    """The rules of one rule-set document; RuleSetError names the first problem.

    `registry` holds the standard's schemas, `formats/rule-set.json` among them. The check is
    jsonschema-rs's: `jsonschema` would cost every command a second and more to import.
    """
    checker = jsonschema_rs.validator_for({"$ref": RULE_SET_SCHEMA}, registry=registry)
    problem = next(iter(checker.iter_errors(document)), None)
    if problem is not None:
        raise RuleSetError(f"{where}: {problem.message}")
    record_type = str(document["recordType"])
    rules = []
    for index, rule in enumerate(document["rules"]):
        code = str(rule["code"])
        if not code.startswith(record_type + "/"):
            raise RuleSetError(f"{where}: rule {index} code {code!r} must start {record_type}/")
        rules.append(
            Rule(
                record_type=record_type,
                code=code,
                severity=str(rule["severity"]),
                title=str(rule["title"]),
                message=str(rule["message"]),
                expression=str(rule["expression"]),
                pointers=tuple(rule["pointers"]),
                since=str(rule["since"]),
                each=rule.get("each"),
                compiled=_compiled(str(rule["expression"]), f"{where} {code}"),
            )
        )
    return rules


def load_rules(directory: Path, registry: jsonschema_rs.Registry) -> dict[str, list[Rule]]:
    """The rules of every record type, by type (a type with no file has none)."""
    found: dict[str, list[Rule]] = {}
    for path in sorted(directory.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        rules = parse_rule_set(document, path.name, registry)
        if rules:
            found.setdefault(rules[0].record_type, []).extend(rules)
    return found


def _holds(rule: Rule, target: Any, bindings: dict[str, Any]) -> bool:
    """False only when the expression says false; a rule that cannot judge never blames."""
    try:
        value = rule.compiled.evaluate(target, bindings, timeout=TIMEOUT_MS)
    except (ValueError, TypeError, OverflowError):  # an expression error, or a number too big
        return True
    return value is not False


def _failing(rule: Rule, record: Mapping[str, Any], bindings: dict[str, Any]) -> list[str]:
    """Where the rule says false: "" for the record itself, `/each/i` for an item of it."""
    if rule.each is None:
        return [] if _holds(rule, record, bindings) else [""]
    items = record.get(rule.each)
    if not isinstance(items, list):
        return []
    with_record = {**bindings, "record": record if type(record) is dict else dict(record)}
    return [
        f"/{rule.each}/{index}"
        for index, item in enumerate(items)
        if not _holds(rule, item, with_record)
    ]


def check_rules(
    rules: Sequence[Rule], record: Mapping[str, Any], context: Context
) -> list[Failure]:
    """The rules the record breaks, each with the pointers it blames."""
    bindings = context.bindings()
    return [
        Failure(rule, tuple(base + at for at in rule.pointers))
        for rule in rules
        for base in _failing(rule, record, bindings)
    ]


class Clock:
    """The rules' context without a service, renewed each minute so midnight moves on."""

    def __init__(self) -> None:
        self._at = -1.0
        self._bindings: dict[str, Any] = {}

    def bindings(self) -> dict[str, Any]:
        now = time.monotonic()
        if now - self._at > 60:
            self._bindings, self._at = Context.now().bindings(), now
        return self._bindings


def reads_service(rule: Rule) -> bool:
    return "$service" in rule.expression


_UNMADE = object()
_Judge = tuple[Rule, Any, str | None]  # a rule, its function, the list it judges each item of


class Verdict(NamedTuple):
    """A bare pass or fail of every rule: of one record, and of many without a service."""

    one: Callable[..., bool]  # (record, bindings=None): bindings as a Context's
    many: Callable[[list[Any]], list[bool]]  # each record's, with the clock's bindings


def verdict(rules: Sequence[Rule], clock: Clock) -> Verdict | None:
    """A bare pass or fail of every rule, for records judged in bulk: it stops at the first.

    A record that fails is explained by `check_rules`; one whose rules cannot judge passes, as
    there. Rules that read the service pass when it is unknown, so without one they are not
    asked. Bulk validation asks it of every record, so the rules are first asked together,
    in one native function (see `jsonata_native.verdict_of`); when that raises, or a rule is
    not native, `_failing`'s loop asks each rule on its own and says what its error means.
    """
    if not rules:
        return None
    made: tuple[list[_Judge], list[_Judge]] | None = None  # at the first call: see Expression
    fused: dict[bool, Any] = {}  # with a service or without: made when first asked

    def together(serviced: bool) -> Any:
        if serviced not in fused:  # two threads may both make it: each makes a whole one
            asked = [rule for rule in rules if serviced or not reads_service(rule)]
            fused[serviced] = verdict_of([(rule.expression, rule.each) for rule in asked])
        return fused[serviced]

    def passes(record: Any, bindings: Mapping[str, Any] | None = None) -> bool:
        """`bindings` (a Context's) default to the clock's, without a service."""
        if bindings is None:
            return judged([record], clock.bindings(), False)[0]
        given = dict(bindings)
        return judged([record], given, "service" in given)[0]

    def passes_many(records: list[Any]) -> list[bool]:
        """`passes` of each record without bindings: the clock asked once for them all."""
        return judged(records, clock.bindings(), False)

    def judged(records: list[Any], given: dict[str, Any], serviced: bool) -> list[bool]:
        function = fused.get(serviced, _UNMADE)
        if function is _UNMADE:
            function = together(serviced)
        found: list[bool] = []
        for record in records:
            if function is not None and type(record) is dict:
                try:
                    found.append(function(record, given) is True)
                    continue
                except Exception:  # each rule asked alone says what the error means
                    pass
            found.append(one_by_one(record, given, serviced))
        return found

    def one_by_one(record: Any, given: dict[str, Any], serviced: bool) -> bool:
        """`_failing`'s loop: each rule's own function, made only when first needed."""
        nonlocal made
        if made is None:  # two threads may both make it: each sees a whole one
            judges = [(r, r.compiled.native or partial(_holds, r), r.each) for r in rules]
            made = judges, [judge for judge in judges if not reads_service(judge[0])]
        judges = made[0] if serviced else made[1]
        with_record: dict[str, Any] | None = None
        for rule, judge, each in judges:
            targets, asked = (record,), given
            if each is not None:
                targets = record.get(each)
                if not isinstance(targets, list):
                    continue
                if with_record is None:
                    whole = record if type(record) is dict else dict(record)
                    with_record = {**given, "record": whole}
                asked = with_record
            for target in targets:
                try:
                    holds = judge(target, asked) is not False
                except (JsonataError, OverflowError):  # the rule cannot judge: it never blames
                    holds = True
                except STUMBLES:  # jsonatapy judges
                    holds = _holds(rule, target, asked)
                if not holds:
                    return False
        return True

    return Verdict(passes, passes_many)
