"""Records drawn from the standard's examples, changed here and there, for property tests.

Shared by the native evaluator's tests (against jsonatapy) and the rules' (the bulk verdict
against the explanation), so both meet the same kinds of odd record.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from hypothesis import strategies as st

from care_exchange_standard import SCHEMA_DIR

_DATES = ["2025-03-01", "2025-02-28", "2025-04-30", "2024-02-29", "2026-01-01"]
_TIMESTAMPS = [
    "2025-03-01T09:30:00Z",
    "2025-03-01T09:30:00.123+01:00",
    "2025-02-28T23:00:00-05:30",
    "2026-01-01T00:00:00Z",
    "2025-03-01",
    "2025-13-01T00:00:00Z",
]
_STRANGERS: st.SearchStrategy[Any] = st.sampled_from([None, True, "text", 2.5, -1, [], {}, [1, 2]])


def examples_of(record_type: str) -> list[Any]:
    """Valid and invalid examples alike: the invalid ones break the rules on purpose. Each call
    parses them anew, so no test sees what another did to them."""
    return [json.loads(text) for text in _example_texts(record_type)]


@functools.cache
def _example_texts(record_type: str) -> tuple[str, ...]:
    paths = sorted((SCHEMA_DIR / "examples").glob(f"*/{record_type}/*.json"))
    return tuple(path.read_text(encoding="utf-8") for path in paths)


def mutated(data: st.DataObject, value: Any, words: list[str], numbers: bool = True) -> Any:
    """An example record changed here and there: numbers, dates and codes redrawn, fields
    dropped, now and then a value of another type, so every rule meets both verdicts. With
    `numbers` false the example's numbers stay, so the sums that add up still do."""
    if isinstance(value, dict):
        found = {}
        for key, item in value.items():
            if data.draw(st.integers(0, 9)) == 0:
                continue
            found[key] = mutated(data, item, words, numbers)
        return found
    if isinstance(value, list):
        items = [mutated(data, item, words, numbers) for item in value]
        if items and data.draw(st.integers(0, 5)) == 0:
            items.append(data.draw(st.sampled_from(items)))
        return items
    if data.draw(st.integers(0, 15)) == 0:
        return data.draw(_STRANGERS)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        if not numbers:
            return value
        drawn = st.one_of(st.just(value), st.integers(0, 3), st.sampled_from([0.5, 9.995]))
        return data.draw(drawn)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return data.draw(st.sampled_from([value, *_DATES]))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", value):
        return data.draw(st.sampled_from([value, *_TIMESTAMPS]))
    return data.draw(st.sampled_from([value, value, *words]))


def drawn_bindings() -> st.SearchStrategy[dict[str, Any]]:
    service = st.fixed_dictionaries(
        {},
        optional={
            "serviceType": st.sampled_from(
                ["care-home-with-nursing", "care-home-without-nursing", "care-at-home", 3]
            ),
            "geography": st.fixed_dictionaries(
                {}, optional={"country": st.sampled_from(["scotland", "england"])}
            ),
        },
    )
    return st.fixed_dictionaries(
        {
            "latestDate": st.sampled_from(["2025-03-02", "2025-01-01"]),
            "latestMillis": st.sampled_from([1740873600000, 1735689600000]),
        },
        optional={"service": service},
    )
