"""The native evaluator answers as jsonatapy does: same value, or an error where it errs.

Every rule of the standard and nearly every return template's expression runs natively (tests
say which, so none falls back to the slow path unnoticed), and Hypothesis draws records made of
the very names those expressions read, with values of every JSON type, to compare both.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from typing import Any

import jsonatapy
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from care_exchange_standard import SCHEMA_DIR
from care_exchange_standard.jsonata_native import (
    Expression,
    Natives,
    compiling,
    native,
    natives,
    runtime,
    value_of,
    verdict_of,
)
from care_exchange_standard.jsonata_native.runtime import DeclinedError, JsonataError, exported
from care_exchange_standard.returns.selection import input_key
from tests.schemas.drawn_records import drawn_bindings, examples_of, mutated

RULE_EXPRESSIONS = sorted(
    {
        rule["expression"]
        for path in sorted((SCHEMA_DIR / "rules").glob("*.json"))
        for rule in json.loads(path.read_text(encoding="utf-8"))["rules"]
    }
)

# Behaviour pinned by hand, beyond what generated data reaches.
CASES = [
    "a",
    "$exists(a)",
    "b.x",
    "c.x",
    "$count(c.x)",
    "n < 3",
    "t < 3",
    '"a" < 3',
    "x < 3",
    'true or (1 < "a")',
    'false and (1 < "a")',
    '(1 < "a") or true',
    "[1, 2] < 3",
    '$sum("a")',
    '$sum([1, "a"])',
    "1 in [true]",
    "$not(x)",
    "$substring(5, 0, 1)",
    '$toMillis("2024-01-01T10:00:00.5+01:00")',
    '$toMillis("2024-02-30T10:00:00Z")',
    "$string(1.0)",
    '1.5 & "x"',
    "c[-1]",
    "b[0]",
    "$distinct([1, 1.0, 2])",
    "true = 1",
    "n = null",
    "$",
    "$$.s",
    "x = 1",
    "x != 1",
    "x + 1",
    '"a" + 1',
    'x + "a"',
    "-x",
    '-"a"',
    "o and true",
    "a or false",
    "[0] and true",
    "[0, 1] and true",
    "($x := 1; $x) + $x",
    "($x := b; $x[0].x)",
    "b[x = 1]",
    "b[0].x",
    "c[x > 2]",
    "c[x = 1]",
    "c[[0, 1]]",
    "c[1].x[0]",
    '$substring("abcdef", -2)',
    '$substring("abcdef", 1, -1)',
    "$count(s)",
    "$exists(n)",
    "$not(o)",
    "$distinct(5)",
    "$distinct(c.x)",
    "$sum([])",
    "$sum(x)",
    "7 / 2",
    "7 % -3",
    "-7 % 3",
    "1 / 0",
    '"x" in s',
    's in "abc"',
    "(1; 2)",
    "()",
    'b.(x & "y")',
    "$count($distinct(b.(x & $string(y))))",
    'null & "a"',
    '0.1 + 0.2 & ""',
    "t ? 1 : 2",
    "n ? 1",
    "b ? b[-1].x : 0",
    "$count([b, [c]])",
    "$.b.x",
    "$substring(s, 1)",
    "$abs(-2.5)",
    "`s`",
    "c.x[1]",
    '$lookup({"abc": 1, "x": "y"}, s)',
    '$lookup({"abc": 1}, n)',
    '$lookup({"abc": 1}, x)',
    '$lookup({"abc": 1}, 1)',
    '$lookup(b, "x")',
    '$lookup(c, "x")',
    '$lookup(s, "x")',
    '{"a": 1, "b": "x"}',
    '{"a": 1, "b": null, "c": true}',
    '$join(["a", s], "; ")',
    "$join(s)",
    "$join(x)",
    "$join(a)",
    '$join(b.x, ",")',
    "$join([s, 1])",
    "$join([s], 1)",
    's in ["abc", "d"]',
    'x in ["abc"]',
    'c.x in ["abc", "d"]',
    '1 in ["1"]',
    's = "abc"',
    '"abc" = s',
    "c.x = 3",
    "3 < c.x[0]",
    "c.x[0] >= 1",
    "c.x[-2]",
    "c.x[5]",
    "c[0].x[-1]",
    "b[-1][0].x",
    "$sum([c.x])",
    "$sum([x])",
    "[c.x]",
    "c[x = 3 and true].x",
    "c[x > 1 or false]",
    "b[x][0]",
    "b[0][x = 1]",
    "c[x > 0][x = 3]",
    "c[x = 3][0]",
    "c[0][x = [1, 2]]",
    "$sum(b.x)",
    "$sum([b.x])",
    "$sum(c.x)",
    "$sum([c.y])",
    "$sum(c.y)",
    "$sum(b[0].x)",
    "$sum(o.x)",
    "$sum([s.x])",
    "$sum($.b.x)",
    "b.x + b.x + b.x",
    "b.x + b.x + b.x = 3",
    "b.x + c.x + b.x",
    "b.x + x + b.x",
    "b.x + s + b.x",
    "b.x + t + b.x",
    "$.b.x + b.x + o.x",
    's & x & "!"',
    's & "\\"" & x',  # a quote, a backslash, braces, a colon and a hash: an f-string's snags
    's & "\\\\" & x',
    's & "{x}" & t & "}{" & x',
    "s & 'a:b#c' & x",
    's & "it\'s"',
    '$distinct(b.(x & "-" & y))',
    '$count($distinct(c.("k" & y)))',
    '$count($distinct(a.("k" & y)))',
    '$count($distinct(o.("k" & y)))',
    '$count($distinct(c.("k" & y))[0])',
    '$count($distinct(c.(x & "k")))',
    '$count($distinct(s.("k" & y)))',
    '$count($distinct(z.("k" & y)))',
    '$count($distinct(c.x.("k" & y)))',
    '$distinct(c.("k" & y))',
    '$distinct(a.("k" & y))',
    'b.x < 3 ? "y" : "n"',
    'x < 3 ? "y" : "n"',
    '(b.x >= s) ? "y" : "n"',
    "b.x > 3 or b.x <= 1",
    "$not(b.x > 3)",
    "c.x <= b.x",
]
DATA = {
    "a": [],
    "b": [{"x": 1}],
    "c": [{"x": [1, 2]}, {"x": 3}],
    "n": None,
    "t": True,
    "s": "abc",
    "o": {},
}


def reference(expression: str, data: Any, bindings: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "value", jsonatapy.compile(expression).evaluate(data, bindings)
    except ValueError:
        return "error", None


native_once = functools.cache(native)


def ours(expression: str, data: Any, bindings: dict[str, Any]) -> tuple[str, Any] | None:
    function = native_once(expression)
    assert function is not None, f"{expression!r} does not run natively"
    try:
        return "value", exported(function(data, bindings))
    except JsonataError:
        return "error", None
    except DeclinedError:
        return None


def agree(expression: str, data: Any, bindings: dict[str, Any]) -> None:
    found = ours(expression, data, bindings)
    if found is not None:
        assert found == reference(expression, data, bindings), (expression, data, bindings)


@pytest.mark.parametrize("expression", CASES)
def test_each_pinned_case_answers_as_jsonatapy_does(expression: str) -> None:
    agree(expression, DATA, {})


@pytest.mark.parametrize("expression", RULE_EXPRESSIONS)
def test_every_rule_runs_natively(expression: str) -> None:
    assert native(expression) is not None


TEMPLATE_FIELDS = [
    (path.stem, field)
    for path in sorted((SCHEMA_DIR / "return-templates").glob("*.json"))
    for field in json.loads(path.read_text(encoding="utf-8"))["fields"]
    if field["match"] != "unmapped"
]
TEMPLATE_IDS = [f"{template}/{field['code']}" for template, field in TEMPLATE_FIELDS]


# What the native evaluator leaves to jsonatapy in the shipped templates: lambdas, `$round`
# (JSONata rounds half to even on the decimal text) and objects whose values are arrays.
NOT_NATIVE = ("function(", "$round(")
OBJECTS_OF_ARRAYS = {
    "asc-wds-workplace-bulk-upload/" + code for code in ("SERVICEUSERS", "OTHERUSERDESC")
}


def runs_natively(template: str, field: dict[str, Any]) -> bool:
    """Whether the native evaluator is expected to take the field (else jsonatapy does)."""
    expression = field["expression"]
    return f"{template}/{field['code']}" not in OBJECTS_OF_ARRAYS and not any(
        text in expression for text in NOT_NATIVE
    )


def quoted_words(expressions: list[str]) -> list[str]:
    """The texts the expressions quote, for drawn values to meet their comparisons."""
    return sorted({word for text in expressions for word in re.findall(r'"([^"]*)"', text)})


@pytest.mark.parametrize(("template", "field"), TEMPLATE_FIELDS, ids=TEMPLATE_IDS)
def test_shipped_template_fields_run_natively(template: str, field: dict[str, Any]) -> None:
    assert (native(field["expression"]) is not None) == runs_natively(template, field)


def test_a_literal_object_is_a_new_object_each_time() -> None:
    """The object is built once when compiled; the caller must not get that one to change."""
    function = native('{"a": 1}')
    assert function is not None
    first = function({}, {})
    first["a"] = 2
    assert function({}, {}) == {"a": 1}


RULES = [
    rule
    for path in sorted((SCHEMA_DIR / "rules").glob("*.json"))
    for rule in json.loads(path.read_text(encoding="utf-8"))["rules"]
]


@pytest.mark.parametrize("rule", RULES, ids=[rule["code"] for rule in RULES])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_rule_answers_as_jsonatapy_does_on_drawn_records(
    rule: dict[str, Any], data: st.DataObject
) -> None:
    record_type = rule["code"].split("/")[0]
    words = re.findall(r'"([^"]*)"', rule["expression"])
    objects = re.findall(r"(?<![$\w.])([a-z]\w*)\.", rule["expression"])
    examples = examples_of(record_type)
    showing = [e for e in examples if any(f'"{name}"' in json.dumps(e) for name in objects)]
    example = data.draw(st.sampled_from(showing or examples))
    record = mutated(data, example, words, data.draw(st.booleans()))
    bindings = data.draw(drawn_bindings())
    if rule.get("each") is None:
        agree(rule["expression"], record, bindings)
        return
    items = record.get(rule["each"])
    for item in items if isinstance(items, list) else []:
        agree(rule["expression"], item, {**bindings, "record": record})


TEMPLATES = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted((SCHEMA_DIR / "return-templates").glob("*.json"))
}
NATIVE_FIELDS = {
    template: [
        field["expression"]
        for name, field in TEMPLATE_FIELDS
        if name == template and runs_natively(name, field)
    ]
    for template in TEMPLATES
}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.slow
@settings(
    max_examples=100,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_native_template_field_answers_as_jsonatapy_does_on_drawn_returns(
    template: str, data: st.DataObject
) -> None:
    """Each drawn return is asked every native field of its template: drawing a return costs
    many times what evaluating a field does. Not shrunk, for each try would ask every field
    again for minutes: the failure names the expression and the return."""
    expressions = NATIVE_FIELDS[template]
    found = _drawn_return(data, template, quoted_words(expressions))
    for expression in expressions:
        agree(expression, found, {})


def _drawn_return(data: st.DataObject, template: str, words: list[str]) -> dict[str, Any]:
    """A return's input: each record type's list holds none to three changed examples."""
    found: dict[str, Any] = {"period": {"kind": "month", "start": "2026-10-01"}}
    for root in ("service", "provider"):
        found[root] = mutated(data, data.draw(st.sampled_from(examples_of(root))), words)
    for record_type in TEMPLATES[template]["recordTypes"]:
        examples = examples_of(record_type)
        drawn = st.lists(st.sampled_from(examples), max_size=3)
        key = input_key(record_type)
        found[key] = [mutated(data, example, words) for example in data.draw(drawn)]
    return found


@functools.cache
def _template_natives(template: str) -> tuple[list[str], Natives]:
    fields = TEMPLATES[template]["fields"]
    expressions = [field["expression"] for field in fields if field["match"] != "unmapped"]
    return expressions, natives(expressions)


def _alone(function: Any, data: Any) -> Any:
    try:
        return value_of(function, data, {}, {})
    except (JsonataError, DeclinedError) as error:
        return type(error)


@pytest.mark.slow
@pytest.mark.parametrize("template", sorted(TEMPLATES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_templates_fields_asked_together_answer_as_each_alone(
    template: str, data: st.DataObject
) -> None:
    """One call for every native field (paths taken once on entry, fields read without a type
    test) gives each field's own value; where it raises, the worker asks each alone."""
    expressions, made = _template_natives(template)
    assert made.together is not None
    found = _drawn_return(data, template, quoted_words(expressions))
    alone = [_alone(function, found) for function in made.each if function is not None]
    try:
        together = made.together(found, {}, {})
    except Exception:  # the worker's fallback: each field alone
        event("the one call raised")
        return
    event("the one call answered")
    assert [exported(value) for value in together] == alone


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_a_templates_fields_asked_together_answer_for_its_own_examples(template: str) -> None:
    """The examples as published, unchanged: the one call answers, without a fallback."""
    _, made = _template_natives(template)
    assert made.together is not None
    found: dict[str, Any] = {"period": {"kind": "month", "start": "2026-10-01"}}
    found |= {root: examples_of(root)[0] for root in ("service", "provider")}
    for record_type in TEMPLATES[template]["recordTypes"]:
        found[input_key(record_type)] = examples_of(record_type)
    alone = [_alone(function, found) for function in made.each if function is not None]
    assert [exported(value) for value in made.together(found, {}, {})] == alone


def test_an_expression_outside_the_native_part_is_left_to_jsonatapy() -> None:
    expression = Expression('$uppercase(s) & $join(["a", "b"])')
    assert expression.native is None
    assert expression.evaluate(DATA, {}, timeout=200) == "ABCab"
    assert native('{"a": s}') is None  # an object constructor that reads the data


def test_a_value_the_native_helpers_decline_is_judged_by_jsonatapy() -> None:
    expression = Expression("n & s")
    assert expression.native is not None
    assert expression.evaluate({"n": 1e-7, "s": "x"}, {}, timeout=200) == "1e-7x"


def test_jsonatas_own_errors_are_value_errors_as_jsonatapys_are() -> None:
    with pytest.raises(ValueError, match="T2009"):
        Expression('1 < "a"').evaluate({}, {}, timeout=200)


def test_integers_beyond_64_bits_are_exact_where_jsonatapy_refuses_them() -> None:
    expression = Expression("a + b = c")
    assert expression.evaluate({"a": 2**70, "b": 1, "c": 2**70 + 1}, {}, timeout=200) is True
    assert expression.evaluate({"a": 2**70, "b": 1, "c": 2**70}, {}, timeout=200) is False


def test_the_parts_judging_one_lists_items_share_its_loop() -> None:
    """A part's false is the verdict, even where another part of the same loop cannot judge
    a later item; a part that raises first makes the caller ask each rule on its own."""
    verdict = verdict_of([("x < 3", "rows"), ("$count(rows) < 5", None), ("y = 1", "rows")])
    assert verdict is not None
    assert verdict({"rows": [{"x": 1, "y": 2}, {"x": "a", "y": 1}]}, {}) is False
    with pytest.raises(JsonataError, match="T2009"):
        verdict({"rows": [{"x": 1, "y": 1}, {"x": "a", "y": 1}]}, {})
    assert verdict({"rows": [{"x": 1, "y": 1}, {"x": 2, "y": 1}]}, {}) is True
    assert verdict({"rows": [{"x": 1, "y": 1}] * 5}, {}) is False
    assert verdict({"rows": "not a list"}, {}) is True
    assert verdict({}, {}) is True


# A verdict whose other parts aggregate the items its loop judges: gathered in that loop.
GATHERED = [
    ("$sum(rows.n) <= cap", None),
    ('$count(rows) = $count($distinct(rows.(a & "/" & b)))', None),
    ("n >= 0", "rows"),
    ("$sum([rows.n]) < 6", None),
]
_cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 4),
    st.floats(-1, 3, allow_nan=False),
    st.sampled_from(["x", "y", "x/y", ""]),
)
_whole = st.integers(0, 3)
_rows = st.fixed_dictionaries(
    {},
    optional={
        # mostly whole numbers and texts, so that most verdicts answer rather than raise
        "n": st.one_of(_whole, _whole, _whole, _cells),
        "a": st.one_of(st.sampled_from(["x", "y", "x/y"]), _cells),
        "b": st.sampled_from(["x", "y", "x/y"]),
    },
)
_lists = st.lists(_rows, max_size=5)
gathered_data = st.one_of(
    st.fixed_dictionaries({"cap": st.integers(0, 8), "rows": st.one_of(_lists, _lists, _rows)}),
    st.fixed_dictionaries({"cap": st.integers(0, 8)}, optional={"rows": _cells}),
)


def _asked_alone(part: tuple[str, str | None], data: Any) -> bool | None:
    """The part's own verdict; None when it raises (it cannot judge)."""
    function = verdict_of([part])
    assert function is not None
    try:
        return bool(function(data, {}))
    except Exception:
        return None


@settings(max_examples=400, deadline=None)
@given(data=gathered_data)
def test_aggregates_gathered_in_a_loop_judge_as_each_part_alone(data: dict[str, Any]) -> None:
    """True only when no part alone says false or raises; false only when one says false; it
    raises only where a part alone raises (the caller then asks each rule alone)."""
    verdict = verdict_of(GATHERED)
    assert verdict is not None
    alone = [_asked_alone(part, data) for part in GATHERED]
    try:
        together = verdict(data, {})
    except Exception:
        event("raised")
        assert None in alone
        return
    event(f"answered {together}")
    assert all(found is True for found in alone) if together else False in alone, alone


def test_a_list_of_whole_numbers_is_summed_and_counted_in_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The helpers that sum and count on their own are asked only where the loop cannot."""
    asked: list[str] = []
    for name in ("sum_of_field", "items"):
        helper = compiling._HELPERS[name]

        def counted(*args: Any, _name: str = name, _helper: Any = helper) -> Any:
            asked.append(_name)
            return _helper(*args)

        monkeypatch.setitem(compiling._HELPERS, name, counted)
    verdict = verdict_of(GATHERED)
    assert verdict is not None
    rows = [{"n": 1, "a": "x", "b": "y"}, {"n": 2, "a": "x"}]
    assert verdict({"cap": 3, "rows": rows}, {}) is True
    assert verdict({"cap": 2, "rows": rows}, {}) is False
    assert asked == []
    assert verdict({"cap": 4, "rows": [*rows, {"n": 0.5, "a": "z"}]}, {}) is True
    assert asked == ["sum_of_field", "sum_of_field"]  # a sum that is not whole: on its own
    assert verdict({"cap": 3, "rows": {"n": 1}}, {}) is True
    assert "items" in asked  # not a list: no loop, so counted on its own


def test_a_field_read_by_several_parts_of_a_loop_is_read_once_an_item() -> None:
    reads: Counter[str] = Counter()

    class Counted(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            reads[key] += 1
            return super().get(key, default)

    verdict = verdict_of([("$sum(rows.n) <= cap", None), ("n >= 0", "rows"), ("n < 5", "rows")])
    assert verdict is not None
    assert verdict({"cap": 3, "rows": [Counted(n=1), Counted(n=2)]}, {}) is True
    assert reads == {"n": 2}
    assert verdict({"cap": 3, "rows": [Counted(n=1), Counted(n=7)]}, {}) is False


def test_an_aggregate_reading_a_blocks_variable_is_not_gathered_in_the_loop() -> None:
    """The loop runs before the block that assigns it, so the block counts on its own."""
    verdict = verdict_of(
        [
            ('($sep := "/"; $count(rows) = $count($distinct(rows.(a & $sep & b))))', None),
            ("n >= 0", "rows"),
        ]
    )
    assert verdict is not None
    assert verdict({"rows": [{"n": 1, "a": "x", "b": "y"}, {"n": 1, "a": "x/", "b": ""}]}, {})
    assert verdict({"rows": [{"n": 1, "a": "x", "b": "y"}, {"n": 1, "a": "x", "b": "y"}]}, {}) is (
        False
    )


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda number: f"{number:02d}")


# Date-times of the shapes $toMillis reads, some of days that do not exist, and near misses.
timestamps = st.builds(
    "{}-{}-{}{}{}:{}:{}{}{}".format,
    st.integers(1, 9999).map(lambda year: f"{year:04d}"),
    _two(0, 13),
    _two(0, 32),
    st.sampled_from(["T", "T", "t", " "]),
    _two(0, 24),
    _two(0, 59),
    _two(0, 60),
    st.sampled_from(["", "", ".5", ".999", ".0001"]),
    st.sampled_from(["Z", "+00:00", "-00:00", "+01:00", "-09:30", "+14:00", "", "z", "+0100"]),
)


@settings(max_examples=300, deadline=None)
@given(stamp=timestamps)
def test_to_millis_answers_as_jsonatapy_does(stamp: str) -> None:
    """Whole seconds take a shorter way than a fraction or another shape: both agree.

    Asked again, the answer comes from the date-times remembered: the same.
    """
    agree("$toMillis(s)", {"s": stamp}, {})
    agree("$toMillis(s)", {"s": stamp}, {})


def test_to_millis_remembers_a_bounded_number_of_date_times() -> None:
    """A feed of ever new moments does not grow the memory; a refused one is never kept."""
    stamps = [f"2024-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(3000)]
    for second, stamp in enumerate(stamps):
        assert runtime.f_toMillis(stamp) == 1704067200000 + second * 1000
        assert len(runtime._KNOWN_MILLIS) <= runtime.KNOWN_MILLIS
    for _ in range(2):
        with pytest.raises(DeclinedError):
            runtime.f_toMillis("2024-02-30T10:00:00Z")
    assert "2024-02-30T10:00:00Z" not in runtime._KNOWN_MILLIS
