"""Make schemathesis 4.24 generate with the libraries the project installs beside it.

Two of its generators fail with an AttributeError on every schema with the versions pinned here:

- schemathesis builds its strategies from `jsonschema_rs.canonicalize(...)` and asks the result
  `is_satisfiable()`, which jsonschema-rs 0.61 (the standard's pin) renamed `satisfiability()`
  (`yes`/`no`/`unknown`);
- its fallback for objects, hypothesis-jsonschema 0.23, draws members with `while
  elements.more(): ...` on Hypothesis' internal `many`, which the installed Hypothesis turned
  into a context manager and iterator without `more()`.

`install()` replaces the one function and gives `many` its `more()` back. Each repair is a no-op
once the versions agree again. The conformance suite (`CX-SPEC-*`) and the project's own
schemathesis tests call it before they generate anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
from hypothesis.internal.conjecture import utils as conjecture_utils
from hypothesis.strategies import SearchStrategy
from jsonschema_rs.canonical import CanonicalKind, Satisfiability
from schemathesis.config import GenerationConfig
from schemathesis.core.jsonschema import CANONICALIZE_DRAFT_BY_VALIDATOR
from schemathesis.generation.jsonschema import Alphabet, StrategyContext
from schemathesis.generation.jsonschema.strategy import UnsupportedView
from schemathesis.generation.jsonschema.strategy import from_schema as canonical_from_schema
from schemathesis.specs.openapi import _hypothesis as openapi_hypothesis

_DONE = object()


def canonical_strategy_or_none(
    schema: Any, generation_config: GenerationConfig, validator_cls: Any
) -> SearchStrategy[Any] | None:
    """The `_canonical_strategy_or_none` of schemathesis, asking jsonschema-rs 0.61 its way."""
    try:
        draft = CANONICALIZE_DRAFT_BY_VALIDATOR[validator_cls]
        canonical = jsonschema_rs.canonicalize(schema, draft=draft)
    except (jsonschema_rs.ValidationError, jsonschema_rs.canonical.CanonicalizationError):
        return None
    if canonical.kind == CanonicalKind.RAW or canonical.satisfiability() == Satisfiability.NO:
        return None
    alphabet = Alphabet(allow_x00=generation_config.allow_x00, codec=generation_config.codec)
    try:
        return canonical_from_schema(canonical, StrategyContext(alphabet=alphabet))
    except UnsupportedView:
        return None


def route_around_canonical_generation() -> None:
    """Make schemathesis 4.24 work with jsonschema-rs 0.61 (see the module's docstring)."""
    if hasattr(jsonschema_rs.canonicalize({"type": "string"}), "is_satisfiable"):
        return
    setattr(openapi_hypothesis, "_canonical_strategy_or_none", canonical_strategy_or_none)  # noqa: B010


def many_more(self: conjecture_utils.many) -> bool:
    """The pre-6.16x `many.more()`: one step of the iterator the new `many` offers instead."""
    iterator: Iterator[None] | None = self.__dict__.get("_legacy_iterator")
    if iterator is None:
        self.__enter__()
        iterator = self.__dict__["_legacy_iterator"] = iter(self)
    if next(iterator, _DONE) is _DONE:
        self.__exit__(None)
        return False
    return True


def give_many_its_more_back() -> None:
    """Make hypothesis-jsonschema 0.23 work with the installed Hypothesis (see the docstring)."""
    if not hasattr(conjecture_utils.many, "more"):
        setattr(conjecture_utils.many, "more", many_more)  # noqa: B010


def install() -> None:
    """Both repairs; safe to call any number of times."""
    route_around_canonical_generation()
    give_many_its_more_back()
