"""Where SQL's three-valued logic makes a ``when`` condition drop changes its author meant.

A rule fires only when ``when`` is TRUE, and a comparison with NULL is NULL, never TRUE.
Three patterns are almost always mistakes; ``validate`` warns about each, with the place and
the fix (docs/rules.md, "Three-valued logic"):

- ``a <> b`` (or ``!=``) over a column that may be NULL, where the result decides the
  rule: a change from or to NULL is not "different", it is unknown, and makes no fact.
  ``IS DISTINCT FROM`` treats NULL as a value.
- ``NOT a`` over such a boolean column, deciding the rule: NULL when ``a`` is NULL.
  ``a IS NOT TRUE`` counts NULL as not true.
- ``a NOT IN (…, NULL)``: never TRUE, whatever ``a`` is.

(``a = NULL`` and ``a <> NULL`` are errors: the compiler refuses them.)

The first two are warnings only where they decide the rule, that is, where only
``AND``, ``OR`` and parentheses stand between it and the top of ``when``: inside
``COALESCE``, ``CASE`` or ``NOT``, the author handled NULL, or meant something else. A key
column of the source (``key:``) is never NULL, and is left out.

>>> [t.suggestion for t in null_traps("op = 'u' AND before.status <> after.status")]
['before.status IS DISTINCT FROM after.status']
>>> null_traps("before.id <> after.id", never_null={"id"})
[]
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from sqlglot import exp

from cdc_facts.errors import ExpressionError
from cdc_facts.expressions.dialect import RuleDialect, line_col, parse, span

_ROW_SCOPES = ("before", "after", "row")
#: Where a message names the trap's text, as the author wrote it.
_HERE = "\x00"
#: What precedes the operand of a prefix NOT (the parser keeps no position for NOT itself).
_NOT_HEAD = re.compile(r"\bnot\s*(\(\s*)?$", re.IGNORECASE)
_CLOSE = re.compile(r"\s*\)")
#: What follows the last positioned token of a node that ends in NULL: the parser keeps no
#: position for a NULL literal (``, NULL)``, ``NOT IN (NULL)``).
_NULL_TAIL = re.compile(r"(?:\s*(?:,|not\s+in\s*\(|in\s*\()?\s*null\b)+\s*\)?",
                        re.IGNORECASE)


@dataclass(frozen=True)
class Trap:
    """One place in a condition where NULL very likely defeats its author's intent."""

    line: int  # 1-based, in the expression's text
    col: int
    fragment: str
    message: str
    suggestion: str | None = None


def null_traps(sql: str, never_null: Collection[str] = ()) -> list[Trap]:
    """The traps in the condition ``sql``, in text order; none if it does not parse (the
    compiler reports that). ``never_null`` names row columns that cannot be NULL."""
    try:
        tree = parse(sql)
    except ExpressionError:  # the compiler reports it
        return []
    keys = frozenset(never_null)
    traps = [*_not_in_null(sql, tree), *_nullable_inequalities(sql, tree, keys),
             *_negated_columns(sql, tree, keys)]
    return sorted(traps, key=lambda t: (t.line, t.col))


def _not_in_null(sql: str, tree: exp.Expr) -> Iterator[Trap]:
    for node in tree.find_all(exp.Not):
        inner = node.this.unnest()
        if not isinstance(inner, exp.In) or not any(
                isinstance(item, exp.Null) for item in inner.expressions):
            continue
        kept = [item for item in inner.expressions if not isinstance(item, exp.Null)]
        fix = (f"{_text(inner.this)} NOT IN ({', '.join(_text(i) for i in kept)})" if kept
               else None)
        yield _trap(sql, node, fix, (
            f"`{_HERE}` is never true: with NULL in the list, a value that is not in it "
            "gives NULL, not TRUE; leave NULL out of the list"))


def _negated_columns(sql: str, tree: exp.Expr, never_null: frozenset[str]) -> Iterator[Trap]:
    for node in _deciding(tree):
        if not isinstance(node, exp.Not) or not _nullable_column(node.this, never_null):
            continue
        column = _text(node.this)
        fix = f"{column} IS NOT TRUE"
        yield _trap(sql, node, fix, (
            f"`{_HERE}` is NULL, not TRUE, when {column} is NULL, so such a change makes no "
            f"fact; if NULL should count as not true, write `{fix}`"))


def _nullable_inequalities(sql: str, tree: exp.Expr, never_null: frozenset[str],
                           ) -> Iterator[Trap]:
    for node in _deciding(tree):
        if not isinstance(node, exp.NEQ) or any(
                isinstance(side, exp.Null) for side in (node.left, node.right)):
            continue
        nullable = [c for c in (node.left, node.right) if _nullable_column(c, never_null)]
        if not nullable:
            continue
        column = _text(nullable[0])
        fix = f"{_text(node.left)} IS DISTINCT FROM {_text(node.right)}"
        yield _trap(sql, node, fix, (
            f"`{_HERE}` is NULL, not TRUE, when {column} is NULL, so such a change makes no "
            f"fact; if a change from or to NULL should count as different, write `{fix}`"))


def _deciding(tree: exp.Expr) -> Iterator[exp.Expr]:
    """The nodes whose truth decides the condition: the top, and below it only through
    AND, OR and parentheses."""
    stack = [tree]
    while stack:
        node = stack.pop().unnest()
        if isinstance(node, exp.And | exp.Or):
            stack.extend((node.right, node.left))
        else:
            yield node


def _nullable_column(node: exp.Expr, never_null: frozenset[str]) -> bool:
    node = node.unnest()
    if not isinstance(node, exp.Column) or node.table.lower() not in _ROW_SCOPES:
        return False
    return node.name not in never_null


def _text(node: exp.Expr) -> str:
    return node.sql(dialect=RuleDialect, normalize_functions=False)


def _trap(sql: str, node: exp.Expr, suggestion: str | None, message: str) -> Trap:
    """A trap at ``node``; :data:`_HERE` in ``message`` becomes the node's text as written."""
    where = span(node)
    if where is None:
        return Trap(1, 1, _text(node), message.replace(_HERE, _text(node)), suggestion)
    start, end = where
    head = _NOT_HEAD.search(sql, 0, start) if isinstance(node, exp.Not) else None
    if head is not None:
        start = head.start()
        close = _CLOSE.match(sql, end) if head.group(1) else None
        end = close.end() if close is not None else end
    tail = _NULL_TAIL.match(sql, end)
    if tail is not None:
        end = tail.end()
    fragment = " ".join(sql[start:end].split())
    line, col = line_col(sql, start)
    return Trap(line, col, fragment, message.replace(_HERE, fragment), suggestion)
