"""The standard's rules: checks across fields, the same in every validator and on every server.

A JSON Schema cannot say that occupied plus vacant places make up the places in use, or that a
period ends after it starts; publishing such records would fill every body's return with
nonsense. Rules are data (`schemas/rules/<record-type>.json`, in the format of
`formats/rule-set.json`), so other implementations apply the very same checks. They are the
standard's own, not a stranger's, so they run in-process, with JSONata's guards still on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs

from care_exchange_standard import jsonata_thread

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
    compiled: Compiled


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


class Compiled:
    """An expression checked once; compiled and run where `jsonata` says it may be."""

    def __init__(self, expression: str, where: str) -> None:
        try:
            jsonata_thread.check(expression)
        except ValueError as error:
            raise RuleSetError(f"{where}: {error}") from None
        self.expression = expression

    def evaluate(self, data: Any, bindings: dict[str, Any], *, timeout: int) -> Any:
        return jsonata_thread.evaluate(self.expression, data, bindings, timeout=timeout)


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
                compiled=Compiled(str(rule["expression"]), f"{where} {code}"),
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


def _holds(rule: Rule, target: Any, bindings: Mapping[str, Any]) -> bool:
    """False only when the expression says false; a rule that cannot judge never blames."""
    try:
        value = rule.compiled.evaluate(target, dict(bindings), timeout=TIMEOUT_MS)
    except (ValueError, TypeError, OverflowError):  # an expression error, or a number too big
        return True
    return value is not False


def check_rules(
    rules: Sequence[Rule], record: Mapping[str, Any], context: Context
) -> list[Failure]:
    """The rules the record breaks, each with the pointers it blames."""
    if not rules:
        return []
    bindings = context.bindings()
    failures = []
    for rule in rules:
        if rule.each is None:
            if not _holds(rule, record, bindings):
                failures.append(Failure(rule, rule.pointers))
            continue
        items = record.get(rule.each)
        if not isinstance(items, list):
            continue
        with_record = {**bindings, "record": dict(record)}
        for index, item in enumerate(items):
            if not _holds(rule, item, with_record):
                base = f"/{rule.each}/{index}"
                failures.append(Failure(rule, tuple(base + p for p in rule.pointers)))
    return failures


def _combined(rules: Sequence[Rule]) -> str:
    """One expression true when no rule says false: one call per record on the clean path."""
    parts = []
    for rule in rules:
        if rule.each is None:
            parts.append(f"$not(({rule.expression}) = false)")
        else:
            parts.append(f"$count({rule.each}[({rule.expression}) = false]) = 0")
    return "($record := $; " + " and ".join(parts) + ")"


class Clock:
    """The rules' context without a service, renewed each minute so midnight moves on."""

    def __init__(self) -> None:
        self._at = -1.0
        self._bindings: dict[str, Any] = {}

    def bindings(self) -> dict[str, Any]:
        import time

        now = time.monotonic()
        if now - self._at > 60:
            self._bindings, self._at = Context.now().bindings(), now
        return self._bindings


def reads_service(rule: Rule) -> bool:
    return "$service" in rule.expression


def verdict(rules: Sequence[Rule], clock: Clock) -> Any:
    """A bare pass or fail of every rule at once, for records judged in bulk.

    A record that fails is explained by `check_rules`; one whose rules cannot judge passes, as
    there. Rules that read the service pass when it is unknown, so without one they are left
    out of the call rather than asked.
    """
    if not rules:
        return None
    where = f"the rules of {rules[0].record_type}"
    every = Compiled(_combined(rules), where)
    alone = [rule for rule in rules if not reads_service(rule)]
    without_service = Compiled(_combined(alone), where) if alone else None

    def passes(record: Any, bindings: Mapping[str, Any] | None = None) -> bool:
        """`bindings` (a Context's) default to the clock's, without a service."""
        given = clock.bindings() if bindings is None else dict(bindings)
        combined = every if "service" in given else without_service
        if combined is None:
            return True
        try:
            return combined.evaluate(record, given, timeout=TIMEOUT_MS) is not False
        except (ValueError, TypeError, OverflowError):  # an expression error, or a number too big
            return True

    return passes
