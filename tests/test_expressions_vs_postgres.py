"""Property test: compiled expressions agree with PostgreSQL itself.

Hypothesis generates well-typed random expressions (comparisons, AND/OR/NOT, integer and
numeric arithmetic, CASE, COALESCE, NULLIF, IS DISTINCT FROM, IN, BETWEEN, LIKE, ||, and a
few functions) over random rows with NULLs. Each one is evaluated by the compiler and by
PostgreSQL as ``SELECT <expr> FROM (VALUES (...)) AS after(a, b, ...)``, so the very same
text runs on both sides.

Agreement is exact: same value, same type, and for numerics the same scale (the compiler
follows PostgreSQL's numeric result scales, including division). When PostgreSQL raises a
data error the compiler must raise too. The one tolerated difference is documented in
docs/expressions.md: the compiler ignores an error in an operand that cannot change the
result (``1/0 = 1 AND FALSE`` is FALSE), where PostgreSQL may evaluate it first and fail.

A second, database-free property checks UNKNOWN: when an input is unknown and the compiler
still gives a value, that value must not depend on the unknown input.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cdc_facts.changes import Change
from cdc_facts.errors import EvaluationError, ExpressionError
from cdc_facts.expressions import compile_expression
from cdc_facts.types import UNKNOWN

# --- rows ----------------------------------------------------------------------------------------

TEXT_C = 'text COLLATE "C"'
COLUMNS = {"a": "bigint", "b": "bigint", "x": "numeric", "y": "numeric", "s": TEXT_C,
           "t": TEXT_C, "p": "boolean", "q": "boolean", "d": "date", "m": "timestamp",
           "z": "timestamptz"}  # fmt: skip
TEXT_ALPHABET = "abAB%_\\ ,"


def _sometimes_null(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """NULL in about one row in four."""
    return st.one_of(st.none(), values, values, values)


ints_values = _sometimes_null(st.integers(-1000, 1000))
numeric_values = _sometimes_null(
    st.builds(
        lambda n, scale: Decimal(n).scaleb(-scale), st.integers(-100000, 100000), st.integers(0, 4)
    )
)
text_values = _sometimes_null(st.text(TEXT_ALPHABET, max_size=6))
bool_values = _sometimes_null(st.booleans())
FIRST, LAST = datetime(1990, 1, 1), datetime(2040, 1, 1)
date_values = _sometimes_null(st.dates(FIRST.date(), LAST.date()))
stamp_values = _sometimes_null(st.datetimes(FIRST, LAST))
stamptz_values = _sometimes_null(st.datetimes(FIRST, LAST, timezones=st.just(UTC)))
rows = st.fixed_dictionaries({
    "a": ints_values, "b": ints_values, "x": numeric_values, "y": numeric_values,
    "s": text_values, "t": text_values, "p": bool_values, "q": bool_values,
    "d": date_values, "m": stamp_values, "z": stamptz_values,
})  # fmt: skip

# --- expressions ---------------------------------------------------------------------------------


def _parens(template: str) -> Any:
    return lambda parts: "(" + template.format(*parts) + ")"


def _literal_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


int_literals = st.integers(-9, 9).map(lambda n: f"({n})" if n < 0 else str(n))
numeric_literals = st.builds(
    lambda n, scale: f"({Decimal(n).scaleb(-scale)})" if n < 0 else str(Decimal(n).scaleb(-scale)),
    st.integers(-999, 999),
    st.integers(1, 3),
)  # always with a decimal point: `5` would be an integer literal in PostgreSQL
small_ints = st.integers(-3, 6).map(lambda n: f"({n})" if n < 0 else str(n))
like_patterns = st.text("ab%_", max_size=4).map(_literal_text) | st.sampled_from(
    ["'a\\%'", "'%\\_%'", "'A%'", "''"]
)


@cache
def ints(depth: int) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(["after.a", "after.b", "after.a", "NULL::bigint"]) | int_literals
    if depth == 0:
        return leaves
    sub = ints(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "%"]), sub).map(_parens("{} {} {}")),
        sub.map(lambda e: f"(-({e}))"),
        sub.map(lambda e: f"abs({e})"),
        st.tuples(bools(depth - 1), sub, sub).map(_parens("CASE WHEN {} THEN {} ELSE {} END")),
        st.tuples(sub, sub, sub).map(_parens("CASE {} WHEN {} THEN {} END")),
        st.tuples(sub, sub).map(lambda p: f"COALESCE({p[0]}, {p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"NULLIF({p[0]}, {p[1]})"),
        st.tuples(sub, sub, sub).map(lambda p: f"greatest({p[0]}, {p[1]}, {p[2]})"),
        st.tuples(sub, sub).map(lambda p: f"least({p[0]}, {p[1]})"),
        texts(depth - 1).map(lambda e: f"length({e})"),
        numerics(depth - 1).map(lambda e: f"({e})::integer"),
        numerics(depth - 1).map(lambda e: f"(({e})::float8)::bigint"),
        st.tuples(texts(depth - 1), texts(depth - 1)).map(lambda p: f"strpos({p[0]}, {p[1]})"),
    )


@cache
def numerics(depth: int) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(["after.x", "after.y", "after.x", "NULL::numeric"]) | numeric_literals
    if depth == 0:
        return leaves
    sub, whole = numerics(depth - 1), ints(depth - 1)
    either = sub | whole
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "%"]), either).map(_parens("{} {} {}")),
        st.tuples(whole, st.sampled_from(["+", "*", "/"]), sub).map(_parens("{} {} {}")),
        whole.map(lambda e: f"({e})::numeric"),
        sub.map(lambda e: f"(-({e}))"),
        st.tuples(sub, small_ints).map(lambda p: f"round({p[0]}, {p[1]})"),
        st.tuples(sub, small_ints).map(lambda p: f"trunc({p[0]}, {p[1]})"),
        sub.map(lambda e: f"round({e})"),
        st.sampled_from(["abs", "floor", "ceil"]).flatmap(lambda f: sub.map(lambda e: f"{f}({e})")),
        st.tuples(bools(depth - 1), sub, sub).map(_parens("CASE WHEN {} THEN {} ELSE {} END")),
        st.tuples(sub, sub).map(lambda p: f"COALESCE({p[0]}, {p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"NULLIF({p[0]}, {p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"greatest({p[0]}, {p[1]})"),
        st.tuples(sub, st.integers(0, 4)).map(lambda p: f"power({p[0]}, {p[1]})"),
    )


@cache
def texts(depth: int) -> st.SearchStrategy[str]:
    literals = st.text(TEXT_ALPHABET, max_size=4).map(_literal_text)
    leaves = st.sampled_from(["after.s", "after.t", "after.s", "NULL::text"]) | literals
    if depth == 0:
        return leaves
    sub, whole = texts(depth - 1), ints(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub, sub).map(_parens("{} || {}")),
        st.tuples(sub, whole).map(_parens("{} || {}")),
        st.sampled_from(["lower", "upper", "trim", "md5", "reverse"]).flatmap(
            lambda f: sub.map(lambda e: f"{f}({e})")
        ),
        st.tuples(sub, whole, whole).map(
            lambda p: f"substring({p[0]}, ({p[1]})::int, ({p[2]})::int)"
        ),
        st.tuples(sub, whole).map(lambda p: f"left({p[0]}, ({p[1]})::int)"),
        st.tuples(sub, whole).map(lambda p: f"right({p[0]}, ({p[1]})::int)"),
        st.tuples(sub, sub, sub).map(lambda p: f"replace({p[0]}, {p[1]}, {p[2]})"),
        st.tuples(sub, small_ints).map(lambda p: f"split_part({p[0]}, ',', {p[1]})"),
        st.tuples(sub, whole, sub).map(lambda p: f"concat({p[0]}, {p[1]}, {p[2]})"),
        st.tuples(sub, sub).map(lambda p: f"concat_ws('-', {p[0]}, {p[1]})"),
        whole.map(lambda e: f"({e})::text"),
        numerics(depth - 1).map(lambda e: f"({e})::text"),
        numerics(depth - 1).map(lambda e: f"(({e})::float8 / 7)::text"),
        numerics(depth - 1).map(lambda e: f"(({e})::numeric(6,2))::text"),
        st.tuples(bools(depth - 1), sub, sub).map(_parens("CASE WHEN {} THEN {} ELSE {} END")),
        st.tuples(sub, sub).map(lambda p: f"COALESCE({p[0]}, {p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"NULLIF({p[0]}, {p[1]})"),
    )


date_literals = st.dates(FIRST.date(), LAST.date()).map(lambda d: f"DATE '{d}'")
stamp_literals = st.datetimes(FIRST, LAST).map(lambda m: f"TIMESTAMP '{m}'")
stamptz_literals = st.tuples(
    st.datetimes(FIRST, LAST), st.sampled_from(["+00", "+02", "-05", "+05:30"])
).map(lambda p: f"TIMESTAMPTZ '{p[0]}{p[1]}'")
intervals = st.sampled_from(["INTERVAL '3 hours'", "INTERVAL '1 day 2 hours'", "INTERVAL '-2 days'",
                             "INTERVAL '90 minutes'", "INTERVAL '1.5 seconds'"])  # fmt: skip
ZONES = st.sampled_from(["'UTC'", "'Europe/Paris'", "'America/New_York'", "'Asia/Kolkata'",
                         "'Australia/Lord_Howe'"])  # fmt: skip
TRUNC_FIELDS = ["microseconds", "milliseconds", "second", "minute", "hour", "day", "week",
                "month", "quarter", "year", "decade", "century", "millennium"]  # fmt: skip
DATE_FIELDS = ["year", "month", "day", "dow", "isodow", "doy", "week", "isoyear", "quarter",
               "decade", "century", "millennium", "epoch"]  # fmt: skip
TIME_FIELDS = [*DATE_FIELDS, "hour", "minute", "second", "milliseconds", "microseconds"]


@cache
def dates(depth: int) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(["after.d", "after.d", "NULL::date"]) | date_literals
    if depth == 0:
        return leaves
    sub = dates(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["+", "-"]), small_ints).map(_parens("{} {} {}")),
        (stamps(depth - 1) | stamptzs(depth - 1)).map(lambda e: f"({e})::date"),
        st.tuples(sub, sub).map(lambda p: f"COALESCE({p[0]}, {p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"greatest({p[0]}, {p[1]})"),
    )


@cache
def stamps(depth: int) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(["after.m", "after.m", "NULL::timestamp"]) | stamp_literals
    if depth == 0:
        return leaves
    sub = stamps(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub | dates(depth - 1), st.sampled_from(["+", "-"]), intervals)
        .map(_parens("{} {} {}")),
        st.tuples(st.sampled_from(TRUNC_FIELDS), sub)
        .map(lambda p: f"date_trunc('{p[0]}', {p[1]})"),
        (dates(depth - 1) | stamptzs(depth - 1)).map(lambda e: f"({e})::timestamp"),
        st.tuples(stamptzs(depth - 1), ZONES).map(_parens("{} AT TIME ZONE {}")),
        st.tuples(sub, sub).map(lambda p: f"least({p[0]}, {p[1]})"),
    )  # fmt: skip


@cache
def stamptzs(depth: int) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(["after.z", "after.z", "NULL::timestamptz"]) | stamptz_literals
    if depth == 0:
        return leaves
    sub = stamptzs(depth - 1)
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["+", "-"]), intervals).map(_parens("{} {} {}")),
        st.tuples(st.sampled_from(TRUNC_FIELDS), sub | dates(depth - 1))
        .map(lambda p: f"date_trunc('{p[0]}', {p[1]})"),
        (dates(depth - 1) | stamps(depth - 1)).map(lambda e: f"({e})::timestamptz"),
        st.tuples(stamps(depth - 1), ZONES).map(_parens("{} AT TIME ZONE {}")),
        ints(depth - 1).map(lambda e: f"to_timestamp({e})"),
        st.tuples(sub, sub).map(lambda p: f"COALESCE({p[0]}, {p[1]})"),
    )  # fmt: skip


def temporal_numbers(depth: int) -> st.SearchStrategy[str]:
    """Integers and numerics computed from dates and timestamps."""
    moments = stamps(depth) | stamptzs(depth)
    return st.one_of(
        st.tuples(dates(depth), dates(depth)).map(_parens("{} - {}")),
        st.tuples(st.sampled_from(DATE_FIELDS), dates(depth))
        .map(lambda p: f"extract({p[0]} FROM {p[1]})"),
        st.tuples(st.sampled_from(TIME_FIELDS), moments)
        .map(lambda p: f"extract({p[0]} FROM {p[1]})"),
        st.tuples(st.sampled_from(TIME_FIELDS), moments)
        .map(lambda p: f"date_part('{p[0]}', {p[1]})"),
        st.tuples(stamps(depth), stamps(depth))
        .map(lambda p: f"extract(epoch FROM {p[0]} - {p[1]})"),
    )  # fmt: skip


def temporal_texts(depth: int) -> st.SearchStrategy[str]:
    return st.one_of(dates(depth), stamps(depth), stamptzs(depth)).map(lambda e: f"({e})::text")


def temporal_comparisons(depth: int) -> st.SearchStrategy[str]:
    kinds = [dates(depth), stamps(depth), stamptzs(depth)]
    return st.one_of(*(_comparisons(left, right) for left in kinds for right in kinds))


CAST_INPUTS = [
    "12", " 12 ", "+3", "-0", "1.5", "-2.5", "0.125", "1e3", "1.5e-3", "abc", "", " ", "t",
    "true", "TRUE", "tr", "yes", "y", "on", "of", "o", "off", "no", "0", "1", "2",
    "2024-01-31", "2024-1-5", "20240131", "2024-02-30", "2024-01-31 10:00", "Infinity",
    "-infinity", "NaN", "32767", "32768", "2147483648", "99999.995", "1_000", "0x10", "1.1",
]  # fmt: skip
CAST_TYPES = ["integer", "smallint", "bigint", "numeric", "numeric(5,2)", "numeric(3)",
              "double precision", "real", "boolean", "date", "text", "varchar(2)"]  # fmt: skip
casts_of_text = st.tuples(st.sampled_from(CAST_INPUTS), st.sampled_from(CAST_TYPES)).map(
    lambda p: f"CAST({_literal_text(p[0])} AS {p[1]})"
)


def _comparisons(left: st.SearchStrategy[str], right: st.SearchStrategy[str]) -> Any:
    operators = st.sampled_from(["=", "<>", "<", "<=", ">", ">=", "IS DISTINCT FROM",
                                 "IS NOT DISTINCT FROM"])  # fmt: skip
    return st.tuples(left, operators, right).map(_parens("{} {} {}"))


@cache
def bools(depth: int) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(["after.p", "after.q", "TRUE", "FALSE", "NULL::boolean"])
    if depth == 0:
        return leaves
    sub, whole, decimal, text = (
        bools(depth - 1),
        ints(depth - 1),
        numerics(depth - 1),
        texts(depth - 1),
    )
    values = st.one_of(whole, decimal, text, sub)
    return st.one_of(
        leaves,
        _comparisons(whole, whole),
        _comparisons(decimal, decimal | whole),
        _comparisons(text, text),
        st.tuples(sub, st.sampled_from(["AND", "OR"]), sub).map(_parens("{} {} {}")),
        st.tuples(sub, sub, sub).map(_parens("{} AND {} OR {}")),
        sub.map(lambda e: f"(NOT {e})"),
        st.tuples(values, st.sampled_from(["IS NULL", "IS NOT NULL"])).map(_parens("{} {}")),
        st.tuples(sub, st.sampled_from(["IS TRUE", "IS NOT TRUE", "IS FALSE", "IS NOT FALSE"]))
        .map(_parens("{} {}")),
        st.tuples(whole, st.sampled_from(["IN", "NOT IN"]), st.lists(whole, min_size=1, max_size=3))
        .map(lambda p: f"({p[0]} {p[1]} ({', '.join(p[2])}))"),
        st.tuples(text, st.sampled_from(["IN", "NOT IN"]), st.lists(text, min_size=1, max_size=3))
        .map(lambda p: f"({p[0]} {p[1]} ({', '.join(p[2])}))"),
        st.tuples(decimal, st.sampled_from(["BETWEEN", "NOT BETWEEN"]), whole, decimal)
        .map(_parens("{} {} {} AND {}")),
        st.tuples(text, st.sampled_from(["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"]), like_patterns)
        .map(_parens("{} {} {}")),
        st.tuples(text, st.sampled_from(["LIKE", "ILIKE"]), text).map(_parens("{} {} {}")),
        st.tuples(text, text).map(lambda p: f"starts_with({p[0]}, {p[1]})"),
    )  # fmt: skip


expressions = st.one_of(
    bools(3), bools(3), ints(3), numerics(3), texts(3),
    temporal_numbers(2), temporal_texts(2), temporal_comparisons(2),
    dates(3), stamps(3), stamptzs(3), casts_of_text,
)  # fmt: skip

# --- the two evaluators -------------------------------------------------------------------------


def ours(sql: str, row: dict[str, object]) -> tuple[str, object]:
    try:
        expression = compile_expression(sql)
    except ExpressionError as exc:
        # A constant LIKE pattern ending in the escape character is refused when compiled;
        # PostgreSQL only notices when it first matches a non-NULL value.
        assert "must not end with escape character" in exc.message, exc
        return "refused", None
    change = Change(op="c", before=None, after=row)
    try:
        return "value", expression.evaluate(change)
    except EvaluationError as exc:
        return "error", exc.message


def _ignored_error(sql: str, row: dict[str, object]) -> bool:
    """Whether some sub-expression fails although the whole has a value."""
    change = Change(op="c", before=None, after=row)
    return any(isinstance(v, EvaluationError) for _, v in compile_expression(sql).explain(change))


def postgres(
    connection: psycopg.Connection[Any], sql: str, row: dict[str, object]
) -> tuple[str, object]:
    casts = ", ".join(f"%({name})s::{kind}" for name, kind in COLUMNS.items())
    query = (
        f"SELECT {sql.replace('%', '%%')} FROM (VALUES ({casts})) AS after({', '.join(COLUMNS)})"
    )
    try:
        return "value", connection.execute(query, row).fetchone()[0]  # type: ignore[index]
    except psycopg.errors.DataError:
        return "error", None


def assert_same(sql: str, row: dict[str, object], mine: object, theirs: object) -> None:
    context = f"\n  expression: {sql}\n  row: {row}\n  compiler: {mine!r}\n  PostgreSQL: {theirs!r}"
    assert type(mine) is type(theirs), context
    if mine != mine and theirs != theirs:
        return  # NaN, as a float or a numeric
    assert mine == theirs, context
    if isinstance(theirs, Decimal):
        assert str(mine) == str(theirs), "numeric scale differs" + context


@pytest.fixture(scope="module")
def pg(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        yield connection


@pytest.mark.stack
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sql=expressions, row=rows)
def test_compiler_agrees_with_postgres(
    pg: psycopg.Connection[Any], sql: str, row: dict[str, object]
) -> None:
    mine_kind, mine = ours(sql, row)
    theirs_kind, theirs = postgres(pg, sql, row)
    event(f"PostgreSQL {theirs_kind}: {type(theirs).__name__}")
    if mine_kind == "refused":
        return  # PostgreSQL only fails if its matcher reaches the bad escape; ours refuses early
    if theirs_kind == "error" and mine_kind == "value":
        assert _ignored_error(sql, row), (
            f"PostgreSQL fails but the compiler gives {mine!r}: {sql} {row}"
        )
        return
    if mine_kind == "error" and "must not end with escape character" in str(mine):
        return  # PostgreSQL only fails if its matcher reaches the bad escape; ours refuses early
    outcome = f"{sql} {row}: compiler {mine_kind} {mine}, PostgreSQL {theirs_kind}"
    assert mine_kind == theirs_kind, outcome
    if mine_kind == "value":
        assert_same(sql, row, mine, theirs)


NAN_COMPARISONS = [
    "after.x < after.y", "after.x > after.y", "after.x = after.y", "after.x <> after.y",
    "after.x >= 5", "after.x < 5.5", "after.x = 'NaN'::numeric", "5 < after.x",
    "after.x IS DISTINCT FROM after.y", "after.x IS NOT DISTINCT FROM 'NaN'::numeric",
    "after.x IS DISTINCT FROM 2.5", "after.x BETWEEN 1 AND 10", "greatest(after.x, after.y)",
    "least(after.x, after.y, 3.0)", "after.x::float8 > 1e300", "after.x::float8 = 'NaN'::float8",
    "after.x > 1 AND after.y < 10", "after.x < 1 OR after.y <> 3",
]


@pytest.mark.stack
@pytest.mark.parametrize("sql", NAN_COMPARISONS)
@pytest.mark.parametrize(("x", "y"), [("NaN", "NaN"), ("NaN", "5"), ("5", "NaN"), ("7", "5")])
def test_nan_compares_as_in_postgres(pg: psycopg.Connection[Any], sql: str, x: str,
                                     y: str) -> None:
    """NaN equals NaN and is above every other number, in PostgreSQL and in rules."""
    row = {name: None for name in COLUMNS} | {"x": Decimal(x), "y": Decimal(y)}
    mine_kind, mine = ours(sql, row)
    theirs_kind, theirs = postgres(pg, sql, row)
    assert (mine_kind, theirs_kind) == ("value", "value"), (sql, row, mine)
    assert_same(sql, row, mine, theirs)


# --- UNKNOWN is never silently resolved -----------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(
    sql=st.one_of(bools(3), ints(2), texts(2)), row=rows, hidden=st.sampled_from(sorted(COLUMNS))
)
def test_a_known_result_does_not_depend_on_the_unknown_input(
    sql: str, row: dict[str, object], hidden: str
) -> None:
    partial = {name: (UNKNOWN if name == hidden else v) for name, v in row.items()}
    kind, result = ours(sql, partial)
    if kind != "value" or result is UNKNOWN:
        return
    alternatives: list[object] = [None, row[hidden]]
    for alternative in alternatives:
        other_kind, other = ours(sql, {**row, hidden: alternative})
        assert other_kind == "value" and other == result and type(other) is type(result), (
            f"{sql}: with after.{hidden} unknown the result is {result!r}, "
            f"but with after.{hidden} = {alternative!r} it is {other!r}"
        )


# --- the static result type tells the truth ------------------------------------------------------

_PYTHON_TYPES: dict[str, type] = {
    "integer": int, "numeric": Decimal, "double precision": float, "text": str,
    "boolean": bool, "date": date, "timestamp": datetime, "timestamptz": datetime,
    "interval": timedelta,
}  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(sql=expressions, row=rows)
def test_a_known_result_type_matches_every_value(sql: str, row: dict[str, object]) -> None:
    kind, result = ours(sql, row)
    if kind != "value" or result is None:
        return
    declared = compile_expression(sql).result_type
    if declared not in _PYTHON_TYPES:
        return
    assert type(result) is _PYTHON_TYPES[declared], f"{sql} is {declared} but gave {result!r}"
    if isinstance(result, datetime):
        assert (result.tzinfo is not None) == (declared == "timestamptz"), f"{sql}: {result!r}"
