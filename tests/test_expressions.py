"""The rule-expression compiler: names, NULL and UNKNOWN, logic, comparisons, errors."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

import cdc_facts.expressions
from cdc_facts.changes import Change
from cdc_facts.errors import EvaluationError, ExpressionError
from cdc_facts.expressions import (
    FUNCTIONS,
    Expression,
    Reference,
    compile_expression,
    register_function,
)
from cdc_facts.types import UNKNOWN

U = UNKNOWN


def change(
    op: str = "u",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
    ts_ms: int | None = None,
) -> Change:
    return Change(op=op, before=before, after=after, source=source or {}, ts_ms=ts_ms)


def value(sql: str, **kwargs: Any) -> object:
    """Evaluate ``sql``; columns a, b, c... come from the after image of an insert."""
    row = kwargs.pop("row", None)
    if row is not None:
        kwargs.setdefault("op", "c")
        kwargs["after"] = row
    return compile_expression(sql).evaluate(change(**kwargs))


# --- names -------------------------------------------------------------------------------------

SHIPPED = change(
    op="u",
    before={"status": "paid", "Order Id": 7},
    after={"status": "shipped", "Order Id": 7},
    source={"ts_ms": 1700000000000, "table": "orders", "lsn": 42, "txId": 9},
    ts_ms=1700000000500,
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("op", "u"),
        ("ts_ms", 1700000000500),
        ("before.status", "paid"),
        ("after.status", "shipped"),
        ("AFTER.STATUS", "shipped"),
        ("row.status", "shipped"),
        ('after."Order Id"', 7),
        ("source.ts_ms", 1700000000000),
        ("source.table", "orders"),
        ("source.txid", 9),
        ("source.txId", 9),
        ("source.db", None),
        ('source."custom"', None),
    ],
)
def test_names_read_the_change(sql: str, expected: object) -> None:
    assert compile_expression(sql).evaluate(SHIPPED) == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"op": "u", "before": None, "after": {"x": 1}}, U),  # REPLICA IDENTITY DEFAULT
        ({"op": "d", "before": None, "after": None}, U),
        ({"op": "c", "before": None, "after": {"x": 1}}, None),  # an insert has no before
        ({"op": "r", "before": None, "after": {"x": 1}}, None),
        ({"op": "t", "before": None, "after": None}, None),
        ({"op": "u", "before": {"y": 1}, "after": {"x": 1}}, U),  # schema drift
        ({"op": "u", "before": {"x": U}, "after": {"x": 1}}, U),  # placeholder
        ({"op": "u", "before": {"x": None}, "after": {"x": 1}}, None),
    ],
)
def test_before_value_unknown_or_null(kwargs: dict[str, Any], expected: object) -> None:
    assert value("before.x", **kwargs) is expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"op": "d", "before": {"x": 1}, "after": None}, None),
        ({"op": "c", "after": {"y": 1}}, U),
        ({"op": "c", "after": {"x": U}}, U),
    ],
)
def test_after_value_unknown_or_null(kwargs: dict[str, Any], expected: object) -> None:
    assert value("after.x", **kwargs) is expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"op": "d", "before": {"x": 1}, "after": None}, 1),
        ({"op": "u", "before": {"x": 1}, "after": {"x": 2}}, 2),
        ({"op": "d", "before": None, "after": None}, U),
        ({"op": "t", "before": None, "after": None}, None),
    ],
)
def test_row_is_after_else_before(kwargs: dict[str, Any], expected: object) -> None:
    assert value("row.x", **kwargs) == expected


def test_references_list_every_name_with_its_position() -> None:
    expression = compile_expression(
        "op = 'u' AND\n  before.status <> after.status AND source.ts_ms > ts_ms"
    )
    assert expression.references == (
        Reference("op", None, 1, 1),
        Reference("before", "status", 2, 3),
        Reference("after", "status", 2, 20),
        Reference("source", "ts_ms", 2, 37),
        Reference("ts_ms", None, 2, 52),
    )


def test_quoted_names_keep_their_case_and_unquoted_fold_to_lower() -> None:
    refs = compile_expression('after."CamelCase" = after.CamelCase').references
    assert [r.column for r in refs] == ["CamelCase", "camelcase"]


# --- three-valued logic and UNKNOWN ------------------------------------------------------------

T, F, N = "TRUE", "FALSE", "NULL"
TRUTH = {T: True, F: False, N: None, "after.u": U}
AND_TABLE = [
    (T, T, True), (T, F, False), (T, N, None), (T, "after.u", U),
    (F, F, False), (F, N, False), (F, "after.u", False),
    (N, N, None), (N, "after.u", U), ("after.u", "after.u", U),
]  # fmt: skip
OR_TABLE = [
    (T, T, True), (T, F, True), (T, N, True), (T, "after.u", True),
    (F, F, False), (F, N, None), (F, "after.u", U),
    (N, N, None), (N, "after.u", U), ("after.u", "after.u", U),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b", "expected"), AND_TABLE)
def test_and_truth_table_both_orders(a: str, b: str, expected: object) -> None:
    assert value(f"{a} AND {b}", row={}) is expected
    assert value(f"{b} AND {a}", row={}) is expected


@pytest.mark.parametrize(("a", "b", "expected"), OR_TABLE)
def test_or_truth_table_both_orders(a: str, b: str, expected: object) -> None:
    assert value(f"{a} OR {b}", row={}) is expected
    assert value(f"{b} OR {a}", row={}) is expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("TRUE AND TRUE AND NULL", None),
        ("TRUE AND after.u AND NULL AND TRUE", U),
        ("NULL AND after.u AND FALSE", False),
        ("FALSE OR NULL OR after.u OR FALSE", U),
        ("FALSE OR FALSE OR FALSE OR TRUE", True),
        ("FALSE OR FALSE OR FALSE OR FALSE", False),
        ("TRUE AND TRUE AND TRUE AND TRUE", True),
        ("NOT TRUE", False),
        ("NOT NULL", None),
        ("NOT after.u", U),
    ],
)
def test_longer_connectives_and_not(sql: str, expected: object) -> None:
    assert value(sql, row={}) is expected


@pytest.mark.parametrize(
    "sql",
    [
        "FALSE AND 1 / 0 = 1",
        "1 / 0 = 1 AND FALSE",
        "after.u AND 1 / 0 = 1 AND FALSE",
        "TRUE AND CAST('x' AS integer) = 1 AND FALSE",
    ],
)
def test_an_error_in_an_and_operand_that_does_not_matter_is_ignored(sql: str) -> None:
    assert value(sql, row={}) is False


@pytest.mark.parametrize(
    "sql", ["TRUE OR 1 / 0 = 1", "1 / 0 = 1 OR TRUE", "1/0 = 1 OR NULL OR TRUE"]
)
def test_an_error_in_an_or_operand_that_does_not_matter_is_ignored(sql: str) -> None:
    assert value(sql, row={}) is True


@pytest.mark.parametrize("sql", ["TRUE AND 1 / 0 = 1", "1 / 0 = 1 OR FALSE", "NULL AND 1/0 = 1"])
def test_an_error_that_matters_is_raised(sql: str) -> None:
    with pytest.raises(EvaluationError, match="division by zero"):
        value(sql, row={})


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("after.x IS NULL", True),
        ("after.x IS NOT NULL", False),
        ("after.u IS NULL", U),
        ("after.u IS NOT NULL", U),
        ("after.t IS NULL", False),
        ("after.t IS TRUE", True),
        ("after.x IS TRUE", False),
        ("after.x IS NOT TRUE", True),
        ("after.x IS FALSE", False),
        ("after.x IS NOT FALSE", True),
        ("after.f IS FALSE", True),
        ("after.u IS TRUE", U),
        ("after.u IS NOT FALSE", U),
        ("after.x IS UNKNOWN", True),
        ("after.x IS DISTINCT FROM NULL", False),
        ("after.x IS NOT DISTINCT FROM NULL", True),
        ("after.t IS DISTINCT FROM NULL", True),
        ("after.t IS DISTINCT FROM TRUE", False),
        ("after.u IS DISTINCT FROM NULL", U),
        ("after.u IS NOT DISTINCT FROM after.t", U),
        ("1 IS DISTINCT FROM 1.0", False),
        ("'a' IS DISTINCT FROM 'b'", True),
    ],
)
def test_is_predicates(sql: str, expected: object) -> None:
    assert value(sql, row={"x": None, "t": True, "f": False}) is expected


def test_the_classic_trap_a_null_before_status_does_not_fire_the_rule() -> None:
    rule = compile_expression(
        "op = 'u' AND before.status <> 'shipped' AND after.status = 'shipped'"
    )
    assert rule.evaluate(change("u", {"status": None}, {"status": "shipped"})) is None
    assert rule.evaluate(change("u", None, {"status": "shipped"})) is U
    assert rule.evaluate(change("u", {"status": "paid"}, {"status": "shipped"})) is True
    assert rule.evaluate(change("c", None, {"status": "shipped"})) is False
    fixed = compile_expression(
        "op = 'u' AND before.status IS DISTINCT FROM 'shipped' AND after.status = 'shipped'"
    )
    assert fixed.evaluate(change("u", {"status": None}, {"status": "shipped"})) is True


# --- CASE, COALESCE, NULLIF ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("CASE WHEN after.a > 1 THEN 'big' ELSE 'small' END", "big"),
        ("CASE WHEN after.a > 5 THEN 'big' END", None),
        ("CASE WHEN after.x > 1 THEN 'big' ELSE 'other' END", "other"),
        ("CASE WHEN after.u > 1 THEN 'big' ELSE 'other' END", U),
        ("CASE WHEN after.a = 2 THEN 'two' WHEN after.u THEN 'u' END", "two"),
        ("CASE WHEN after.a = 2 THEN after.a ELSE after.u END", 2),
        ("CASE WHEN after.a = 3 THEN 1 / 0 ELSE after.u END", U),
        ("CASE WHEN after.a = 2 THEN 'ok' ELSE 1 / 0 END", "ok"),
        ("CASE after.a WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", "two"),
        ("CASE after.a WHEN 1 THEN 'one' ELSE 'else' END", "else"),
        ("CASE after.x WHEN 1 THEN 'one' ELSE 'null goes to else' END", "null goes to else"),
        ("CASE after.u WHEN 1 THEN 'one' ELSE 'else' END", U),
        ("CASE after.a WHEN after.u THEN 'x' ELSE 'y' END", U),
        ("CASE after.a WHEN 2 THEN 'two' WHEN after.u THEN 'x' END", "two"),
        ("COALESCE(after.x, after.a)", 2),
        ("COALESCE('x', after.u)", "x"),
        ("COALESCE(after.x, after.u, 'x')", U),
        ("COALESCE(after.u, 'x')", U),
        ("COALESCE(after.x, NULL)", None),
        ("COALESCE(after.a, 1 / 0)", 2),
        ("NULLIF(after.a, 2)", None),
        ("NULLIF(after.a, 3)", 2),
        ("NULLIF(after.a, NULL)", 2),
        ("NULLIF(after.x, 2)", None),
        ("NULLIF(after.u, 2)", U),
        ("NULLIF(after.a, after.u)", U),
        ("NULLIF(1, 1.0)", None),
    ],
)
def test_conditional_expressions(sql: str, expected: object) -> None:
    assert value(sql, row={"a": 2, "x": None}) == expected


def test_case_errors_in_the_branch_taken() -> None:
    with pytest.raises(EvaluationError, match=r"`1 / 0`"):
        value("CASE WHEN TRUE THEN 1 / 0 END", row={})


# --- comparisons ----------------------------------------------------------------------------------

D = Decimal


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("1 = 1", True), ("1 <> 1", False), ("1 != 2", True), ("1 < 2", True),
        ("2 <= 2", True), ("3 > 2", True), ("2 >= 3", False),
        ("1 = 1.0", True), ("1.5 > 1", True), ("'abc' < 'abd'", True), ("'B' < 'a'", True),
        ("after.n = 1", None), ("after.u = 1", U), ("after.u = after.n", None),
        ("after.i = 10", True), ("after.i > '9'", True), ("after.d = 10.50", True),
        ("after.d = '10.5'", True), ("after.f = 0.5", True), ("after.i = after.d", False),
        ("after.b = TRUE", True), ("after.b = 't'", True), ("after.b = 'no'", False),
        ("after.s = 'x'", True), ("'x' = after.s", True), ("'a' < after.s", True),
        ("5 > after.i", False), ("after.day = '2024-01-31'", True),
        ("after.day < TIMESTAMP '2024-01-31 00:00:01'", True),
        ("after.day = TIMESTAMPTZ '2024-01-31 00:00:00+00'", True),
        ("after.at = TIMESTAMP '2024-01-31 10:00:00'", True),
        ("after.at = '2024-01-31T12:00:00+02:00'", True),
        ("after.at > after.day", True),
        ("op = 'c'", True), ("'c' = op", True), ("op <> 'u'", True),
    ],
)  # fmt: skip
def test_comparisons(sql: str, expected: object) -> None:
    row = {"n": None, "i": 10, "d": D("10.50"), "f": 0.5, "b": True, "s": "x",
           "day": date(2024, 1, 31), "at": datetime(2024, 1, 31, 10, tzinfo=UTC)}  # fmt: skip
    assert value(sql, row=row) is expected


@pytest.mark.parametrize(
    ("sql", "row"),
    [
        ("after.x = 1", {"x": "abc"}),
        ("after.x = 1", {"x": date(2024, 1, 1)}),
        ("after.x < after.y", {"x": True, "y": 1}),
        ("after.x = after.y", {"x": {"a": 1}, "y": "not json"}),
    ],
)
def test_comparing_incompatible_values_is_an_evaluation_error(
    sql: str, row: dict[str, Any]
) -> None:
    with pytest.raises(EvaluationError, match=f"`{sql}`"):
        value(sql, row=row)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("after.a IN (1, 2, 3)", True),
        ("after.a IN (1, 3)", False),
        ("after.a IN (1, NULL)", None),
        ("after.a IN (2, NULL)", True),
        ("after.a NOT IN (1, 3)", True),
        ("after.a NOT IN (1, NULL)", None),
        ("after.a NOT IN (2, NULL)", False),
        ("after.x IN (1, 2)", None),
        ("after.u IN (1, 2)", U),
        ("after.a IN (1, after.u)", U),
        ("after.a IN (2, after.u)", True),
        ("after.a IN (after.u, NULL)", U),
        ("after.a IN (2.0, 5)", True),
        ("after.a IN ('2', '3')", True),
        ("after.s IN ('x', 'y')", True),
        ("after.s IN ('a', 'b')", False),
        ("after.s NOT IN ('a', 'b')", True),
        ("after.a IN (1, 1 / 0, 2)", True),
        ("op IN ('c', 'u')", True),
        ("after.a BETWEEN 1 AND 3", True),
        ("after.a BETWEEN 3 AND 1", False),
        ("after.a BETWEEN SYMMETRIC 3 AND 1", True),
        ("after.a NOT BETWEEN 1 AND 3", False),
        ("after.a BETWEEN 3 AND NULL", False),
        ("after.a BETWEEN 1 AND NULL", None),
        ("after.a BETWEEN 1 AND after.u", U),
        ("after.a BETWEEN 3 AND after.u", False),
        ("after.x BETWEEN 1 AND 3", None),
        ("5 BETWEEN 6 AND 1 / 0", False),
        ("after.a BETWEEN 3 AND 1 / 0", False),
        ("after.a BETWEEN 1 / 0 AND 1", False),
        ("after.a NOT BETWEEN 3 AND 1 / 0", True),
        ("after.a BETWEEN SYMMETRIC 1 AND 3", True),
        ("after.a BETWEEN SYMMETRIC 3 AND NULL", None),
        ("after.a BETWEEN SYMMETRIC after.u AND 3", U),
    ],
)
def test_in_and_between(sql: str, expected: object) -> None:
    assert value(sql, row={"a": 2, "s": "x", "x": None}) is expected


@pytest.mark.parametrize(
    "sql", ["after.a IN (1, 1 / 0)", "after.a BETWEEN 1 AND 1 / 0",
            "after.a BETWEEN 1 / 0 AND 3", "after.a BETWEEN SYMMETRIC 3 AND 1 / 0"],
)  # fmt: skip
def test_in_and_between_with_an_error_that_matters_raise(sql: str) -> None:
    with pytest.raises(EvaluationError, match="division by zero"):
        value(sql, row={"a": 2})


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("'shipped' LIKE 'ship%'", True),
        ("'shipped' LIKE 'ship'", False),
        ("'shipped' LIKE 's_ipped'", True),
        ("'shipped' LIKE '%PP%'", False),
        ("'shipped' ILIKE '%PP%'", True),
        ("'shipped' NOT LIKE 'ship%'", False),
        ("'shipped' NOT ILIKE 'SHIP%'", False),
        ("'50%' LIKE '50\\%'", True),
        ("'500' LIKE '50\\%'", False),
        ("'a_c' LIKE 'a\\_c'", True),
        ("'abc' LIKE 'a\\_c'", False),
        ("'50%' LIKE '50#%' ESCAPE '#'", True),
        ("'a\\b' LIKE 'a\\b' ESCAPE ''", True),
        ("'line\nbreak' LIKE 'line%'", True),
        ("'a.c' LIKE 'a.c'", True),
        ("'abc' LIKE '%'", True),
        ("'abc' LIKE '%%'", True),
        ("'abc' LIKE '%bc'", True),
        ("'abc' LIKE '%b'", False),
        ("'abc' LIKE 'abc'", True),
        ("'abc' LIKE 'ab'", False),
        ("'' LIKE ''", True),
        ("'a%c' LIKE '%\\%%'", True),
        ("'abc' LIKE '%\\%%'", False),
        ("'abc' LIKE 'a.c'", False),
        ("after.x LIKE 'a%'", None),
        ("after.u LIKE 'a%'", U),
        ("'abc' LIKE after.x", None),
        ("'abc' LIKE after.p", True),
        ("'abc' NOT LIKE after.p", False),
        ("'abc' LIKE after.u", U),
    ],
)
def test_like(sql: str, expected: object) -> None:
    assert value(sql, row={"x": None, "p": "a%"}) is expected


def test_like_on_a_non_text_value_asks_for_a_cast() -> None:
    with pytest.raises(EvaluationError, match="cast it with ::text"):
        value("after.n LIKE '1%'", row={"n": 10})


def test_like_pattern_ending_in_escape_is_refused() -> None:
    with pytest.raises(ExpressionError, match="must not end with escape"):
        compile_expression("after.s LIKE 'abc\\'")
    with pytest.raises(EvaluationError, match="must not end with escape"):
        value("after.s LIKE after.p", row={"s": "abc", "p": "abc\\"})


# --- compile errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message", "line", "col", "suggestion"),
    [
        ("aftr.status = 'x'", "unknown name `aftr.status`", 1, 1, "after.status"),
        ("op = 'u' AND\n  befor.status = 'x'", "unknown name", 2, 3, "before.status"),
        ("status = 'x'", "a column needs its image", 1, 1, "after.status"),
        ("opp = 'u'", "unknown name `opp`", 1, 1, "op"),
        ("source.tabel = 'x'", "unknown source field", 1, 1, "source.table"),
        ("op.x = 1", "`op` has no fields", 1, 1, "op"),
        ("after.a.b = 1", "names look like", 1, 1, None),
        ("lowr(after.s) = 'x'", "unknown function `lowr()`", 1, 1, "lower()"),
        ("after.a = 1 AND uper(after.s) = 'X'", "unknown function", 1, 17, "upper()"),
        ("max(after.a, 1) = 1", "aggregate functions are not available", 1, 1, "greatest"),
        ("ifnull(after.a, 1) = 1", "unknown function", 1, 1, "coalesce()"),
        ("now() > after.t", "not deterministic", 1, 1, None),
        ("after.t < current_timestamp", "not deterministic", 1, 11, None),
        ("random() < 0.5", "not deterministic", 1, 1, None),
        ("lower(after.a, 'x') = 'y'", "takes 1 argument(s), not 2", 1, 1, None),
        ("after.a = = 1", "syntax error", 1, 11, None),
        ("after.a IN (1,", "syntax error", 1, None, None),
        ("after.a = 'open", "unterminated string", 1, 11, None),
        ("", "empty", 1, 1, None),
        ("after.a = 1 after.b", "unexpected text", 1, 18, None),
        ("after.a = 1 AS b", "no aliases", 1, None, None),
        ("after.a IN (SELECT 1)", "IN takes a list", 1, 1, None),
        ("after.a = (SELECT 1)", "subqueries are not allowed", 1, None, None),
        ("after.a = 1; after.b = 2", "only one expression", 1, 1, None),
        ("after.a = NULL", "always NULL", 1, 1, "after.a IS NULL"),
        ("after.a <> NULL", "always NULL", 1, 1, "after.a IS NOT NULL"),
        ("op = 'update'", "`op` is never 'update'", 1, 1, "op = 'u'"),
        ("op IN ('c', 'insert')", "`op` is never 'insert'", 1, 1, "op = 'c'"),
        ("after.a::money > 1", "cannot cast to MONEY", 1, 10, None),
        ("after.a::char(3) = 'x'", "use text or varchar", 1, 10, None),
        ("after.* IS NULL", "name the column", 1, 1, None),
        ("after.t AT TIME ZONE 'Mars/Olympus'", "not recognized", 1, 1, None),
        ("after.t AT TIME ZONE '+02'", "POSIX", 1, 1, None),
        ("extract(fortnight FROM after.t) = 1", 'unit "fortnight" not recognized', 1, 1, None),
        ("date_part('eon', after.t) = 1", 'unit "eon" not recognized', 1, 1, None),
        ("date_trunc('fortnight', after.t)", 'unit "fortnight" not recognized', 1, 1, None),
        ("1 AND after.b", "argument of AND must be boolean, not integer", 1, 1, None),
        ("NOT 'x'", "argument of NOT must be boolean, not text", 1, 5, None),
        ("after.a + INTERVAL '1 month' > after.b", "months or years", 1, None, None),
        ("after.a -> 'b' -> 'c' ->> 'd' #> '{x}'", "not supported", 1, None, None),
    ],
)
def test_compile_errors_point_at_the_problem(
    sql: str, message: str, line: int, col: int | None, suggestion: str | None
) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(sql)
    error = caught.value
    assert message in error.message
    assert error.expression == sql
    assert error.line == line
    if col is not None:
        assert error.col == col
    assert error.suggestion == suggestion


def test_every_problem_of_an_expression_is_reported_in_the_order_written() -> None:
    sql = "nope.a = 1 AND frob(after.x) AND after.y = lower(1, 2)"
    with pytest.raises(ExpressionError) as caught:
        compile_expression(sql)
    found = [(e.col, e.message.split(":")[0]) for e in caught.value.all]
    assert found == [(1, "unknown name `nope.a`"), (16, "unknown function `frob()`"),
                     (44, "`lower()` takes 1 argument(s), not 2")]


@pytest.mark.parametrize("sql", [
    "CAST(nope.x AS integer) + 1", "nope.x IN (1, 2)", "nope.x LIKE 'a%'",
    "CASE WHEN nope.x THEN 1 ELSE 2 END", "COALESCE(nope.x, 1) || 'a'",
    "date_trunc(nope.x, after.t)", "NOT nope.x", "round(after.x, nope.d)",
])
def test_an_operand_that_does_not_compile_causes_no_second_problem(sql: str) -> None:
    with pytest.raises(ExpressionError, match="unknown name `nope") as caught:
        compile_expression(sql)
    assert caught.value.others == ()


@pytest.mark.parametrize(("sql", "message"), [
    ("after.a::numeric(10.5, 2)", "the precision of numeric must be a whole-number constant"),
    ("after.a::numeric(10, after.s)", "the scale of numeric must be a whole-number constant"),
    ("after.a::numeric('10')", "the precision of numeric must be a whole-number constant"),
    ("after.a::numeric(0)", "numeric precision 0 must be between 1 and 1000"),
    ("after.a::numeric(2000, 2)", "numeric precision 2000 must be between 1 and 1000"),
    ("after.a::numeric(1, 2, 3)", "numeric takes at most 2 type modifier(s)"),
    ("after.a::varchar(0)", "varchar length 0 must be between 1 and 10485760"),
    ("after.a::varchar(n)", "the length of varchar must be a whole-number constant"),
    ("after.a::integer(5)", "integer takes no type modifier"),
    ("after.a::timestamp(7)", "timestamp precision 7 must be between 0 and 6"),
    ("after.a::float(60)", "float precision 60 must be between 1 and 53"),
])
def test_type_modifiers_of_a_cast_are_whole_numbers_in_range(sql: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        compile_expression(sql)


def test_float_with_a_precision_is_real_up_to_24_bits_as_in_postgresql() -> None:
    row = change("c", None, {"a": "0.1"})
    assert compile_expression("after.a::float(24)").evaluate(row) == \
        compile_expression("after.a::real").evaluate(row)
    assert compile_expression("after.a::float(25)").evaluate(row) == 0.1
    assert compile_expression("after.a::numeric(5, 2)").evaluate(row) == Decimal("0.10")


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("op = 'u' AND aftr.status = 'x'", "aftr.status"),
        ("lowr(after.s) = 'x'", "lowr(after.s)"),
        ("count(*) > 1", "count(*)"),
        ("after.a::money > 1", "money"),
        ("after.a = 1 AND now() > after.t", "now()"),
    ],
)
def test_error_fragment_is_the_offending_text(sql: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(sql)
    assert caught.value.fragment == fragment


def test_any_column_name_compiles_since_columns_are_only_known_at_run_time() -> None:
    assert compile_expression("after.stauts = 'x'").evaluate(change("c", None, {})) is U


@pytest.mark.parametrize(
    "sql",
    ["(" * 300 + "1" + ")" * 300, " + ".join(["after.a"] * 400), "- " * 200 + "1"],
)
def test_too_deep_nesting_is_refused_not_crashed(sql: str) -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression(sql)


def test_long_flat_chains_of_and_or_compile() -> None:
    many_ors = " OR ".join(f"after.a = {n}" for n in range(1200))  # deeper than the stack
    assert compile_expression(many_ors).evaluate(change("c", None, {"a": 1199})) is True


def test_unknown_source_field_can_be_quoted() -> None:
    assert compile_expression('source."customField" = 1').references[0].column == "customField"


# --- explain, result types, the registry -------------------------------------------------------


def test_explain_lists_every_sub_expression_outermost_first() -> None:
    expression = compile_expression("after.a > 1 AND lower(after.s) = 'x'")
    explained = expression.explain(change("c", None, {"a": 2, "s": "X"}))
    assert explained == [
        ("after.a > 1 AND lower(after.s) = 'x'", True),
        ("after.a > 1", True),
        ("after.a", 2),
        ("1", 1),
        ("lower(after.s) = 'x'", True),
        ("lower(after.s)", "x"),
        ("after.s", "X"),
        ("'x'", "x"),
    ]


def test_explain_shows_errors_as_values_and_does_not_raise() -> None:
    expression = compile_expression("after.a = 0 OR after.b / after.a > 1")
    explained = dict(expression.explain(change("c", None, {"a": 0, "b": 5})))
    assert explained["after.a = 0 OR after.b / after.a > 1"] is True
    assert isinstance(explained["after.b / after.a"], EvaluationError)


@pytest.mark.parametrize(
    ("sql", "result_type"),
    [
        ("after.a = 1", "boolean"),
        ("1 + 2", "integer"),
        ("1 + 2.5", "numeric"),
        ("after.a::numeric(10,2)", "numeric"),
        ("after.a::text || 'x'", "text"),
        ("lower(after.a)", "text"),
        ("length(after.a)", "integer"),
        ("after.a::timestamptz", "timestamptz"),
        ("after.a", None),
        ("COALESCE(after.a, 0)", None),
        ("COALESCE(NULL, 0)", "integer"),
        ("COALESCE(1, 2.5)", "numeric"),
        ("greatest(1, 2.5, NULL)", "numeric"),
        ("CASE WHEN after.b THEN 1 WHEN after.c THEN 2.5 END", "numeric"),
        ("CASE WHEN after.b THEN 1 ELSE 'x' END", None),
        ("CASE WHEN after.a THEN 'x' ELSE 'y' END", "text"),
        ("op", "text"),
        ("round(1)", "double precision"),
        ("round(after.a, 2)", "numeric"),
        ("floor(1.5)", "numeric"),
        ("2 ^ 3", "double precision"),
        ("DATE '2024-01-01' - DATE '2023-01-01'", "integer"),
        ("1 + DATE '2024-01-01'", "date"),
        ("after.t::timestamptz + INTERVAL '1 hour'", "timestamptz"),
        ("after.t::timestamp - after.u::timestamp", "interval"),
        ("extract(year FROM after.t)", "numeric"),
        ("to_timestamp(ts_ms / 1000)", "timestamptz"),
    ],
)
def test_result_types(sql: str, result_type: str | None) -> None:
    assert compile_expression(sql).result_type == result_type


def test_constant_sub_expressions_are_folded_and_still_explained() -> None:
    expression = compile_expression("after.d > DATE '2024-01-01' + 1")
    assert expression.evaluate(change("c", None, {"d": date(2024, 1, 3)})) is True
    sqls = [sql for sql, _ in expression.explain(change("c", None, {"d": date(2024, 1, 3)}))]
    assert "CAST('2024-01-01' AS DATE) + 1" in sqls


def test_a_new_function_is_one_registry_entry() -> None:
    register_function("test_double", lambda x: x * 2, 1, 1, result_type="integer", replace=True)
    try:
        expression = compile_expression("test_double(after.a) = 4")
        assert expression.evaluate(change("c", None, {"a": 2})) is True
        assert (
            compile_expression("test_double(after.a)").evaluate(change("c", None, {"a": None}))
            is None
        )
        assert compile_expression("test_double(after.a)").evaluate(change("c", None, {})) is U
    finally:
        del FUNCTIONS["test_double"]


def test_registry_refuses_duplicates_and_non_deterministic_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_function("lower", str.lower, 1, 1)
    with pytest.raises(ValueError, match="not deterministic"):
        register_function("now", lambda: 0, 0, 0)


def test_a_failing_function_names_the_call() -> None:
    with pytest.raises(
        EvaluationError, match=r"cannot evaluate `lower\(after.a\)`: lower\(\) needs text"
    ):
        value("lower(after.a)", row={"a": 5})


def test_expression_keeps_its_text_and_repr() -> None:
    expression = compile_expression("after.a > 1")
    assert isinstance(expression, Expression)
    assert expression.sql == "after.a > 1"
    assert repr(expression) == "Expression('after.a > 1')"


PACKAGE = "cdc_facts.expressions"
MODULES = [PACKAGE] + sorted(
    f"{PACKAGE}.{m.name}" for m in pkgutil.iter_modules(cdc_facts.expressions.__path__)
)


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    assert doctest.testmod(importlib.import_module(module)).failed == 0
