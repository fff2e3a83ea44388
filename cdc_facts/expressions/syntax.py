"""How each allowed SQL node compiles: literals, names, logic and comparisons.

:data:`HANDLERS` maps a sqlglot node class to the function that compiles it. A node class
that is not in the table is refused when the expression is compiled. Function calls,
casts and arithmetic are in :mod:`cdc_facts.expressions.calls`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NoReturn, Protocol

from sqlglot import exp

from cdc_facts.changes import OPS
from cdc_facts.expressions import compare, logic, names
from cdc_facts.expressions.casts import parse_json, plain_decimal, unified
from cdc_facts.expressions.context import Evaluator, Node, constant
from cdc_facts.expressions.temporal import parse_interval


class Compiling(Protocol):
    """What a handler may ask of the compiler."""

    #: The operation every evaluated change has, when the expression is compiled for one.
    known_op: str | None

    def compile(self, node: exp.Expr) -> Node:
        """Compile a child node."""

    def fail(self, node: exp.Expr, message: str, suggestion: str | None = None) -> NoReturn:
        """Raise an ExpressionError pointing at ``node``."""

    def text(self, node: exp.Expr) -> str:
        """The SQL text of ``node``."""

    def reference(self, node: exp.Column, scope: str, column: str | None) -> None:
        """Record a name the expression reads."""


Handler = Callable[[Any, Compiling], Node]
HANDLERS: dict[type[exp.Expr], Handler] = {}


def handles(*classes: type[exp.Expr]) -> Callable[[Handler], Handler]:
    """Register a handler for one or more node classes."""

    def register(handler: Handler) -> Handler:
        for cls in classes:
            HANDLERS[cls] = handler
        return handler

    return register


def const_node(value: object, sql: str, type_: str | None) -> Node:
    """A node whose value is known at compile time."""
    return Node(constant(value), sql, type_, const=value)


# --- literals and names --------------------------------------------------------------------

_INTEGER_LITERAL = re.compile(r"\d+")


@handles(exp.Literal)
def _literal(node: exp.Literal, cc: Compiling) -> Node:
    text = node.this
    if node.is_string:
        return const_node(text, cc.text(node), "text")
    if _INTEGER_LITERAL.fullmatch(text):
        return const_node(int(text), cc.text(node), "integer")
    return const_node(plain_decimal(Decimal(text)), cc.text(node), "numeric")


@handles(exp.ByteString, exp.RawString)
def _string(node: exp.Expr, cc: Compiling) -> Node:
    return const_node(node.this, cc.text(node), "text")


@handles(exp.Boolean)
def _boolean(node: exp.Boolean, cc: Compiling) -> Node:
    return const_node(bool(node.this), cc.text(node), "boolean")


@handles(exp.Null)
def _null(node: exp.Null, cc: Compiling) -> Node:
    return const_node(None, "NULL", None)


def interval_text(node: exp.Interval) -> str:
    """The text of ``INTERVAL '...' [unit]`` as one interval input (``36 hours``)."""
    unit = node.args.get("unit")
    return str(node.this.name) + (f" {unit.name}" if unit is not None else "")


@handles(exp.Interval)
def _interval(node: exp.Interval, cc: Compiling) -> Node:
    text = interval_text(node)
    try:
        value = parse_interval(text)
    except ValueError as exc:
        cc.fail(node, str(exc))
    return const_node(value, cc.text(node), "interval")


@handles(exp.Paren)
def _paren(node: exp.Paren, cc: Compiling) -> Node:
    return cc.compile(node.this)


@handles(exp.Column)
def _column(node: exp.Column, cc: Compiling) -> Node:
    if isinstance(node.this, exp.Star):
        cc.fail(node, f"`{cc.text(node)}` is not allowed: name the column, as in `after.status`")
    parts = [(p.name, bool(p.args.get("quoted"))) for p in node.parts]

    def fail(message: str, suggestion: str | None) -> NoReturn:
        cc.fail(node, message, suggestion)

    scope, column = names.resolve(parts, fail)
    if column is not None:  # one object per name: a row looks it up by identity
        column = sys.intern(column)
    cc.reference(node, scope, column)
    if scope == "op" and cc.known_op is not None:
        return Node(constant(cc.known_op), cc.text(node), "text", const=cc.known_op,
                    column=(scope, column))
    return Node(
        names.evaluator(scope, column), cc.text(node), names.static_type(scope, column),
        column=(scope, column),
    )  # fmt: skip


# --- logic -------------------------------------------------------------------------------------


def _flatten(node: exp.Expr, cls: type[exp.Expr]) -> list[exp.Expr]:
    """The operands of a chain of ``cls`` (``a AND (b AND c)`` -> ``[a, b, c]``), in order."""
    operands, pending = [], [node]
    while pending:
        current = pending.pop()
        inner = current.unnest()
        if isinstance(inner, cls):
            pending += [inner.expression, inner.this]
        else:
            operands.append(current)
    return operands


def _boolean_operand(node: exp.Expr, compiled: Node, what: str, cc: Compiling) -> Node:
    if compiled.type not in (None, "boolean"):
        cc.fail(node, f"argument of {what} must be boolean, not {compiled.type}")
    return compiled


@handles(exp.And, exp.Or)
def _connective(node: exp.Connector, cc: Compiling) -> Node:
    what = "AND" if isinstance(node, exp.And) else "OR"
    operands = [
        _boolean_operand(part, cc.compile(part), what, cc) for part in _flatten(node, type(node))
    ]
    build = logic.conjunction if what == "AND" else logic.disjunction
    sql = cc.text(node)
    if cc.known_op is not None:
        folded = _fold_connective(operands, what == "OR", sql)
        if folded is not None:
            return folded
        operands = [o for o in operands if o.const is not (what == "AND")]
    return Node(build([o.fn for o in operands], sql), sql, "boolean", tuple(operands))


def _fold_connective(operands: list[Node], stop: bool, sql: str) -> Node | None:
    """What is left of an AND (``stop=False``) or OR (``stop=True``) once constants are
    known: the stop value if one operand is it (it wins over anything, errors included);
    the one operand left, when it is known to be boolean, if every other is the neutral
    value; None when a connective of what is not neutral remains."""
    if any(o.const is stop for o in operands):
        return const_node(stop, sql, "boolean")
    left = [o for o in operands if o.const is not (not stop)]
    if not left:
        return const_node(not stop, sql, "boolean")
    if len(left) == 1 and left[0].type == "boolean":
        return left[0]
    return None  # one operand that may not be boolean keeps the connective's check


@handles(exp.Not)
def _not(node: exp.Not, cc: Compiling) -> Node:
    operand = _boolean_operand(node.this, cc.compile(node.this), "NOT", cc)
    sql = cc.text(node)
    return Node(logic.negation(operand.fn, sql), sql, "boolean", (operand,))


@handles(exp.Is)
def _is(node: exp.Is, cc: Compiling) -> Node:
    operand, target = cc.compile(node.this), node.expression
    negate, sql = bool(node.args.get("negate")), cc.text(node)
    if isinstance(target, exp.Null):
        fn = logic.is_null(operand.fn, negate)
    elif isinstance(target, exp.Boolean):
        _boolean_operand(node.this, operand, "IS TRUE/FALSE", cc)
        fn = logic.is_truth(operand.fn, bool(target.this), negate, sql)
    else:
        cc.fail(node, "IS takes NULL, TRUE, FALSE or DISTINCT FROM")
    return Node(fn, sql, "boolean", (operand,))


@handles(exp.Case)
def _case(node: exp.Case, cc: Compiling) -> Node:
    subject = cc.compile(node.this) if node.this is not None else None
    pairs = [(cc.compile(i.this), cc.compile(i.args["true"])) for i in node.args["ifs"]]
    default_node = node.args.get("default")
    default = const_node(None, "NULL", None) if default_node is None else cc.compile(default_node)
    sql = cc.text(node)
    branches = [(w.fn, t.fn) for w, t in pairs]
    if subject is None:
        for (when, _), source in zip(pairs, node.args["ifs"], strict=True):
            _boolean_operand(source.this, when, "CASE WHEN", cc)
        fn = logic.searched_case(branches, default.fn, sql)
    else:
        fn = logic.simple_case(subject.fn, branches, default.fn, sql)
    children = ((subject,) if subject else ()) + tuple(n for p in pairs for n in p) + (default,)
    results = [t for _, t in pairs] + [default]
    types = [r.type for r in results if not (r.is_constant and r.const is None)]
    fn, result_type = unified(fn, types)
    return Node(fn, sql, result_type, children)


# --- comparisons -------------------------------------------------------------------------------

_SYMBOLS: dict[type[exp.Expr], str] = {
    exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=",
}  # fmt: skip
_OP_WORDS = {"insert": "c", "create": "c", "i": "c", "update": "u", "delete": "d",
             "read": "r", "snapshot": "r", "truncate": "t", "message": "m"}  # fmt: skip


def _check_op_literal(name: Node, literal: Node, node: exp.Expr, cc: Compiling) -> None:
    """``op`` is only ever one of Debezium's operation codes; catch ``op = 'update'``."""
    if name.column != ("op", None) or not isinstance(literal.const, str):
        return
    if literal.const not in OPS:
        code = _OP_WORDS.get(literal.const.lower())
        cc.fail(
            node,
            f"`op` is never '{literal.const}': it is one of 'c' (insert), 'u' (update), "
            "'d' (delete), 'r' (snapshot read), 't' (truncate), 'm' (message)",
            f"op = '{code}'" if code else None,
        )


def _check_null_literal(
    node: exp.Expr, symbol: str, left: Node, right: Node, cc: Compiling
) -> None:
    if isinstance(node.expression, exp.Null) or isinstance(node.this, exp.Null):
        other = left if isinstance(node.expression, exp.Null) else right
        suggestion = {"=": f"{other.sql} IS NULL", "<>": f"{other.sql} IS NOT NULL"}.get(symbol)
        cc.fail(node, f"a comparison with NULL is always NULL, so `{cc.text(node)}` never holds",
                suggestion)


def _json_literal(source: exp.Expr, compiled: Node, other: Node, cc: Compiling) -> Node:
    """A quoted literal that meets a JSON value (a ``->`` result) is read as JSON, as
    PostgreSQL reads it: ``after.doc -> 'channel' = '"web"'``."""
    if other.type != "json" or not (isinstance(source, exp.Literal) and source.is_string):
        return compiled
    try:
        value = parse_json(str(source.this))
    except ValueError as exc:
        cc.fail(source, f"{exc}; compare JSON with JSON such as '\"web\"', or use ->> "
                "to compare text")
    return const_node(value, compiled.sql, "json")


def _operands(node: exp.Binary, cc: Compiling) -> tuple[Node, Node]:
    """The compiled operands of a binary comparison, a literal meeting JSON read as JSON."""
    left, right = cc.compile(node.this), cc.compile(node.expression)
    return (_json_literal(node.this, left, right, cc),
            _json_literal(node.expression, right, left, cc))  # fmt: skip


@handles(*_SYMBOLS)
def _comparison(node: exp.Binary, cc: Compiling) -> Node:
    symbol = _SYMBOLS[type(node)]
    left, right = _operands(node, cc)
    _check_null_literal(node, symbol, left, right, cc)
    _check_op_literal(left, right, node, cc)
    _check_op_literal(right, left, node, cc)
    sql = cc.text(node)
    return Node(compare.comparison(symbol, left, right, sql), sql, "boolean", (left, right))


@handles(exp.NullSafeEQ, exp.NullSafeNEQ)
def _distinct(node: exp.Binary, cc: Compiling) -> Node:
    left, right = _operands(node, cc)
    negate, sql = isinstance(node, exp.NullSafeEQ), cc.text(node)
    fn = compare.distinct_from(left, right, negate, sql)
    return Node(fn, sql, "boolean", (left, right))


@handles(exp.In)
def _in(node: exp.In, cc: Compiling) -> Node:
    if any(node.args.get(key) is not None for key in ("query", "unnest", "field")):
        cc.fail(node, "IN takes a list of values here, not a subquery or an array")
    subject = cc.compile(node.this)
    items = [_json_literal(item, cc.compile(item), subject, cc) for item in node.expressions]
    for item in items:
        _check_op_literal(subject, item, node, cc)
    sql = cc.text(node)
    return Node(compare.in_list(subject.fn, items, sql), sql, "boolean", (subject, *items))


@handles(exp.Between)
def _between(node: exp.Between, cc: Compiling) -> Node:
    """``x BETWEEN a AND b`` is ``x >= a AND x <= b``, and ``BETWEEN SYMMETRIC`` is that OR
    ``x >= b AND x <= a``, as PostgreSQL rewrites them: lazy like ``AND`` and ``OR``."""
    subject, low, high = (cc.compile(node.args[k]) for k in ("this", "low", "high"))
    symmetric, sql = bool(node.args.get("symmetric")), cc.text(node)

    def within(lower: Node, upper: Node) -> Evaluator:
        bounds = [compare.comparison(">=", subject, lower, sql),
                  compare.comparison("<=", subject, upper, sql)]  # fmt: skip
        return logic.conjunction(bounds, sql)

    fn = within(low, high)
    if symmetric:
        fn = logic.disjunction([fn, within(high, low)], sql)
    return Node(fn, sql, "boolean", (subject, low, high))


@handles(exp.Like, exp.ILike)
def _like(node: exp.Like | exp.ILike, cc: Compiling) -> Node:
    return _compile_like(node, None, cc, cc.text(node))


@handles(exp.Escape)
def _escape(node: exp.Escape, cc: Compiling) -> Node:
    if not isinstance(node.this, exp.Like | exp.ILike):
        cc.fail(node, "ESCAPE belongs to LIKE or ILIKE")
    return _compile_like(node.this, node.expression, cc, cc.text(node))


def _compile_like(
    node: exp.Like | exp.ILike, escape: exp.Expr | None, cc: Compiling, sql: str
) -> Node:
    if isinstance(node.expression, exp.Any | exp.All):
        cc.fail(node, "LIKE ANY/ALL is not supported; combine LIKEs with OR/AND")
    subject, pattern = cc.compile(node.this), cc.compile(node.expression)
    escape_node = cc.compile(escape) if escape is not None else None
    try:
        fn = compare.like(subject.fn, pattern, escape_node, isinstance(node, exp.ILike), sql)
    except ValueError as exc:
        cc.fail(node.expression, str(exc))
    children = (subject, pattern) + ((escape_node,) if escape_node else ())
    if node.args.get("negate"):
        fn = logic.negation(fn, sql)
    return Node(fn, sql, "boolean", children)
