"""JSONata's meaning, as the compiled expressions call it: sequences, truth, comparison, functions.

Each helper follows JSONata's reference implementation for the values JSON gives (dict, list,
str, int, float, bool, None) and `UNDEFINED`. Where a value would need JSONata's number
formatting or its date parsing beyond RFC 3339, a helper raises
`DeclinedError` and the whole expression is evaluated again by jsonatapy, so answers never differ.
One departure is deliberate: integers are exact here, where JSONata's doubles round beyond
2**53 and jsonatapy refuses them beyond 2**63.

A sequence JSONata builds while it maps is a tuple, which JSON never gives: unlike an array in
the data, it is flattened into the next, and one of a single item is that item.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn


class DeclinedError(Exception):
    """A value the native helpers leave to jsonatapy, which evaluates the expression again."""


class JsonataError(ValueError):
    """An error JSONata itself raises (a type mismatch, a bad argument), with its code."""


class _Undefined:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()
U = UNDEFINED
MISSING: Any = object()  # not in a memo


def fail(code: str, message: str) -> NoReturn:
    raise JsonataError(f"{code}: {message}")


def normal(value: Any) -> Any:
    """A sequence of one is its item, and of none is undefined (JSONata's every result)."""
    if type(value) is tuple:
        if not value:
            return U
        if len(value) == 1:
            return value[0]
    return value


def lookup(value: Any, key: str) -> Any:
    kind = type(value)
    if kind is dict:
        return value.get(key, U)
    if kind is list or kind is tuple:
        found: list[Any] = []
        for item in value:
            got = lookup(item, key)
            if got is not U:
                if type(got) is list or type(got) is tuple:
                    found.extend(got)
                else:
                    found.append(got)
        return normal(tuple(found))
    return U


def gathered(results: list[Any]) -> Any:
    """A step's results as one sequence: a lone array as it is, else arrays flattened once.

    JSONata keeps a lone array only at a path's last step; before another step, keeping it
    or flattening it gives that step the same items, so every step here keeps it.
    """
    if len(results) == 1 and type(results[0]) is list:
        return results[0]
    found: list[Any] = []
    for result in results:
        if type(result) is list or type(result) is tuple:
            found.extend(result)
        else:
            found.append(result)
    return tuple(found)


def walk(value: Any, key: str) -> Any:
    """One step of a path by a field name, over what the step before gave (not normalised)."""
    if value is U:
        return U
    if type(value) is not list and type(value) is not tuple:
        value = (value,)
    taken = [item.get(key, U) if type(item) is dict else lookup(item, key) for item in value]
    for got in taken:
        if got is U or type(got) is list or type(got) is tuple:
            break
    else:  # nearly always: one value from each item, none of them an array
        return tuple(taken)
    found: list[Any] = []
    arrays, lone = 0, None
    for got in taken:
        if got is U:
            continue
        if type(got) is list or type(got) is tuple:
            arrays += 1
            lone = got
            found.extend(got)
        else:
            found.append(got)
    if arrays == 1 and type(lone) is list and len(found) == len(lone):
        return lone
    return tuple(found)


def step(value: Any, function: Any, filters: tuple[Any, ...]) -> Any:
    """One step of a path by an expression, or by a name with filters (`[...]`) after it."""
    if value is U:
        return U
    if type(value) is not list and type(value) is not tuple:
        value = (value,)
    results = []
    for item in value:
        got = function(item)
        if got is U:
            continue
        for apply in filters:
            got = apply(got)
        results.append(got)
    return gathered(results)


def filtered(value: Any, filters: tuple[Any, ...]) -> Any:
    """Filters after anything but a path step, which `step` filters itself."""
    if value is U:
        return U
    for apply in filters:
        value = apply(value)
    return value


def at_index(value: Any, number: Any) -> Any:
    """`[n]`: the item at n (from the end when negative), or an empty sequence.

    The item is given as it is, not as a sequence of one: every step and filter after it
    treats the two alike, and the path's value is normalised anyway.
    """
    sequence = value if type(value) is list or type(value) is tuple else [value]
    index = math.floor(number)
    if index < 0:
        index += len(sequence)
    return sequence[index] if 0 <= index < len(sequence) else ()


def items(value: Any) -> Any:
    """What a filter runs over: a sequence or an array as it is, anything else as one item."""
    return value if type(value) is list or type(value) is tuple else (value,)


def where(value: Any, predicate: Any) -> tuple[Any, ...]:
    """`[predicate]`: the items it holds for, or picks by position when it gives numbers."""
    sequence = value if type(value) is list or type(value) is tuple else [value]
    found = []
    for position, item in enumerate(sequence):
        verdict = predicate(item)
        if verdict is True:
            found.append(item)
        elif verdict is False or verdict is U:
            continue
        elif is_number(verdict):
            if _picks(verdict, position, len(sequence)):
                found.append(item)
        elif (type(verdict) is list or type(verdict) is tuple) and all(map(is_number, verdict)):
            if any(_picks(number, position, len(sequence)) for number in verdict):
                found.append(item)
        elif truthy(verdict):
            found.append(item)
    return tuple(found)


def _picks(number: Any, position: int, length: int) -> bool:
    index = math.floor(number)
    return bool((index + length if index < 0 else index) == position)


def is_number(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return True
    return kind is float and math.isfinite(value)


def _number(value: Any) -> Any:
    """A number JSONata can hold; Python's json also reads NaN and Infinity, jsonatapy judges."""
    if type(value) is float and not math.isfinite(value):
        raise DeclinedError("a number that is not finite")
    return value


def truthy(value: Any) -> bool:
    kind = type(value)
    if kind is bool:
        return bool(value)
    if kind is str:
        return len(value) > 0
    if kind is int or kind is float:
        return bool(value != 0)
    if kind is list or kind is tuple:
        if len(value) == 1:
            return truthy(value[0])
        return any(truthy(item) for item in value)
    if kind is dict:
        return len(value) > 0
    return False


def _kind(value: Any) -> str:
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is int or kind is float:
        return "number"
    if kind is str:
        return "string"
    if value is None:
        return "null"
    if value is U:
        return "undefined"
    if kind is dict:
        return "object"
    return "array"


def same(left: Any, right: Any) -> bool:
    """JSONata's deep equality: numbers by value, but true is not 1."""
    left_kind, right_kind = _kind(left), _kind(right)
    if left_kind != right_kind:
        return False
    if left_kind == "array":
        return len(left) == len(right) and all(map(same, left, right))
    if left_kind == "object":
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if left_kind == "number":
        return bool(_number(left) == _number(right))
    return bool(left == right)


def equal(left: Any, right: Any) -> bool:
    if left is U or right is U:
        return False
    return same(left, right)


def unequal(left: Any, right: Any) -> bool:
    if left is U or right is U:
        return False
    return not same(left, right)


_COMPARABLE = ("number", "string", "undefined")


def _comparison(symbol: str, compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    """`<`, `<=`, `>`, `>=`: numbers with numbers, text with text, undefined with either."""

    def compared(left: Any, right: Any) -> Any:
        left_kind, right_kind = _kind(left), _kind(right)
        if left_kind not in _COMPARABLE or right_kind not in _COMPARABLE:
            fail("T2010", f"cannot compare with operator {symbol!r}")
        if left is U or right is U:
            return U
        if left_kind != right_kind:
            fail("T2009", f"the two sides of {symbol!r} are of different types")
        return compare(_number(left), _number(right))

    return compared


less = _comparison("<", operator.lt)
at_most = _comparison("<=", operator.le)
more = _comparison(">", operator.gt)
at_least = _comparison(">=", operator.ge)


def _operands(left: Any, right: Any, symbol: str) -> bool:
    """True when both sides are numbers; False when either is undefined."""
    if left is not U and not is_number(left):
        fail("T2001", f"the left side of {symbol!r} must be a number")
    if right is not U and not is_number(right):
        fail("T2002", f"the right side of {symbol!r} must be a number")
    return left is not U and right is not U


def _arithmetic(symbol: str, compute: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def computed(left: Any, right: Any) -> Any:
        return _number(compute(left, right)) if _operands(left, right, symbol) else U

    return computed


add = _arithmetic("+", operator.add)
subtract = _arithmetic("-", operator.sub)
multiply = _arithmetic("*", operator.mul)


def divide(left: Any, right: Any) -> Any:
    if not _operands(left, right, "/"):
        return U
    if right == 0:
        raise DeclinedError("division by zero")
    return _number(left / right)


def remainder(left: Any, right: Any) -> Any:
    if not _operands(left, right, "%"):
        return U
    if right == 0:
        raise DeclinedError("division by zero")
    if type(left) is int and type(right) is int:
        rest = abs(left) % abs(right)
        return -rest if left < 0 else rest
    return _number(math.fmod(left, right))


def negate(value: Any) -> Any:
    if value is U:
        return U
    if not is_number(value):
        fail("D1002", "cannot negate a value that is not a number")
    return -_number(value)


def includes(left: Any, right: Any) -> bool:
    if left is U or right is U:
        return False
    if type(left) is dict or type(left) is list or type(left) is tuple:
        raise DeclinedError("'in' with an object or an array on its left")
    items = right if type(right) is list or type(right) is tuple else [right]
    kind = _kind(left)
    return any(_kind(item) == kind and item == left for item in items)


def text(value: Any) -> str:
    """`$string` of a value, as `&` casts it (undefined is the empty string there)."""
    kind = type(value)
    if kind is str:
        return str(value)
    if value is U:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int and -(10**15) < value < 10**15:
        return str(value)
    if kind is float and math.isfinite(value):
        rounded = float(f"{value:.15g}")
        if rounded.is_integer() and abs(rounded) < 1e15:
            return str(int(rounded))
        if 1e-4 <= abs(rounded) < 1e15:
            return repr(rounded)
    raise DeclinedError("JSONata's formatting of this value")


def array(*items: tuple[Any, bool]) -> list[Any]:
    """An array constructor: (value, is it itself a constructor) for each item."""
    found: list[Any] = []
    for value, constructed in items:
        if value is U:
            continue
        if not constructed and (type(value) is list or type(value) is tuple):
            found.extend(value)
        else:
            found.append(value)
    return found


def array_of(value: Any) -> list[Any]:
    """`[value]`, for one value that is not itself an array constructor."""
    if value is U:
        return []
    if type(value) is list or type(value) is tuple:
        return list(value)
    return [value]


def sum_of_field(value: Any, key: str, none: Any) -> Any:
    """`$sum` of a path ending in a field name, given what the steps before it gave.

    Objects holding whole numbers (or not the field) are summed at once; anything else the
    general way, as `$sum(normal(walk(value, key)))`. `none` is the answer when the path
    gives nothing: undefined, or 0 for `$sum([path])`.
    """
    if type(value) is list or type(value) is tuple:
        total, found = 0, 0
        for item in value:
            got = item.get(key, U) if type(item) is dict else None
            if type(got) is int:
                total += got
                found += 1
            elif got is not U:
                break
        else:
            return total if found else none
    given = normal(walk(value, key))
    return none if given is U else f_sum(given)


def f_sum(value: Any) -> Any:
    if value is U:
        return U
    items = value if type(value) is list or type(value) is tuple else [value]
    total: Any = 0
    for item in items:
        kind = type(item)
        if kind is not int and not (kind is float and math.isfinite(item)):
            fail("T0412", "argument 1 of $sum must be an array of numbers")
        total += item
    return _number(total)


def f_count(value: Any) -> int:
    if value is U:
        return 0
    return len(value) if type(value) is list or type(value) is tuple else 1


def f_exists(value: Any) -> bool:
    return value is not U


def f_not(value: Any) -> Any:
    return U if value is U else not truthy(value)


def f_distinct(value: Any) -> Any:
    if value is U:
        return U
    if not (type(value) is list or type(value) is tuple) or len(value) <= 1:
        return value
    if all(type(item) is str for item in value):
        found = list(dict.fromkeys(value))
    else:
        found = []
        for item in value:
            if not any(same(item, kept) for kept in found):
                found.append(item)
    return normal(tuple(found)) if type(value) is tuple else found


def f_abs(value: Any) -> Any:
    if value is U:
        return U
    if not is_number(value):
        fail("T0410", "argument 1 of $abs must be a number")
    return abs(value)


def f_substring(value: Any, start: Any, length: Any = U) -> Any:
    if value is U:
        return U
    if type(value) is not str:
        fail("T0410", "argument 1 of $substring must be a string")
    for number in (start, length):
        if number is U:
            continue
        if not is_number(number):
            fail("T0410", "the position and length of $substring must be numbers")
        if type(number) is float and not number.is_integer():
            raise DeclinedError("a fractional position")
    size = len(value)
    start = int(start)
    if size + start < 0:
        start = 0
    if length is U:
        return value[start:]
    if length <= 0:
        return ""
    end = start + int(length) if start >= 0 else size + start + int(length)
    return value[start:end]


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


# The commonest date-times, whole seconds with an offset or Z, by their digits made 0: telling
# them by this costs a third of the regular expression's match.
_WHOLE_SECONDS = frozenset(
    {b"0000-00-00T00:00:00Z", b"0000-00-00T00:00:00+00:00", b"0000-00-00T00:00:00-00:00"}
)
_DIGITS_AS_0 = bytes.maketrans(b"123456789", b"000000000")


_KNOWN_MILLIS: dict[str, int] = {}  # date-times already read: records of a batch share a few
KNOWN_MILLIS = 1024


def f_toMillis(value: Any) -> Any:  # noqa: N802 (JSONata's name)
    """Milliseconds since 1970 of an RFC 3339 date-time (its fraction cut, not rounded).

    Records published together tend to give the same moment (every snapshot "as at" 09:00),
    so the last thousand or so read are remembered: a look-up costs a fifth of reading one.
    """
    if value is U:
        return U
    if type(value) is not str:
        fail("T0410", "argument 1 of $toMillis must be a string")
    found = _KNOWN_MILLIS.get(value)
    if found is None:
        found = _millis(value)
        if len(_KNOWN_MILLIS) >= KNOWN_MILLIS:
            _KNOWN_MILLIS.clear()
        _KNOWN_MILLIS[value] = found
    return found


def _millis(value: str) -> int:
    """`$toMillis` of a date-time not remembered.

    A date-time in whole seconds takes a shorter way: the seconds since 1970 of an aware
    datetime without microseconds are a float holding a whole number exactly.
    """
    if value.encode().translate(_DIGITS_AS_0) in _WHOLE_SECONDS:
        try:
            return int(datetime.fromisoformat(value).timestamp()) * 1000
        except ValueError:
            raise DeclinedError("a date or time that does not exist") from None
    if _TIMESTAMP.fullmatch(value) is None:
        raise DeclinedError("a timestamp other than RFC 3339's date-time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DeclinedError("a date or time that does not exist") from None
    result: int = (moment - _EPOCH) // _MILLISECOND
    return result


def f_string(value: Any) -> Any:
    return U if value is U else text(value)


def f_lookup(value: Any, key: Any) -> Any:
    if key is not U and type(key) is not str:
        fail("T0410", "argument 2 of $lookup must be a string")
    if key is U or value is U:
        return U
    if type(value) is dict:
        return value.get(key, U)
    return lookup(value, key)


def f_join(value: Any, separator: Any = U) -> Any:
    if separator is not U and type(separator) is not str:
        fail("T0410", "argument 2 of $join must be a string")
    if value is U:
        return U
    texts = value if type(value) is list or type(value) is tuple else (value,)
    if any(type(item) is not str for item in texts):
        fail("T0412", "argument 1 of $join must be an array of strings")
    return ("" if separator is U else separator).join(texts)


# JSONata's functions by name, with the least and most arguments each takes.
FUNCTIONS = {
    "sum": (f_sum, 1, 1),
    "count": (f_count, 1, 1),
    "exists": (f_exists, 1, 1),
    "not": (f_not, 1, 1),
    "distinct": (f_distinct, 1, 1),
    "abs": (f_abs, 1, 1),
    "substring": (f_substring, 2, 3),
    "toMillis": (f_toMillis, 1, 1),
    "string": (f_string, 1, 1),
    "lookup": (f_lookup, 2, 2),
    "join": (f_join, 1, 2),
}


def wrong_arguments(name: str) -> NoReturn:
    fail("T0410", f"${name} was given the wrong number of arguments")


def exported(value: Any) -> Any:
    """A result as jsonatapy gives it: undefined is None and sequences are lists."""
    if value is U:
        return None
    if type(value) is tuple:
        return [exported(item) for item in value]
    return value
