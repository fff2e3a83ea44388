"""Compiling the SQL expressions of a mapping file, with problems at file positions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from cdc_facts.errors import ExpressionError, Problem
from cdc_facts.expressions import compile_expression
from cdc_facts.rules.document import Document, ScalarPositions, value_position
from cdc_facts.rules.model import CompiledExpression

#: Root nodes that make a value, never true or false.
_NOT_CONDITIONS: dict[type, str] = {
    exp.Literal: "a constant",
    exp.Null: "NULL",
    exp.Add: "a number",
    exp.Sub: "a number",
    exp.Mul: "a number",
    exp.Div: "a number",
    exp.Mod: "a number",
    exp.Neg: "a number",
    exp.DPipe: "a text",
    exp.Concat: "a text",
    exp.Upper: "a text",
    exp.Lower: "a text",
    exp.Length: "a number",
    exp.Abs: "a number",
    exp.Round: "a number",
}


@dataclass(frozen=True)
class Compiled:
    """A compiled expression and how to find its text in the file."""

    expr: CompiledExpression
    positions: ScalarPositions

    def position(self, line: int, col: int) -> tuple[int, int]:
        """The file position of ``line``/``col`` inside the expression."""
        return self.positions.file_position(line, col)


def sql_text(value: object) -> str:
    """The SQL text of a YAML scalar: ``true`` -> ``TRUE``, ``7`` -> ``7``."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value).rstrip()


def compile_at(
    doc: Document, node: Any, key: object, where: str
) -> tuple[Compiled | None, list[Problem]]:
    """Compile ``node[key]``; an error becomes a problem at its place in the file."""
    value = node[key]
    sql = sql_text(value)
    start = value_position(node, key)
    positions = ScalarPositions(doc.lines, value if isinstance(value, str) else sql, start)
    try:
        expr = compile_expression(sql)
    except ExpressionError as exc:
        hint = _literal_hint(sql)
        return None, [_problem(doc, positions, f"{where}: {error.message}{hint}", error)
                      for error in exc.all]
    return Compiled(expr, positions), []


def _problem(doc: Document, positions: ScalarPositions, message: str,
             error: ExpressionError) -> Problem:
    line, col = positions.file_position(error.line, error.col)
    return Problem(doc.file, line, col, message, error.fragment, error.suggestion)


def _literal_hint(sql: str) -> str:
    """A hint for a bare word that was meant as text: ``EUR`` -> ``'EUR'``."""
    word = sql.strip()
    if word.isidentifier() and word.lower() not in ("op", "true", "false", "null"):
        return f" (for the text {word}, quote it in SQL: \"'{word}'\")"
    return ""


def _syntactic_kind(sql: str) -> str | None:
    """What the expression's outermost node makes, when that is clearly no condition."""
    try:
        root = sqlglot.parse_one(sql, read="postgres")
    except SqlglotError:
        return None
    while isinstance(root, exp.Paren):
        root = root.this
    return _NOT_CONDITIONS.get(type(root))


def condition_problem(doc: Document, compiled: Compiled, where: str) -> Problem | None:
    """A problem when ``when`` can never be true or false (a number, a text, NULL)."""
    sql = compiled.expr.sql
    known = compiled.expr.result_type
    what = f"of type {known}" if known not in (None, "boolean") else _syntactic_kind(sql)
    if what is None:
        return None
    line, col = compiled.position(1, 1)
    return Problem(
        doc.file, line, col,
        f"{where} must be a condition (true or false), but `{sql}` is {what}; "
        "compare it, e.g. `after.status = 'shipped'`",
        fragment=sql.split("\n")[0],
    )
