"""docs/expressions.md stays true: every ``expression -- result`` example in its SQL blocks
is evaluated, and every registered function is documented."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cdc_facts.changes import Change
from cdc_facts.errors import EvaluationError, ExpressionError
from cdc_facts.expressions import FUNCTIONS, compile_expression
from cdc_facts.expressions.casts import json_text
from cdc_facts.expressions.temporal import interval_text, timestamp_text
from cdc_facts.types import UNKNOWN

DOC = Path(__file__).resolve().parent.parent / "docs" / "expressions.md"

#: The change the documentation's examples run on (described at the top of the page).
PAID_AT = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
EXAMPLE = Change(
    op="u",
    ts_ms=1709388330512,
    before={"id": 42, "status": "paid", "total": Decimal("100.00"), "note": None,
            "paid_at": PAID_AT},
    after={"id": 42, "status": "shipped", "total": Decimal("120.50"), "note": None,
           "paid_at": PAID_AT, "shipped_at": datetime(2024, 3, 2, 14, 5, 30, tzinfo=UTC),
           "items": 3, "extra": {"gift": True, "channel": "web", "lines": [1, 2]},
           "Order Ref": "A-17"},
    source={"db": "shop", "schema": "public", "table": "orders", "ts_ms": 1709388330000,
            "lsn": 123456},
)  # fmt: skip

_EXAMPLE_LINE = re.compile(r"^(?P<sql>.+?)\s+-- (?P<result>.+)$")


def examples() -> list[tuple[str, str]]:
    """``(sql, result)`` for every example line in the ```sql blocks of the page."""
    found, in_sql = [], False
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            in_sql = line == "```sql"
            continue
        match = _EXAMPLE_LINE.match(line) if in_sql else None
        if match:
            found.append((match["sql"].strip(), match["result"].strip()))
    return found


def show(value: object) -> str:
    """A value the way the page writes it."""
    if value is None or value is UNKNOWN:
        return "NULL" if value is None else "UNKNOWN"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
        return f"{kind} '{timestamp_text(value)}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, timedelta):
        return f"INTERVAL '{interval_text(value)}'"
    if isinstance(value, dict | list):
        return json_text(value)
    return repr(value)


def test_the_page_has_examples() -> None:
    assert len(examples()) > 100


@pytest.mark.parametrize(("sql", "result"), examples())
def test_documented_example(sql: str, result: str) -> None:
    if result.startswith("refused: "):
        _check_refused(sql, result.removeprefix("refused: "))
        return
    expression = compile_expression(sql)
    if result.startswith("error: "):
        with pytest.raises(EvaluationError) as caught:
            expression.evaluate(EXAMPLE)
        assert result.removeprefix("error: ") in caught.value.message
        return
    assert show(expression.evaluate(EXAMPLE)) == result


def _check_refused(sql: str, expected: str) -> None:
    message, _, suggestion = expected.partition(" (did you mean `")
    with pytest.raises(ExpressionError) as caught:
        compile_expression(sql)
    assert message in caught.value.message
    if suggestion:
        assert caught.value.suggestion == suggestion.removesuffix("`)")


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_is_documented(name: str) -> None:
    table = DOC.read_text().split("## Functions", 1)[1].split("### Adding a function", 1)[0]
    documented = re.search(rf"`{name}\(|\b{name}\(", table, re.IGNORECASE)
    assert documented, f"{name}() is missing from the functions table"
