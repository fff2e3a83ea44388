"""Parsing rule expressions: PostgreSQL syntax, with function names left to the registry.

The parser is sqlglot's PostgreSQL parser with one change: plain function calls are not
mapped to sqlglot's own function classes but kept as written (``exp.Anonymous``), so the
function registry alone decides which functions exist. Calls with special syntax
(``SUBSTRING(x FROM 2)``, ``POSITION(a IN b)``, ``EXTRACT(year FROM ts)``, ``TRIM(...)``,
``CAST``) are parsed as PostgreSQL parses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError, TokenError
from sqlglot.parsers.postgres import PostgresParser

from cdc_facts.errors import ExpressionError

_SPECIAL_SYNTAX = ("CAST", "EXTRACT", "POSITION", "SUBSTRING", "TRIM")


class _RuleParser(PostgresParser):
    FUNCTIONS: ClassVar[dict[str, Callable[..., Any]]] = {}
    FUNCTION_PARSERS: ClassVar[dict[str, Callable[..., Any]]] = {
        name: parser
        for name, parser in PostgresParser.FUNCTION_PARSERS.items()
        if name in _SPECIAL_SYNTAX
    }


class RuleDialect(Postgres):
    """PostgreSQL, with every plain function call parsed as written."""

    Parser = _RuleParser


def parse(sql: str) -> exp.Expr:
    """Parse one expression.

    Raises:
        ExpressionError: the text is empty or not valid SQL, with the position of the problem.
    """
    if not sql.strip():
        raise ExpressionError("the expression is empty", expression=sql)
    try:
        tree = sqlglot.parse_one(sql, read=RuleDialect)
    except ParseError as exc:
        raise _syntax_error(sql, exc) from None
    except TokenError as exc:
        raise _token_error(sql, exc) from None
    return tree


def _token_error(sql: str, exc: TokenError) -> ExpressionError:
    opened = _unterminated_quote(sql)
    if opened is None:
        offset, message = exc.start or 0, "syntax error: cannot read the text"
    else:
        offset = opened
        kind = "string" if sql[offset] == "'" else "quoted name"
        message = f"syntax error: unterminated {kind} (the closing {sql[offset]} is missing)"
    line, col = line_col(sql, offset)
    fragment = sql[offset:].splitlines()[0] if sql[offset:] else None
    return ExpressionError(message, expression=sql, line=line, col=col, fragment=fragment)


def _unterminated_quote(sql: str) -> int | None:
    """Offset of a quote that opens a string or quoted name and is never closed."""
    opened: int | None = None
    for offset, char in enumerate(sql):
        if opened is None and char in "'\"":
            opened = offset
        elif opened is not None and char == sql[opened]:
            opened = None  # a doubled quote closes and reopens: same result
    return opened


def _syntax_error(sql: str, exc: ParseError) -> ExpressionError:
    if not exc.errors:
        return ExpressionError(f"syntax error: {exc}", expression=sql)
    first = exc.errors[0]
    highlight = first.get("highlight") or ""
    line = int(first.get("line") or 1)
    col = max(int(first.get("col") or 1) - len(highlight) + 1, 1)
    description = str(first.get("description", "invalid syntax"))
    return ExpressionError(
        f"syntax error: {_plain_description(description)}",
        expression=sql, line=line, col=col, fragment=highlight or None,
    )  # fmt: skip


def _plain_description(description: str) -> str:
    if description.startswith("Required keyword"):
        return "an operand is missing"
    if description == "Invalid expression / Unexpected token":
        return "unexpected text"
    return description[:1].lower() + description[1:]


def line_col(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a 0-based character offset in ``sql``."""
    before = sql[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def span(node: exp.Expr) -> tuple[int, int] | None:
    """0-based ``(start, end)`` offsets (end exclusive) of the source text behind ``node``,
    as far as the parser recorded them."""
    starts, ends = [], []
    for part in node.walk():
        meta = part.meta if isinstance(part, exp.Expr) else None
        if meta and "start" in meta and "end" in meta:
            starts.append(int(meta["start"]))
            ends.append(int(meta["end"]) + 1)
    if not starts:
        return None
    return min(starts), max(ends)
