"""Checks, each with a stable id, the clause it enforces and a level; and how a run picks them.

Ids never change meaning once published (`CX-<AREA>-NNN`): reports are compared across runs and
vendors, and `--only`/`--skip` patterns in CI pipelines name them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from fnmatch import fnmatchcase
from typing import Any

from care_exchange_conformance.evidence import Exchange

CHECK_ID = re.compile(r"^CX-([A-Z]+)-(\d{3})$")
SPEC = "spec/openapi.yaml"


def spec_clause(*members: str) -> str:
    """A clause in the OpenAPI document: `spec_clause("paths", "/jwks.json", "get")`."""
    escaped = (member.replace("~", "~0").replace("/", "~1") for member in members)
    return f"{SPEC}#/{'/'.join(escaped)}"


class Level(IntEnum):
    """1: an implementation that fails it does not conform. 2: it should, and usually must."""

    REQUIRED = 1
    RECOMMENDED = 2


@dataclass(frozen=True)
class Failure:
    """Why a check failed, in words a developer can act on, with what it saw."""

    message: str
    expected: str
    exchange: Exchange | None = None


class CheckFailedError(Exception):
    """Raised by a check at its first failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class NotApplicableError(Exception):
    """Raised by a check whose subject the implementation does not offer, or the run lacks."""


class Target(StrEnum):
    """What a check examines.

    An implementation of the API (`conformance run`), or a subscriber's webhook endpoint
    (`conformance receiver`).
    """

    SERVER = "server"
    WEBHOOK_RECEIVER = "webhook-receiver"


# A server check takes a `Context`, a receiver check a `Sender`: each names its own.
Run = Callable[[Any], None]


@dataclass(frozen=True)
class Check:
    """One check of the suite."""

    id: str
    title: str
    clause: str
    level: Level
    run: Run
    target: Target = Target.SERVER

    @property
    def area(self) -> str:
        found = CHECK_ID.match(self.id)
        assert found is not None
        return found[1]


REGISTRY: dict[str, Check] = {}


def check(
    check_id: str,
    title: str,
    *,
    clause: str,
    level: Level = Level.REQUIRED,
    target: Target = Target.SERVER,
) -> Callable[[Run], Run]:
    """Register the decorated function as a check."""
    if not CHECK_ID.match(check_id):
        raise ValueError(f"{check_id!r} is not a check id (CX-<AREA>-NNN)")
    if check_id in REGISTRY:
        raise ValueError(f"{check_id} is registered twice")

    def register(run: Run) -> Run:
        REGISTRY[check_id] = Check(check_id, title, clause, level, run, target)
        return run

    return register


def select(
    checks: Iterable[Check],
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    level: Level = Level.RECOMMENDED,
    target: Target | None = None,
) -> list[Check]:
    """The checks a run performs, in id order: `only` and `skip` are id patterns (`CX-AUTH-*`).

    With `target`, only the checks of that target.
    """

    def named(found: Check, patterns: Sequence[str]) -> bool:
        return any(fnmatchcase(found.id, pattern.upper()) for pattern in patterns)

    return sorted(
        (
            found
            for found in checks
            if found.level <= level
            and (target is None or found.target is target)
            and (not only or named(found, only))
            and not named(found, skip)
        ),
        key=lambda found: found.id,
    )
