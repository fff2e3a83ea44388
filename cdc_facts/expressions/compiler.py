"""Compile a rule's SQL expression once into a tree of Python closures.

>>> from cdc_facts.changes import Change
>>> rule = compile_expression(
...     "op = 'u' AND before.status <> 'shipped' AND after.status = 'shipped'")
>>> rule.evaluate(Change(op="u", before={"status": "paid"}, after={"status": "shipped"}))
True
>>> rule.evaluate(Change(op="u", before={"status": None}, after={"status": "shipped"})) is None
True

The expression is parsed with sqlglot (PostgreSQL dialect) and walked once: each node class
is looked up in a table of handlers (:mod:`.syntax`, :mod:`.calls`) that build closures, so
evaluating a change runs no parser, no ``eval`` and no tree walk. Node classes that are not
in the table are refused at compile time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from sqlglot import exp

from cdc_facts.errors import EvaluationError, ExpressionError
from cdc_facts.expressions import calls  # noqa: F401  (registers its handlers)
from cdc_facts.expressions.context import EvalContext, Evaluator, Node, constant
from cdc_facts.expressions.dialect import RuleDialect, line_col, parse, span
from cdc_facts.expressions.syntax import HANDLERS

__all__ = ["EvalContext", "Expression", "Reference", "compile_expression"]

#: Deepest nesting of operations an expression may have: evaluation calls one closure per
#: level, and Python's stack is finite.
MAX_DEPTH = 150


@dataclass(frozen=True)
class Reference:
    """One name an expression reads, and where.

    Attributes:
        scope: ``'op'``, ``'before'``, ``'after'``, ``'row'``, ``'source'`` or ``'ts_ms'``.
        column: The column or source field; ``None`` for ``op`` and ``ts_ms``.
        line: 1-based line of the name within the expression.
        col: 1-based column of the name within the expression.
    """

    scope: str
    column: str | None
    line: int
    col: int


class Expression:
    """A compiled rule expression.

    Attributes:
        sql: The expression text as written.
        references: Every name the expression reads, in order of appearance.
        result_type: Best-effort static type of the result (``'boolean'``, ``'integer'``,
            ``'numeric'``, ``'text'``, ``'timestamp'``...), or ``None`` when it depends on
            the data.
        evaluate: ``evaluate(change) -> value``: the value for one change, ``None`` for SQL
            NULL or :data:`~cdc_facts.types.UNKNOWN` when it depends on a value the database
            did not deliver. A ``when`` condition holds only if the result ``is True``.
            Raises :class:`~cdc_facts.errors.EvaluationError` (division by zero, invalid
            cast...) naming the sub-expression that failed.
    """

    __slots__ = ("_root", "evaluate", "references", "result_type", "sql")

    sql: str
    references: tuple[Reference, ...]
    result_type: str | None
    evaluate: Evaluator

    def __init__(self, sql: str, root: Node, references: tuple[Reference, ...]) -> None:
        self.sql = sql
        self.references = references
        self.result_type = root.type
        self.evaluate = root.fn  # the root closure itself: no wrapper on the hot path
        self._root = root

    @property
    def after_column(self) -> str | None:
        """The column, when the expression is just ``after.<column>``: then ``evaluate``
        reads the ``after`` image's value, or unknown when the image lacks the column."""
        column = self._root.column
        return column[1] if column is not None and column[0] == "after" else None

    def explain(self, change: EvalContext) -> list[tuple[str, object]]:
        """Every sub-expression with its value for ``change``, outermost first.

        A sub-expression that fails shows the :class:`~cdc_facts.errors.EvaluationError`
        as its value; this method itself never raises it.
        """
        return [(node.sql, _value_or_error(node, change)) for node in _preorder(self._root)]

    def __repr__(self) -> str:
        return f"Expression({self.sql!r})"


def _preorder(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _preorder(child)


def _value_or_error(node: Node, change: EvalContext) -> object:
    try:
        return node.fn(change)
    except EvaluationError as exc:
        return exc


def compile_expression(sql: str, *, op: str | None = None) -> Expression:
    """Compile one SQL expression over ``op``, ``ts_ms``, ``before.*``, ``after.*``,
    ``row.*`` and ``source.*``.

    Args:
        sql: The expression, in PostgreSQL syntax.
        op: When given, the expression is only ever evaluated for changes with this
            operation: ``op`` is a constant, and what it decides is folded away
            (``op = 'u' AND x`` is compiled as ``x`` for ``op='u'``). Evaluating it for a
            change with another operation gives no meaningful result.

    Returns:
        The compiled expression.

    Raises:
        ExpressionError: a syntax error, an unknown name or function, or a construct that is
            not supported, with the 1-based line and column inside ``sql``, the offending
            fragment and, when there is one, a suggestion.
    """
    compiler = _Compiler(sql, op)
    try:
        root = compiler.compile(parse(sql))
    except RecursionError:
        raise ExpressionError(
            "the expression is nested too deeply; split it into simpler parts",
            expression=sql,
        ) from None
    except ExpressionError as exc:
        compiler.errors.append(exc)
    if compiler.errors:
        raise _together(compiler.errors)
    references = tuple(sorted(compiler.references, key=lambda r: (r.line, r.col)))
    return Expression(sql, root, references)


class _NoChange:
    """Stands in for a change when folding constants; constants never read it."""

    op = ""
    before = None
    after = None
    source: dict[str, object] = {}  # noqa: RUF012
    ts_ms = None


_NO_CHANGE = _NoChange()


class _Compiler:
    """One compilation: dispatches nodes to handlers and remembers names and positions."""

    def __init__(self, sql: str, known_op: str | None = None) -> None:
        self.sql = sql
        self.known_op = known_op
        self.references: list[Reference] = []
        self.errors: list[ExpressionError] = []
        self._depth = 0

    def compile(self, node: exp.Expr) -> Node:
        """The node compiled. A problem in an operand is noted and the operand stands in as
        a value of unknown type, so that the problems of the other operands are found too;
        :func:`compile_expression` then raises them all."""
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise RecursionError  # reported by compile_expression
        try:
            handler = HANDLERS.get(type(node))
            if handler is None:
                self._unsupported(node)
            return _folded(handler(node, self))
        except ExpressionError as exc:
            if self._depth == 1:
                raise
            self.errors.append(exc)
            return Node(_not_compiled, self.text(node))
        finally:
            self._depth -= 1

    def fail(self, node: exp.Expr, message: str, suggestion: str | None = None) -> NoReturn:
        own = "start" in node.meta and not isinstance(node, exp.DataType)
        where = (span(node) if own else self._search(node)) or span(node)
        line, col = line_col(self.sql, where[0]) if where else (1, 1)
        fragment = _balanced(self.sql, *where) if where else self.text(node)
        raise ExpressionError(
            message, expression=self.sql, line=line, col=col, fragment=fragment,
            suggestion=suggestion,
        )  # fmt: skip

    def _search(self, node: exp.Expr) -> tuple[int, int] | None:
        """Where a node the parser recorded no position for (``current_date``) is written."""
        text = self.text(node)
        start = self.sql.lower().find(text.lower())
        return (start, start + len(text)) if start >= 0 else None

    def text(self, node: exp.Expr) -> str:
        return node.sql(dialect=RuleDialect, normalize_functions=False)

    def reference(self, node: exp.Column, scope: str, column: str | None) -> None:
        where = span(node)
        line, col = line_col(self.sql, where[0]) if where else (1, 1)
        self.references.append(Reference(scope, column, line, col))

    def _unsupported(self, node: exp.Expr) -> NoReturn:
        reason = _UNSUPPORTED.get(type(node))
        if reason is None:
            reason = f"`{self.text(node)}` is not supported in rule expressions"
        self.fail(node, reason)


def _not_compiled(change: EvalContext) -> object:
    """Stands in for an operand that did not compile; never run, as the expression is
    refused."""
    raise AssertionError("an expression with problems is never evaluated")


def _together(errors: list[ExpressionError]) -> ExpressionError:
    """The first problem in the text, carrying the others in the order they are written."""
    ordered = sorted(errors, key=lambda e: (e.line, e.col))
    first = ordered[0]
    first.others = tuple(ordered[1:])
    return first


_NAME = re.compile(r'[\w"]+')


def _balanced(sql: str, start: int, end: int) -> str:
    """``sql[start:end]``, extended to the parentheses it opens (``lower(x`` -> ``lower(x)``)."""
    fragment, rest = sql[start:end], sql[end:]
    if _NAME.fullmatch(fragment) and rest.lstrip().startswith("("):
        fragment = sql[start : end + rest.index("(") + 1]  # a function name: add its arguments
    while fragment.count("(") > fragment.count(")"):
        closing = sql.find(")", start + len(fragment))
        if closing < 0:
            break
        fragment = sql[start : closing + 1]
    return fragment


_UNSUPPORTED: dict[type[exp.Expr], str] = {
    exp.Alias: "unexpected text: a rule expression is one SQL expression (no aliases)",
    exp.Select: "subqueries are not allowed: a rule sees one change at a time",
    exp.Subquery: "subqueries are not allowed: a rule sees one change at a time",
    exp.Exists: "subqueries are not allowed: a rule sees one change at a time",
    exp.Star: "`*` is not allowed: name the columns, as in `after.status`",
    exp.Placeholder: "parameters are not allowed in rule expressions",
    exp.Parameter: "parameters are not allowed in rule expressions",
    exp.Block: "only one expression is allowed (remove the `;`)",
    exp.Collate: "COLLATE is not supported: text compares by code point (like COLLATE \"C\")",
}


def _folded(node: Node) -> Node:
    """Replace a node whose operands are all constants by its value, when it has one."""
    if node.is_constant or not node.children:
        return node
    if not all(child.is_constant for child in node.children):
        return node
    try:
        value = node.fn(_NO_CHANGE)
    except EvaluationError:
        return node  # fails at run time, where the caller can tell which change it was
    return Node(constant(value), node.sql, node.type, node.children, value)
