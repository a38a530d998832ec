"""A JSONata tree to one Python function, `f(data, bindings)`, built from its source once.

The source holds only names of `runtime` helpers, the expression's own literals (as `repr`
writes them) and generated local names: nothing of the expression's text is ever run as
code. Variables a block assigns become Python locals (`:=`), so blocks nest as JSONata's
frames do; assignments anywhere but at a block's top level are left to jsonatapy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from care_exchange_standard.jsonata_native import runtime
from care_exchange_standard.jsonata_native.parsing import Node, NotNativeError

_BINARY = {
    "=": "equal",
    "!=": "unequal",
    "<": "less",
    "<=": "at_most",
    ">": "more",
    ">=": "at_least",
    "+": "add",
    "-": "subtract",
    "*": "multiply",
    "/": "divide",
    "%": "remainder",
    "in": "includes",
}
# Operators Python answers as JSONata does for two values of one of these types.
_FAST: dict[str, tuple[str, ...]] = {
    operator: ("str", "int") for operator in ("=", "!=", "<", "<=", ">", ">=")
}
_FAST.update({operator: ("int",) for operator in ("+", "-", "*")})
# Comparisons of order, whose value is true or false, or undefined when a side is.
_ORDER = {"<", "<=", ">", ">="}
# Operators whose value is always true or false, never undefined.
_BOOLEAN = {"=", "!=", "in", "and", "or"}
_ROOT = "data"


def _boolean(node: Node) -> bool:
    """True when the node's value is always true or false, so its truth needs no test."""
    if node.filters:
        return False
    if node.kind == "binary":
        return node.value in _BOOLEAN
    if node.kind == "call" and len(node.children) == 1:
        return node.value == "exists" or (node.value == "not" and _boolean(node.children[0]))
    return node.kind == "literal" and type(node.value) is bool


def _text(node: Node) -> bool:
    """True when the node's value is always one text: a concatenation (`a & b`), unfiltered."""
    if node.kind == "block" and len(node.children) == 1 and not node.filters:
        return _text(node.children[0])
    return node.kind == "binary" and node.value == "&" and not node.filters


def _texts(node: Node) -> bool:
    """True for a path whose last step makes each item's text (`rows.(a & "/" & b)`)."""
    return (
        node.kind == "path"
        and not node.filters
        and len(node.children) > 1
        and _text(node.children[-1])
    )


def _one_value_array(node: Node) -> bool:
    """`[x]`, with x not itself an array constructor: the array of x's items."""
    return (
        node.kind == "array"
        and not node.filters
        and len(node.children) == 1
        and node.children[0].kind != "array"
    )


def _ends_in_a_field(node: Node) -> bool:
    """A path of two steps or more whose last is a field name, unfiltered (`beds.places`)."""
    return (
        node.kind == "path"
        and not node.filters
        and len(node.children) > 1
        and node.children[-1].kind == "name"
        and not node.children[-1].filters
    )


def _constant(node: Node) -> Any:
    """The value of a node that needs no data (a literal, an array of literals), else U."""
    if node.filters:
        return runtime.U
    if node.kind == "literal":
        return node.value
    if node.kind == "array" and all(
        child.kind == "literal" and not child.filters for child in node.children
    ):
        return [child.value for child in node.children]
    return runtime.U


def _pure(node: Node) -> bool:
    """True when the node reads nothing but the data: no binding, no block's variable."""
    if node.kind == "variable" and node.value not in ("", "$"):
        return False
    return all(_pure(child) for child in (*node.children, *node.filters))


class _Loop:
    """What the loop over one list's items (see `compile_verdict`) gathers besides its tests.

    An aggregate over the list's items elsewhere in the verdict (`$sum(rows.n)`) is summed in
    that loop instead of in a loop of its own: each of its `gathered` locals is MISSING until
    the loop starts, which `starts` sets up, and `steps` runs for each item.
    """

    def __init__(self, item: str) -> None:
        self.item = item
        self.gathered: list[str] = []
        self.starts: list[str] = []
        self.steps: list[str] = []
        self.fields: dict[str, str] = {}  # the item's fields the loop reads: each one's local


class _Compiler:
    """One expression's code.

    `shared` names the paths from the root whose values the caller keeps in a `memo` for
    several expressions over the same data; `paths` gathers every such path met. With
    `hoisting`, a shared path is taken once on entry instead, into a local (see
    `compile_together`), and so is its truth where a condition tests it.
    """

    def __init__(self, shared: frozenset[str] = frozenset(), *, hoisting: bool = False) -> None:
        self.shared = shared
        self.root = _ROOT  # what `$$` is: the function's data, or the item a rule judges
        self.hoisting = hoisting
        # names of values taken to be objects, whose fields are read without a type test: with
        # `hoisting`, the root and each item a filter, a step or a rule reads; anything else
        # raises AttributeError, and the caller asks each expression's own function instead
        self.objects: set[str] = {_ROOT} if hoisting else set()
        self.hoisted: dict[str, str] = {}  # a path's key, or a local's truth: its local
        self.entry: list[tuple[str, str]] = []  # (local, code) in the order they are taken
        self.paths: list[str] = []
        self.memoised = False
        self.counter = 0
        self.scopes: list[dict[str, str]] = []
        self.bindings: dict[str, str] = {}
        self.constants: dict[str, Any] = {}
        self.definitions: list[str] = []  # functions made once, with the expression's own
        self.loops: dict[str, _Loop] = {}  # a verdict's loops, by the list (see `compile_verdict`)
        self.loop_items: dict[str, _Loop] = {}  # the same loops, by their item's local

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def node(self, node: Node, context: str) -> str:
        code: str = getattr(self, "_" + node.kind)(node, context)
        if node.filters and node.kind != "path":
            return f"normal(filtered({code}, {self.filters(node.filters, context)}))"
        return code

    def constant(self, value: Any) -> str:
        """A name for a value built once, when the function is made, not on every call."""
        name = self.fresh("constant")
        self.constants[name] = value
        return name

    def filters(self, filters: list[Node], context: str) -> str:
        parts = [
            self.function(f"lambda value: {self.filtering([predicate], 'value')}", predicate)
            for predicate in filters
        ]
        return "(" + "".join(part + ", " for part in parts) + ")"

    def function(self, code: str, *reads: Node) -> str:
        """A lambda's code, or the name of one made once with the function when it can be.

        A lambda that reads nothing but its argument (see `_closed`) is made once, instead
        of again on every call of the expression.
        """
        if not all(_closed(node) for node in reads):
            return code
        name = self.fresh("function")
        self.definitions.append(f"{name} = {code}")
        return name

    def filtering(self, filters: list[Node], code: str) -> str:
        """`code` with each filter applied in turn: a tuple or a list of what is kept.

        A predicate that is always true or false keeps items in a comprehension, without a
        call per item.
        """
        for predicate in filters:
            if predicate.kind == "literal" and runtime.is_number(predicate.value):
                code = self.indexing(code, predicate.value)
                continue
            item = self.fresh("item")
            if self.hoisting:
                self.objects.add(item)
            test = self.node(predicate, item)
            if _boolean(predicate):  # a comprehension's source is a name: no `:=` is allowed there
                held = code if code.isidentifier() else self.fresh("kept")
                kept = f"tuple([{item} for {item} in items({held}) if {test}])"
                code = kept if held == code else f"({kept} if (({held} := {code}) or True) else U)"
            else:
                code = f"where({code}, {self.function(f'lambda {item}: {test}', predicate)})"
        return code

    def indexing(self, code: str, number: Any) -> str:
        """`[n]`: an array's item taken in line when n is a whole number within it."""
        if type(number) is not int:
            return f"at_index({code}, {number!r})"
        held = self.fresh("indexed")
        within = f"len({held}) > {number}" if number >= 0 else f"len({held}) >= {-number}"
        return (
            f"({held}[{number}] if type({held} := {code}) is list and {within} "
            f"else at_index({held}, {number}))"
        )

    def _literal(self, node: Node, context: str) -> str:
        if type(node.value) is dict:  # a copy each time: the caller may change what it gets
            return f"dict({self.constant(node.value)})"
        return repr(node.value)

    def _variable(self, node: Node, context: str) -> str:
        name = node.value
        if name == "":
            return context
        if name == "$":
            return self.root
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in runtime.FUNCTIONS:
            raise NotNativeError(f"${name} used as a value")
        if name not in self.bindings:
            self.bindings[name] = self.fresh("bound")
        return self.bindings[name]

    def _path(self, node: Node, context: str) -> str:
        """Step by step: a field of an object is taken in line, anything else by a helper.

        Steps pass on their sequences as they are; only the path's value is normalised.
        """
        code = context
        pure = context == _ROOT == self.root
        for index, step in enumerate(node.children):
            code = self.step(node, index, code, context)
            pure = pure and _pure(step)
            if pure:
                last = index == len(node.children) - 1
                code = self.remembered(node.children[: index + 1], code, last)
        return code

    def remembered(self, steps: list[Node], code: str, last: bool) -> str:
        """A path's value (its first steps, taken from the root) from the memo, once made."""
        key = repr(steps) + (" normal" if last else "")
        self.paths.append(key)
        if key not in self.shared:
            return code
        if self.hoisting:
            return self.hoist(key, "path", code)
        self.memoised = True
        held = self.fresh("remembered")
        name = self.constant(key)
        return (
            f"({held} if ({held} := memo.get({name}, MISSING)) is not MISSING "
            f"else memo.setdefault({name}, {code}))"
        )

    def hoist(self, key: str, prefix: str, code: str) -> str:
        """The local holding `code`'s value, taken once on entry."""
        if key not in self.hoisted:
            self.hoisted[key] = local = self.fresh(prefix)
            self.entry.append((local, code))
        return self.hoisted[key]

    def step(self, node: Node, index: int, code: str, context: str) -> str:
        """The code of a path up to its step `index`, given the code of the steps before."""
        step = node.children[index]
        last = index == len(node.children) - 1
        if step.kind == "name" and not step.filters:
            if code in self.loop_items:
                return self.item_field(self.loop_items[code], step.value)
            if code in self.objects:
                return f"{code}.get({step.value!r}, U)"
            held = code if code.isidentifier() else self.fresh("held")
            taken = held if held == code else f"({held} := {code})"
            other = f"walk({held}, {step.value!r})"
            code = (
                f"({held}.get({step.value!r}, U) if type({taken}) is dict "
                f"else {f'normal({other})' if last else other})"
            )
            return code
        if index == 0 and step.kind == "variable":
            code = self.node(_bare(step), context)
            if step.filters:
                code = f"filtered({code}, {self.filters(step.filters, context)})"
            return code
        item = self.fresh("item")
        if step.kind == "name":
            held = code if code.isidentifier() else self.fresh("held")
            taken = held if held == code else f"({held} := {code})"
            got = self.fresh("got")
            kept = f"lambda value: {self.filtering(step.filters, 'value')}"
            keep = self.function(kept, *step.filters)
            if keep != kept:  # made once: in line for an object, unless that writes it twice
                nested = any(_filtered(predicate) for predicate in step.filters)
                inline = f"{keep}({got})" if nested else self.filtering(step.filters, got)
                code = (
                    f"((() if ({got} := {held}.get({step.value!r}, U)) is U else {inline}) "
                    f"if type({taken}) is dict "
                    f"else step({held}, lambda {item}: lookup({item}, {step.value!r}), ({keep},)))"
                )
            else:
                keep = self.fresh("keep")
                code = (
                    f"(((() if ({got} := {held}.get({step.value!r}, U)) is U else {keep}({got})) "
                    f"if type({taken}) is dict "
                    f"else step({held}, lambda {item}: lookup({item}, {step.value!r}), ({keep},))"
                    f") if ({keep} := {kept}) else U)"
                )
            return f"normal({code})" if last else code
        if self.hoisting:
            self.objects.add(item)
        body = self.node(_bare(step), item)
        if step.filters:
            code = f"step({code}, lambda {item}: {body}, {self.filters(step.filters, context)})"
        elif _text(step):  # each item's text: never undefined, never an array to flatten
            held = self.fresh("held")
            code = (
                f"(U if ({held} := {code}) is U else tuple([{body} for {item} in items({held})]))"
            )
        else:  # each item's value in a comprehension, without a call per item
            held, got = self.fresh("held"), self.fresh("got")
            code = (
                f"(U if ({held} := {code}) is U else gathered("
                f"[{got} for {item} in items({held}) if ({got} := {body}) is not U]))"
            )
        return f"normal({code})" if last else code

    def _block(self, node: Node, context: str) -> str:
        if not node.children:
            return "U"
        self.scopes.append({})
        try:
            codes = [self.statement(child, context) for child in node.children]
        finally:
            self.scopes.pop()
        if len(codes) == 1:
            return codes[0]
        return f"({', '.join(codes)})[-1]"

    def statement(self, node: Node, context: str) -> str:
        if node.kind != "assign" or node.filters:
            return self.node(node, context)
        value = self.node(node.children[0], context)
        local = self.fresh("local")
        self.scopes[-1][node.value] = local
        return f"({local} := {value})"

    def _assign(self, node: Node, context: str) -> str:
        raise NotNativeError("an assignment outside a block's top level")

    def _array(self, node: Node, context: str) -> str:
        if _one_value_array(node):
            return f"array_of({self.node(node.children[0], context)})"
        items = [f"({self.node(item, context)}, {item.kind == 'array'})" for item in node.children]
        return f"array({', '.join(items)})"

    def _negate(self, node: Node, context: str) -> str:
        return f"negate({self.node(node.children[0], context)})"

    def _condition(self, node: Node, context: str) -> str:
        test, then, *otherwise = (self.node(child, context) for child in node.children)
        truth = self.truth(test, node.children[0])
        return f"({then} if {truth} else {otherwise[0] if otherwise else 'U'})"

    def _call(self, node: Node, context: str) -> str:
        if node.value not in runtime.FUNCTIONS:
            raise NotNativeError(f"the function ${node.value}")
        if any(scope.get(node.value) for scope in self.scopes):
            raise NotNativeError(f"${node.value} assigned over")
        if node.value == "sum" and len(node.children) == 1:
            argument, none = node.children[0], "U"
            if _one_value_array(argument):  # `$sum([x])`: the sum of x's items, 0 for none
                argument, none = argument.children[0], "0"
            if _ends_in_a_field(argument):  # `$sum(a.b.c)`: c summed over what a.b gives
                before = Node("path", children=argument.children[:-1])
                field = argument.children[-1].value
                summed = f"sum_of_field({self.node(before, context)}, {field!r}, {none})"
                return self.summed_in_loop(before, field, none, context, summed)
            if none == "0":
                summed = self.fresh("summed")
                code = self.node(argument, context)
                return f"(0 if ({summed} := {code}) is U else f_sum({summed}))"
        if node.value == "count" and self._distinct_texts(node.children):
            # `$count($distinct(rows.(a & b)))`: each item's text goes straight into a set
            path = node.children[0].children[0]
            before = Node("path", children=path.children[:-1])
            held, item = self.fresh("held"), self.fresh("item")
            code = self.node(before, context)
            if self.hoisting:
                self.objects.add(item)
            body = self.node(_bare(path.children[-1]), item)
            counted = (
                f"(0 if ({held} := {code}) is U else len({{{body} for {item} in items({held})}}))"
            )
            return self.distinct_in_loop(before, path.children[-1], context, counted)
        arguments = [self.node(child, context) for child in node.children]
        if node.value == "substring" and len(node.children) == 3:
            start, length = (_constant(child) for child in node.children[1:])
            if all(type(number) is int and number >= 0 for number in (start, length)):
                text = self.fresh("text")  # a slice, when the text and the numbers are plain
                return (
                    f"({text}[{start}:{start + length}] if type({text} := {arguments[0]}) is str "
                    f"else f_substring({text}, {start}, {length}))"
                )
        if node.value == "lookup" and type(_constant(node.children[0])) is dict:
            arguments[0] = self.constant(node.children[0].value)  # only read: no copy
        _, least, most = runtime.FUNCTIONS[node.value]
        if not least <= len(arguments) <= most:
            return f"wrong_arguments({node.value!r})"
        if node.value == "not" and _boolean(node):
            return f"(not {arguments[0]})"
        if node.value == "distinct" and len(arguments) == 1 and _texts(node.children[0]):
            held = self.fresh("texts")  # one text, or a sequence of them: no test of each
            return (
                f"({held} if type({held} := {arguments[0]}) is not tuple "
                f"else normal(tuple(dict.fromkeys({held}))))"
            )
        if len(arguments) == 1 and node.value in ("exists", "not", "count"):
            held = self.fresh("argument")
            return {
                "exists": f"({arguments[0]} is not U)",
                "not": f"(U if ({held} := {arguments[0]}) is U else not {self.truth(held)})",
                "count": (
                    f"(len({held}) if type({held} := {arguments[0]}) is list or "
                    f"type({held}) is tuple else 0 if {held} is U else 1)"
                ),
            }[node.value]
        return f"f_{node.value}({', '.join(arguments)})"

    def loop_over(self, before: Node, context: str) -> _Loop | None:
        """The verdict's loop over the items `before` gives, when it is a list of the data.

        None inside a block that has assigned a variable: the loop runs before the block.
        """
        steps = before.children
        if context != _ROOT or self.root != _ROOT or before.filters or len(steps) != 1:
            return None
        if any(self.scopes):  # variables a block has assigned
            return None
        step = steps[0]
        return self.loops.get(step.value) if step.kind == "name" and not step.filters else None

    def item_field(self, loop: _Loop, name: str) -> str:
        """The local a loop's item's field is read into, once an item, at the top of the loop.

        The parts judging the items, and the sums gathered there, often read the same fields
        (`places`): each is read once. Reading a field the tests would have skipped changes
        nothing, as reading one has no effect.
        """
        if name not in loop.fields:
            loop.fields[name] = self.fresh("field")
        return loop.fields[name]

    def summed_in_loop(self, before: Node, field: str, none: str, context: str, summed: str) -> str:
        """`$sum(rows.n)` added up in the loop over `rows`, as `sum_of_field` would add it.

        A value of n that is not whole leaves the sum to `summed` (the code of `sum_of_field`),
        as does a `rows` that is not a list: the total is then MISSING, as before the loop. (An
        item that is no object: the loop raises.)
        """
        loop = self.loop_over(before, context)
        if loop is None:
            return summed
        total, found, got = self.fresh("total"), self.fresh("found"), self.fresh("got")
        loop.gathered.append(total)
        loop.starts.append(f"{total} = {found} = 0")
        loop.steps += [
            f"if {total} is not MISSING:",
            f"    if type({got} := {self.item_field(loop, field)}) is int:",
            f"        {total} += {got}",
            f"        {found} += 1",
            f"    elif {got} is not U:",
            f"        {total} = MISSING",
        ]
        return f"(({total} if {found} else {none}) if {total} is not MISSING else {summed})"

    def distinct_in_loop(self, before: Node, each: Node, context: str, counted: str) -> str:
        """`$count($distinct(rows.(a & b)))`: each item's text (`each`) put in a set in the loop.

        `counted` is the code that counts them without the loop, as when `rows` is no list.
        """
        loop = self.loop_over(before, context)
        if loop is None:
            return counted
        seen = self.fresh("seen")
        body = self.node(_bare(each), loop.item)
        loop.gathered.append(seen)
        loop.starts.append(f"{seen} = set()")
        loop.steps.append(f"{seen}.add({body})")
        return f"(len({seen}) if {seen} is not MISSING else {counted})"

    def _distinct_texts(self, children: list[Node]) -> bool:
        """True for the one argument `$distinct(path)` of a path giving each item's text.

        Such a path gives one text, undefined, or a sequence of two texts or more: their
        count of distinct ones is that of a set of them.
        """
        if len(children) != 1:
            return False
        inner = children[0]
        return (
            inner.kind == "call"
            and inner.value == "distinct"
            and not inner.filters
            and len(inner.children) == 1
            and _texts(inner.children[0])
            and not any(scope.get("distinct") for scope in self.scopes)
        )

    def _binary(self, node: Node, context: str) -> str:
        operator = node.value
        if operator == "&":
            return self.concatenation(node, context)
        terms = _terms(node)
        if len(terms) > 2 and all(_plain(term) for term in terms):
            return self.whole_sum(node, terms, context)
        left, right = (self.node(child, context) for child in node.children)
        if operator in ("and", "or"):
            pairs = zip((left, right), node.children, strict=True)
            return f"({f' {operator} '.join(self.truth(code, child) for code, child in pairs)})"
        if operator == "in":
            return self.membership(node, left, right)
        helper = _BINARY[operator]
        if operator not in _FAST:
            return f"{helper}({left}, {right})"
        python = "==" if operator == "=" else operator
        for index, child in enumerate(node.children):
            kind = type(_constant(child)).__name__
            if kind in _FAST[operator]:  # a literal side: only the other's type is unknown
                other = self.fresh("side")
                sides = [other, other]
                sides[index] = repr(child.value)
                test = f"type({other} := {(left, right)[1 - index]}) is {kind}"
                return (
                    f"({sides[0]} {python} {sides[1]} if {test} "
                    f"else {helper}({sides[0]}, {sides[1]}))"
                )
        first, second, kind = self.fresh("left"), self.fresh("right"), self.fresh("kind")
        kinds = " or ".join(f"{kind} is {name}" for name in _FAST[operator])
        return (
            f"({first} {python} {second} if ({kind} := type({first} := {left})) is "
            f"type({second} := {right}) and ({kinds}) else {helper}({first}, {second}))"
        )

    def whole_sum(self, node: Node, terms: list[Node], context: str) -> str:
        """`a + b + c` of fields: one test of each term, then Python's sum, when all are whole.

        Otherwise the chain as JSONata adds it, its terms taken again: they are fields, which
        cost little and cannot fail.
        """
        names = [self.fresh("term") for _ in terms]
        tests = " and ".join(
            f"type({name} := {self.node(term, context)}) is int"
            for name, term in zip(names, terms, strict=True)
        )
        left, right = (self.node(child, context) for child in node.children)
        return f"({' + '.join(names)} if {tests} else add({left}, {right}))"

    def membership(self, node: Node, left: str, right: str) -> str:
        """`in`: a set of the texts when the right side is an array of literal texts."""
        listed = _constant(node.children[1])
        if type(listed) is not list or not listed or any(type(item) is not str for item in listed):
            return f"includes({left}, {right})"
        texts, array = self.constant(frozenset(listed)), self.constant(listed)
        held = self.fresh("member")
        return (
            f"({held} in {texts} if type({held} := {left}) is str else includes({held}, {array}))"
        )

    def concatenation(self, node: Node, context: str) -> str:
        """`&`, and a chain of them (`a & "/" & b`): each side's text, joined in one f-string.

        A side that is text already (nearly always) is taken as it is; the sides are evaluated
        in JSONata's order, left to right. An f-string makes the text in one step, where adding
        the sides up makes one a side. Code with a backslash cannot stand in an f-string's
        braces before Python 3.12: such a chain is added up instead.
        """
        texts = []
        for side in (side for child in node.children for side in _chained(child)):
            if side.kind == "literal" and type(side.value) is str and not side.filters:
                texts.append(repr(side.value))
            else:
                held = self.fresh("text")
                code = self.node(side, context)
                texts.append(
                    f"({held} if type({held} := {code}) is str else '' if {held} is U "
                    f"else text({held}))"
                )
        if any("\\" in text or '"' in text for text in texts):
            return f"({' + '.join(texts)})"
        return 'f"' + "".join(f"{{{text}}}" for text in texts) + '"'

    def truth(self, code: str, node: Node | None = None) -> str:
        """JSONata's truth of a value, without a call when it is already true or false."""
        if node is not None and _boolean(node):
            return code
        if node is not None and node.kind == "binary" and node.value in _ORDER and not node.filters:
            return f"(({code}) is True)"  # an order's value is true, false or undefined
        if code in self.hoisted.values():  # a path taken on entry: its truth too
            return self.hoist(" truth " + code, "truth", f"truthy({code})")
        held = self.fresh("truth")
        return (
            f"(({held} := {code}) is True or ({held} is not False "
            f"and (len({held}) > 0 if type({held}) is dict else truthy({held}))))"
        )


def _closed(node: Node) -> bool:
    """True when the node reads no variable but the context: a function of it alone."""
    if node.kind == "variable" and node.value != "":
        return False
    return all(_closed(child) for child in (*node.children, *node.filters))


def _filtered(node: Node) -> bool:
    """True when the node or any part of it has a filter (in line, its code would be twice)."""
    return bool(node.filters) or any(_filtered(child) for child in node.children)


def _terms(node: Node) -> list[Node]:
    """The terms of a chain of `+` (`a + b + c`), in order."""
    if node.kind == "binary" and node.value == "+" and not node.filters:
        return [*_terms(node.children[0]), node.children[1]]
    return [node]


def _plain(node: Node) -> bool:
    """A field or a path of fields (from a variable, perhaps): taken again, it costs little."""
    if node.filters:
        return False
    if node.kind == "name":
        return True
    if node.kind != "path":
        return False
    first, *rest = node.children
    return (first.kind in ("name", "variable") and not first.filters) and all(
        step.kind == "name" and not step.filters for step in rest
    )


def _chained(node: Node) -> list[Node]:
    """The sides of a chain of `&`, in order."""
    if node.kind == "binary" and node.value == "&" and not node.filters:
        return [side for child in node.children for side in _chained(child)]
    return [node]


def _bare(step: Node) -> Node:
    """A step without its filters, which the path applies itself."""
    return Node(step.kind, step.value, step.children)


# f(data, bindings, memo=None): `memo` keeps paths' values for other expressions on the same data
Native = Callable[..., Any]
# What generated code may call: the runtime's names, and JSONata's functions as `f_<name>`.
_HELPERS = {name: getattr(runtime, name) for name in dir(runtime) if not name.startswith("__")}
_HELPERS |= {f"f_{name}": function for name, (function, *_) in runtime.FUNCTIONS.items()}


def paths_from_root(tree: Node) -> list[str]:
    """The keys of the paths from the root an expression takes, for `compile_tree`'s `shared`."""
    compiler = _Compiler()
    compiler.node(tree, _ROOT)
    return compiler.paths


def compile_tree(tree: Node, shared: frozenset[str] = frozenset()) -> Native:
    """The Python function of a tree; it returns runtime values (see `runtime.exported`).

    The paths named in `shared` (see `paths_from_root`) are kept in the `memo` given, so
    expressions over the same data take each of them once; without a memo, each call keeps
    its own.
    """
    compiler = _Compiler(shared)
    return _made(compiler, compiler.node(tree, _ROOT))


def compile_together(trees: list[Node], shared: frozenset[str] = frozenset()) -> Native:
    """One function giving the list of every tree's value, as `compile_tree`'s would.

    A call for them all costs less than a call each; it raises what any of them raises. The
    paths in `shared` are taken on entry, each once, even those a condition would skip: a
    path cannot loop, and a caller that meets an error asks each tree's own function, which
    takes only what it needs.
    """
    compiler = _Compiler(shared, hoisting=True)
    bodies = [compiler.node(tree, _ROOT) for tree in trees]
    return _made(compiler, "[" + ", ".join(bodies) + "]")


def _made(compiler: _Compiler, body: str, statements: tuple[str, ...] = ()) -> Native:
    """The function: `statements` (indented once already) run before `return body`."""
    lines = [*compiler.definitions, "def evaluate(data, bindings, memo=None):"]
    if compiler.memoised:
        lines.append("    memo = {} if memo is None else memo")
    for name, local in compiler.bindings.items():
        lines.append(f"    {local} = bindings.get({name!r}, U)")
    for local, code in compiler.entry:
        lines.append(f"    {local} = {code}")
    lines.extend(f"    {line}" for line in statements)
    lines.append(f"    return {body}")
    namespace = dict(_HELPERS) | compiler.constants
    exec(compile("\n".join(lines), "<jsonata>", "exec"), namespace)
    function: Native = namespace["evaluate"]
    return function


def compile_verdict(parts: list[tuple[Node, str | None]], shared: frozenset[str]) -> Native:
    """One function: True when no part's tree says false, returning False at the first that does.

    A part with a field name (`each`) judges every item of the data's list of that name, as
    its own root, with `$record` the data itself; it is skipped when the data has no such
    list. The parts judging one list's items share one loop, at the first one's place, written
    as statements: a comprehension a part costs a call a record. Each field of the item that
    the loop reads is read once, at its top (see `item_field`). Aggregates of that list's
    items in the other parts (`$sum(rows.n)`, `$count($distinct(rows.(a & b)))`) are gathered
    in the same loop, and the parts reading them are asked after it (see `_Loop`). Asking parts
    out of order changes nothing, as a part's false is the verdict whatever the others say. The
    data must be an object. The function raises what any tree raises: the caller then asks each
    tree on its own, as each one's errors mean something different. `shared` (see
    `paths_from_root`) names the paths the parts without `each` take from the root.
    """
    compiler = _Compiler(shared, hoisting=True)
    names: dict[str, str] = {}  # a list whose items parts judge: its item's local
    for _, each in parts:
        if each is not None and each not in names:
            names[each] = compiler.fresh("item")
            compiler.objects.add(names[each])
    compiler.loops = {each: _Loop(item) for each, item in names.items()}
    compiler.loop_items = {loop.item: loop for loop in compiler.loops.values()}
    # (the list whose items it judges, its test, whether it reads what a loop gathers)
    tests: list[tuple[str | None, str, bool]] = []
    for tree, each in parts:
        if each is None:
            before = sum(len(loop.gathered) for loop in compiler.loops.values())
            test = f"({compiler.node(tree, _ROOT)}) is False"
            after = sum(len(loop.gathered) for loop in compiler.loops.values()) > before
            tests.append((None, test, after))
            continue
        compiler.root = names[each]
        compiler.scopes.append({"record": _ROOT})
        try:
            tests.append((each, f"({compiler.node(tree, names[each])}) is False", False))
        finally:
            compiler.scopes.pop()
            compiler.root = _ROOT
    lines = [f"{local} = MISSING" for loop in compiler.loops.values() for local in loop.gathered]
    after_loops: list[str] = []  # the tests that read what the loops gather
    for each, test, after in tests:
        if each is None:
            (after_loops if after else lines).append(f"if {test}: return False")
        elif each in names:
            loop = compiler.loops[each]
            items = compiler.fresh("items")
            lines.append(f"if isinstance({items} := data.get({each!r}), list):")
            lines.extend(f"    {start}" for start in loop.starts)
            lines.append(f"    for {names.pop(each)} in {items}:")
            lines.extend(
                f"        {local} = {loop.item}.get({name!r}, U)"
                for name, local in loop.fields.items()
            )
            judged = (found for on, found, _ in tests if on == each)
            lines.extend(f"        if {found}: return False" for found in judged)
            lines.extend(f"        {step}" for step in loop.steps)
    lines.extend(after_loops)
    return _made(compiler, "True", tuple(lines))
