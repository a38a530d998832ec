"""A record's canonical bytes: orjson's where it can, the same as `json` would write them."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_exchange_client.bulk import canonical

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=12)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def _by_json(record: Any) -> bytes:
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


@given(st.dictionaries(st.text(max_size=8), VALUES, max_size=6))
def test_the_bytes_are_jsons_sorted_compact_utf8(record: dict[str, Any]) -> None:
    assert canonical(record) == _by_json(record)


def test_a_number_beyond_64_bits_is_still_written() -> None:
    record = {"places": 2**70, "b": [1]}
    assert canonical(record) == _by_json(record) == b'{"b":[1],"places":1180591620717411303424}'


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_number_json_cannot_carry_is_refused_not_sent_as_null(number: float) -> None:
    with pytest.raises(ValueError):
        canonical({"occupied": number})
