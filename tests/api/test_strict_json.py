"""The strict JSON reader: what it refuses, where it says the fault is, and what it keeps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_exchange_server.strict_json import MAX_DEPTH, JsonError, loads

# JSON values the reader must accept: finite numbers, text without lone surrogates or NUL, and
# nesting well within the limit.
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00")
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=25,
)


@given(VALUES, st.booleans())
def test_what_json_allows_strictly_comes_back_unchanged(value: Any, ascii_only: bool) -> None:
    assert loads(json.dumps(value, ensure_ascii=ascii_only).encode()) == value


def refusal(raw: bytes) -> JsonError:
    with pytest.raises(JsonError) as refused:
        loads(raw)
    return refused.value


@pytest.mark.parametrize(
    ("raw", "pointer", "in_text"),
    [
        (b'{"b": {"c": 1, "c": 2}}', "/b/c", False),
        (b'{"a": [1, ' + b"9" * 5000 + b"]}", "/a/1", False),
        (b'{"a": {"b": -1e400}}', "/a/b", False),
        (b'{"id": "\\ud800"}', "/id", True),
        (b'{"notes": "a\\udc00b"}', "/notes", True),
        (b'{"x": ["\\udfff\\ud800"]}', "/x/0", True),
        (b'{"a\\u0000": 1}', "/a\x00", True),
        (b'{"text": "a\\u0000"}', "/text", True),
        (b'{"a/b~": {"a": 1, "a": 2}}', "/a~1b~0/a", False),
    ],
)
def test_refusals_point_at_the_place(raw: bytes, pointer: str, in_text: bool) -> None:
    refused = refusal(raw)
    assert (refused.pointer, refused.in_text) == (pointer, in_text)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
        ('{"a": 1}'.encode("utf-16-le"), "not valid JSON"),
        (b'{"a": ', "line 1, column 7"),
        (b'{"a": NaN}', "NaN is not a JSON value"),
        (b"[-Infinity]", "-Infinity is not a JSON value"),
        (b"[" * 300 + b"]" * 300, f"more than {MAX_DEPTH} levels"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels"),
        (b"", "not valid JSON"),
    ],
)
def test_refusals_say_why(raw: bytes, says: str) -> None:
    refused = refusal(raw)
    assert says in refused.message
    assert not refused.in_text


def test_nesting_up_to_the_limit_and_surrogate_pairs_are_accepted() -> None:
    deepest = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert loads(deepest) is not None
    assert loads(b'{"smile": "\\ud83d\\ude00"}') == {"smile": "\U0001f600"}
    assert loads(b'{"escaped": "\\\\ud800"}') == {"escaped": "\\ud800"}
