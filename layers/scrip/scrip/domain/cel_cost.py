"""A static bound on what a CEL expression can cost, computed over its parse tree before it runs.

cel-python cannot be interrupted: a hostile expression (nested comprehensions over literal
ranges, a comprehension over a large list from the event whose body scans another one) would
hold its program's events for seconds. In the spirit of cel-go's cost estimator, every node is
given a worst-case cost from upper bounds on the sizes of the values it works on:

* a literal string or list has its own size; a list, map or string read from the variables
  (``event``, ``participant``) is bounded by what an event can hold (``DATA_SIZE``);
* a comprehension (``map``, ``filter``, ``all``, ``exists``, ``exists_one``) costs its range's
  size times its body, and nested comprehensions multiply;
* scans (``in``, ``==`` on lists, ``sets.*``, string searches) cost the sizes they scan, and
  concatenations the sizes they copy.

One evaluation may also run at most ``MAX_ITERATIONS`` comprehension steps in all (``cel_runtime.py``
enforces it while evaluating): that is what bounds a comprehension over a list from the event,
whose length only the event knows. A range known from the expression alone that would exceed
it is refused here. An expression whose estimate exceeds ``BUDGET`` is refused with the reason.

Units: one unit is one parse-tree node visited by cel-python's interpreter (about 5 µs; the
compiled runner is faster). ``BUDGET`` keeps the worst accepted expression, on the largest
event, within about a hundred milliseconds and most within a few (``bench/cel_cost.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import lark

Tree = lark.Tree[lark.Token]

MAX_ITERATIONS = 250
BUDGET = 25_000
# event_data is at most 32 KiB of JSON: no list, map or string read from it is longer.
DATA_SIZE = 32_768
MAX_ROUND_DIGITS = 15  # decision 2 keeps 15 significant digits; more places mean nothing

ITERATION = 4.0  # a comprehension step: a new activation, the binding, the reduction
ELEMENT = 0.2  # one element compared in Python (CEL equality is Python-level)
COPY = 0.002  # one character or element copied or scanned in C

MACROS = {"map", "filter", "all", "exists", "exists_one"}
NOT_CEL = {"reduce", "min"}  # cel-python extensions that cel-go does not have
_CONSTANT_TIME = {
    "size",
    "type",
    "bool",
    "int",
    "uint",
    "double",
    "dyn",
    "has",
    "get",
    "round",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getMonth",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getSeconds",
}
# A prefix or suffix test compares the argument's length, whatever the string's.
_AFFIX_TESTS = {"startsWith", "endsWith"}
_STRING_SCANS = {"matches", "timestamp", "duration", "bytes"}
_SET_FUNCTIONS = {"sets_contains", "sets_intersects"}


class TooCostly(Exception):
    """The expression may cost more than an evaluation is allowed."""


@dataclass(frozen=True)
class Shape:
    """Upper bounds on a value: its length (string, list, map; 1 for scalars) and its elements'."""

    size: float
    data: bool = False  # the length comes from the variables, not from the expression
    element: Shape | None = None  # None: anything the variables can hold

    def item(self) -> Shape:
        return self.element if self.element is not None else DATA


DATA = Shape(DATA_SIZE, data=True)
SCALAR = Shape(1, element=Shape(0))


def _join(a: Shape, b: Shape) -> Shape:
    element = None if a.element is None or b.element is None else _join(a.element, b.element)
    return Shape(max(a.size, b.size), a.data or b.data, element)


def _join_all(shapes: Sequence[Shape], empty: Shape) -> Shape:
    joined = empty
    for shape in shapes:
        joined = _join(joined, shape)
    return joined


@dataclass(frozen=True)
class Estimate:
    cost: float
    shape: Shape


def _children(tree: Tree) -> list[Tree]:
    return [child for child in tree.children if isinstance(child, lark.Tree)]


def _token(tree: Tree, index: int = 0) -> str:
    tokens = [child for child in tree.children if isinstance(child, lark.Token)]
    return str(tokens[index]) if len(tokens) > index else ""


def _single(tree: Tree) -> Tree | lark.Token:
    """The node under a chain of one-child grammar levels (``expr → … → primary``)."""
    while isinstance(tree, lark.Tree) and len(tree.children) == 1:
        child = tree.children[0]
        if not isinstance(child, lark.Tree):
            return tree
        tree = child
    return tree


def _variable_name(tree: Tree) -> str:
    node = _single(tree)
    if isinstance(node, lark.Tree) and node.data == "ident":
        return _token(node)
    raise TooCostly("a comprehension's first argument must be a variable name")


def integer_literal(tree: Tree) -> int | None:
    """The value of an integer literal argument (``2``, ``-1``), or None when it is anything else."""
    sign = 1
    node = _single(tree)
    while isinstance(node, lark.Tree) and node.data == "unary" and len(node.children) == 2:
        if not isinstance(node.children[0], lark.Tree) or node.children[0].data != "unary_neg":
            return None
        sign = -sign
        node = _single(node.children[1])  # type: ignore[arg-type]
    if isinstance(node, lark.Tree) and node.data == "literal":
        token = node.children[0]
        if isinstance(token, lark.Token) and token.type == "INT_LIT":
            return sign * int(str(token), 0)
    return None


class _Estimator:
    def visit(self, tree: Tree, scope: Mapping[str, Shape], times: float) -> Estimate:
        """The cost of evaluating ``tree`` ``times`` times, and its value's shape.

        The interpreter visits every node of the parse tree, one-child grammar levels too
        (``expr → conditionalor → … → primary``): each costs a unit.
        """
        found = self._node(tree, scope, times)
        return Estimate(found.cost + times, found.shape)

    def _node(self, tree: Tree, scope: Mapping[str, Shape], times: float) -> Estimate:
        kind = tree.data
        children = _children(tree)
        if kind in ("expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication"):
            if len(children) == 1:
                return self.visit(children[0], scope, times)
            return self._operator(kind, children, scope, times)
        if kind == "unary":
            if len(children) == 1:
                return self.visit(children[0], scope, times)
            operand = self.visit(children[1], scope, times)
            return Estimate(operand.cost + times, SCALAR)
        if kind in ("member", "primary", "paren_expr"):
            return self.visit(children[0], scope, times)
        if kind in ("member_dot", "member_index"):
            parts = [self.visit(child, scope, times) for child in children]
            return Estimate(sum(p.cost for p in parts) + times, parts[0].shape.item())
        if kind == "member_dot_arg":
            return self._method(tree, children, scope, times)
        if kind in ("ident_arg", "dot_ident_arg"):
            arguments = _children(children[0]) if children else []
            return self._call(_token(tree), arguments, None, scope, times)
        if kind in ("ident", "dot_ident"):
            return Estimate(times, scope.get(_token(tree), DATA))
        if kind == "literal":
            token = tree.children[0]
            text = str(token)
            textual = isinstance(token, lark.Token) and token.type in ("STRING_LIT", "MLSTRING_LIT", "BYTES_LIT")
            return Estimate(times, Shape(len(text), element=SCALAR) if textual else SCALAR)
        if kind in ("list_lit", "map_lit", "member_object"):
            return self._literal(kind, children, scope, times)
        # Grammar nodes not listed above: costed as their children, shaped as anything.
        parts = [self.visit(child, scope, times) for child in children]
        return Estimate(sum(p.cost for p in parts) + times, DATA)

    def _operator(self, kind: str, children: list[Tree], scope: Mapping[str, Shape], times: float) -> Estimate:
        if kind in ("expr", "conditionalor", "conditionaland"):  # c ? a : b, a || b, a && b
            parts = [self.visit(child, scope, times) for child in children]
            shape = _join_all([p.shape for p in parts[1:]], Shape(0)) if kind == "expr" else SCALAR
            return Estimate(sum(p.cost for p in parts) + times, shape)
        operator, right_tree = children
        operator_children = _children(operator)
        left = self.visit(operator_children[0], scope, times) if operator_children else Estimate(0, SCALAR)
        right = self.visit(right_tree, scope, times)
        cost = left.cost + right.cost + times
        name = operator.data
        if name == "relation_in":
            return Estimate(cost + times * right.shape.size * ELEMENT, SCALAR)
        if name.startswith("relation"):  # lists of different lengths are unequal at once
            return Estimate(cost + times * min(left.shape.size, right.shape.size) * ELEMENT, SCALAR)
        if name == "addition_add":  # strings and lists concatenate
            size = left.shape.size + right.shape.size
            element = _join(left.shape.item(), right.shape.item())
            return Estimate(cost + times * size * COPY, Shape(size, left.shape.data or right.shape.data, element))
        return Estimate(cost, SCALAR)

    def _literal(self, kind: str, children: list[Tree], scope: Mapping[str, Shape], times: float) -> Estimate:
        if kind == "member_object":
            base = self.visit(children[0], scope, times)
            items = _children(children[1]) if len(children) > 1 else []
            parts = [self.visit(child, scope, times) for child in items]
            return Estimate(base.cost + sum(p.cost for p in parts) + times * (1 + len(parts)), DATA)
        items = _children(children[0]) if children else []
        parts = [self.visit(child, scope, times) for child in items]
        entries = len(parts) if kind == "list_lit" else len(parts) // 2
        shape = Shape(entries, element=_join_all([p.shape for p in parts], Shape(0)))
        return Estimate(sum(p.cost for p in parts) + times * (1 + len(parts)), shape)

    def _iterations(self, times: float, range_shape: Shape, name: str) -> float:
        steps = times * range_shape.size
        if steps <= MAX_ITERATIONS:
            return steps
        if range_shape.data or times >= MAX_ITERATIONS:
            # Only the data can tell how long the range is; the evaluation stops at the limit.
            return float(MAX_ITERATIONS)
        raise TooCostly(
            f"{name}() may iterate {int(steps)} times; an evaluation iterates at most {MAX_ITERATIONS} times"
        )

    def _method(self, tree: Tree, children: list[Tree], scope: Mapping[str, Shape], times: float) -> Estimate:
        name = _token(tree)
        arguments = _children(children[1]) if len(children) > 1 else []
        if name in NOT_CEL:
            raise TooCostly(f"{name}() is not a CEL macro")
        if name not in MACROS:
            return self._call(name, arguments, children[0], scope, times)
        source = self.visit(children[0], scope, times)
        if len(arguments) < 2:
            raise TooCostly(f"{name}() takes a variable and an expression")
        variable = _variable_name(arguments[0])
        steps = self._iterations(times, source.shape, name)
        inner = {**scope, variable: source.shape.item()}
        bodies = [self.visit(body, inner, steps) for body in arguments[1:]]
        cost = source.cost + sum(b.cost for b in bodies) + steps * ITERATION
        if name == "map":
            return Estimate(cost, Shape(source.shape.size, source.shape.data, bodies[-1].shape))
        if name == "filter":
            return Estimate(cost, source.shape)
        return Estimate(cost, SCALAR)

    def _call(
        self,
        name: str,
        argument_trees: list[Tree],
        receiver_tree: Tree | None,
        scope: Mapping[str, Shape],
        times: float,
    ) -> Estimate:
        if name == "round" and len(argument_trees) == 2:
            digits = integer_literal(argument_trees[1])
            if digits is not None and not 0 <= digits <= MAX_ROUND_DIGITS:
                raise TooCostly(f"round() takes 0 to {MAX_ROUND_DIGITS} decimal places, not {digits}")
        trees = ([receiver_tree] if receiver_tree is not None else []) + argument_trees
        parts = [self.visit(child, scope, times) for child in trees]
        cost = sum(p.cost for p in parts) + times
        sizes = [p.shape.size for p in parts]
        if name == "has" or name == "dyn":
            return Estimate(cost, parts[0].shape if parts and name == "dyn" else SCALAR)
        if name == "get" and parts:
            default = parts[2].shape if len(parts) > 2 else SCALAR
            return Estimate(cost, _join(parts[0].shape.item(), default))
        if name in _CONSTANT_TIME:
            return Estimate(cost, SCALAR)
        if name in _AFFIX_TESTS and len(sizes) == 2:
            return Estimate(cost + times * sizes[1] * COPY * 10, SCALAR)
        if name in _STRING_SCANS:
            return Estimate(cost + times * sum(sizes) * COPY * 10, SCALAR)
        if name in _SET_FUNCTIONS:  # hashed in cel_runtime.py: linear in both lists and their contents
            return Estimate(cost + times * sum(sizes) * ELEMENT / 2, SCALAR)
        if name == "string":  # of a scalar only (cel_runtime.py, as cel-go): a number's text or a copy
            size = max([32.0, *sizes])
            return Estimate(cost + times * size * COPY, Shape(size, any(p.shape.data for p in parts), SCALAR))
        # contains(), conversions of structures, functions we do not know: a scan of everything given.
        return Estimate(cost + times * sum(sizes) * ELEMENT, DATA)


def estimate(tree: Tree) -> float:
    """The expression's worst-case cost in units; ``TooCostly`` with the reason above ``BUDGET``."""
    cost = _Estimator().visit(tree, {}, 1).cost
    if cost > BUDGET:
        raise TooCostly(
            f"the expression may cost {int(cost)} units to evaluate, more than the {BUDGET} allowed "
            "(comprehensions multiply their range's size by their body's cost; lists and strings read from the "
            f"event count as up to {DATA_SIZE} long, and an evaluation iterates at most {MAX_ITERATIONS} times)"
        )
    return cost
