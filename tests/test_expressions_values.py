"""The rule-expression compiler: arithmetic, casts, functions, dates and text output.

Expected values are what PostgreSQL 15 returns for the same SQL (with TimeZone UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from cdc_facts.changes import Change
from cdc_facts.errors import EvaluationError, ExpressionError
from cdc_facts.expressions import compile_expression
from cdc_facts.expressions.arithmetic import numeric_division_scale
from cdc_facts.expressions.casts import float_text, parse_boolean, to_text
from cdc_facts.types import UNKNOWN

D = Decimal


def value(sql: str, row: dict[str, Any] | None = None) -> object:
    return compile_expression(sql).evaluate(Change(op="c", before=None, after=row or {}))


def check(sql: str, expected: object, row: dict[str, Any] | None = None) -> None:
    """The value equals ``expected`` and has the same Python type (and the same scale)."""
    actual = value(sql, row)
    assert type(actual) is type(expected), f"{sql}: {actual!r} is not a {type(expected)}"
    assert actual == expected, f"{sql}: {actual!r} != {expected!r}"
    if isinstance(expected, Decimal):
        assert str(actual) == str(expected), f"{sql}: scale of {actual!r} != {expected!r}"


# --- arithmetic --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("1 + 2", 3), ("7 - 10", -3), ("6 * 7", 42),
        ("7 / 2", 3), ("-7 / 2", -3), ("7 / -2", -3), ("-7 / -2", 3),
        ("7 % 3", 1), ("-7 % 2", -1), ("7 % -2", 1), ("-7 % -2", -1),
        ("1 + 2.5", D("3.5")), ("100.0 * 3", D("300.0")), ("1.10 + 2.2", D("3.30")),
        ("1.5 * 1.25", D("1.875")), ("0.1 + 0.2", D("0.3")), ("5.00 % 3", D("2.00")),
        ("-7.5 % 2", D("-1.5")), ("-(5)", -5), ("-(2.50)", D("-2.50")),
        ("1 / 3.0", D("0.33333333333333333333")), ("10::numeric / 2", D("5.0000000000000000")),
        ("1.0 / 3.0", D("0.33333333333333333333")), ("2.0 / 3", D("0.66666666666666666667")),
        ("-2.0 / 3", D("-0.66666666666666666667")),
        ("1234567.891 / 0.0003", D("4115226303.33333333")),
        ("0.0 / 5", D("0E-20")), ("100 / 7.000", D("14.2857142857142857")),
        ("0.5 * 2.0", D("1.00")), ("1.5::float8 + 1", 2.5),
        ("0.1::float8 + 0.2", 0.30000000000000004),
        ("1 / 2::float8", 0.5), ("2 ^ 3", 8.0), ("2.0 ^ 3", D("8.0000000000000000")),
        ("1.5e3", D("1500")),
        ("123456789012345678901234567890 * 10", 1234567890123456789012345678900),
        ("12345678901234567890.123456789 * 1000000000.000000001",
         D("12345678901234567902469135690.234567890123456789")),
    ],
)  # fmt: skip
def test_arithmetic(sql: str, expected: object) -> None:
    check(sql, expected)


@pytest.mark.parametrize(
    ("a", "b", "scale"),
    [("1", "3", 20), ("10", "2", 16), ("1234567.891", "0.0003", 8),
    ("1", "7.123456789012345678901", 21),
     ("0", "5", 20), ("99999", "1", 12), ("10000", "1", 16), ("1", "10000", 24)],
)  # fmt: skip
def test_numeric_division_scale_follows_postgres(a: str, b: str, scale: int) -> None:
    assert numeric_division_scale(D(a), D(b)) == scale


@pytest.mark.parametrize(
    "sql",
    ["1 / 0", "1 % 0", "1.5 / 0", "1 / 0.000", "1.0 % 0", "1::float8 / 0", "mod(1, 0)",
     "interval '1 hour' / 0"],
)  # fmt: skip
def test_division_by_zero_names_the_sub_expression(sql: str) -> None:
    with pytest.raises(EvaluationError, match="division by zero") as caught:
        value(f"1 + ({sql})")
    assert "`" in caught.value.message and "hint" not in caught.value.message
    assert caught.value.hint


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("1e308::float8 * 10", "value out of range: overflow"),
        ("1e308::float8 + 1e308::float8", "value out of range: overflow"),
        ("-1e308::float8 - 1e308::float8", "value out of range: overflow"),
        ("1e308::float8 / 0.1::float8", "value out of range: overflow"),
        ("1e-200::float8 * 1e-200::float8", "value out of range: underflow"),
        ("1e-300::float8 / 1e300::float8", "value out of range: underflow"),
        ("1e-300::float8 * 1e-300", "value out of range: underflow"),
        ("1e400 * 1::float8", "out of range for type double precision"),
        ("5e-324::float8 / 2", "value out of range: underflow"),
    ],
)  # fmt: skip
def test_double_precision_overflow_and_underflow_are_errors(sql: str, message: str) -> None:
    _fails_naming_the_expression(sql, message)


def _fails_naming_the_expression(sql: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message) as caught:
        value(sql)
    assert "cannot evaluate `" in caught.value.message


@pytest.mark.parametrize(
    ("sql", "expected"),
    [("'Infinity'::float8 * 2", float("inf")),
     ("'-Infinity'::float8 + 1e308::float8", float("-inf")),
     ("0::float8 * 1e-300::float8", 0.0), ("1::float8 / 'Infinity'::float8", 0.0),
     ("'Infinity'::float8::real", float("inf"))],
)  # fmt: skip
def test_infinite_or_zero_operands_are_no_range_errors(sql: str, expected: float) -> None:
    check(sql, expected)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("after.a + 1", None), ("after.u + 1", UNKNOWN), ("after.a + after.u", None),
        ("after.u * 0", UNKNOWN), ("'x' || after.a", None), ("'x' || after.u", UNKNOWN),
        ("-after.u", UNKNOWN), ("-after.a", None),
    ],
)  # fmt: skip
def test_arithmetic_is_strict_with_null_before_unknown(sql: str, expected: object) -> None:
    assert value(sql, {"a": None}) is expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("'a' || 'b'", "ab"), ("'a' || 1", "a1"), ("'a' || 1.50", "a1.50"),
        ("'a' || TRUE", "atrue"),
        ("'a' || 1.5::float8", "a1.5"), ("'a' || 1e20::float8", "a1e+20"),
        ("'a' || DATE '2024-01-31'", "a2024-01-31"),
        ("'a' || TIMESTAMP '2024-01-01 10:00:00'", "a2024-01-01 10:00:00"),
        ("'a' || TIMESTAMPTZ '2024-01-01 10:00:00.5+02'", "a2024-01-01 08:00:00.5+00"),
        ("'a' || INTERVAL '1 day 2 hours'", "a1 day 02:00:00"),
        ("'a' || after.id", "a123e4567-e89b-12d3-a456-426614174000"),
    ],
)  # fmt: skip
def test_concatenation_uses_postgres_text(sql: str, expected: str) -> None:
    check(sql, expected, {"id": UUID("123e4567-e89b-12d3-a456-426614174000")})


@pytest.mark.parametrize(
    ("sql", "message"),
    [("after.b + 1", "boolean + integer"),
    ("after.s + 1", 'invalid input syntax for type integer: "x"'),
     ("after.d * after.d", "date * date"), ("-after.s", "- text")],
)  # fmt: skip
def test_arithmetic_type_errors(sql: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=re.escape(message)):
        value(sql, {"b": True, "s": "x", "d": date(2024, 1, 1)})


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DATE '2024-01-31' + 1", date(2024, 2, 1)), ("1 + DATE '2024-01-31'", date(2024, 2, 1)),
        ("DATE '2024-03-01' - DATE '2024-01-01'", 60), ("DATE '2024-03-01' - 1", date(2024, 2, 29)),
        ("DATE '2024-01-01' + INTERVAL '1 hour'", datetime(2024, 1, 1, 1)),
        ("TIMESTAMP '2024-01-02' - TIMESTAMP '2024-01-01 01:00'", timedelta(hours=23)),
        ("TIMESTAMPTZ '2024-01-01 00:00+00' + INTERVAL '90 minutes'",
         datetime(2024, 1, 1, 1, 30, tzinfo=UTC)),
        ("INTERVAL '1 day' - INTERVAL '2 hours'", timedelta(hours=22)),
        ("INTERVAL '1 hour' * 1.5", timedelta(minutes=90)),
        ("INTERVAL '1 hour' / 2", timedelta(minutes=30)),
        ("TIME '10:00' + INTERVAL '1 hour'", time(11)),
        ("TIMESTAMPTZ '2024-01-01 02:00+02' - TIMESTAMP '2024-01-01 00:00'", timedelta(0)),
    ],
)  # fmt: skip
def test_date_arithmetic(sql: str, expected: object) -> None:
    check(sql, expected)


# --- casts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("CAST('42' AS integer)", 42), ("' 12 '::int", 12), ("'+12'::int", 12),
        ("2.5::int", 3), ("(-2.5)::int", -3), ("2.5::float8::int", 2), ("3.5::float8::int", 4),
        ("TRUE::int", 1), ("'1.5'::numeric::int", 2), ("32767::smallint", 32767),
        ("'1e3'::numeric", D("1000")), ("' 1.50 '::numeric", D("1.50")),
        ("'.5'::numeric", D("0.5")),
        ("1::numeric(5,2)", D("1.00")), ("2.345::numeric(4,2)", D("2.35")),
        ("-2.345::numeric(4,2)", D("-2.35")), ("2.5::numeric(3,0)", D("3")),
        ("0.1::float8::numeric", D("0.1")), ("(1 / 3::float8)::numeric", D("0.333333333333333")),
        ("'1.5'::float8", 1.5), ("1::double precision", 1.0),
        ("'-Infinity'::float8", float("-inf")),
        ("1.1::real", 1.1), ("'1.5e-3'::real", 0.0015), ("'2147483648'::real", 2147483600.0),
        ("'0x10'::float8", 16.0), ("'NaN'::numeric(5,2)::text", "NaN"),
        ("'t'::boolean", True), ("'of'::bool", False),
        ("' YES '::bool", True), ("'1'::bool", True), ("3::bool", True), ("0::bool", False),
        ("'2024-01-31'::date", date(2024, 1, 31)), ("'20240131'::date", date(2024, 1, 31)),
        ("'2024-1-5'::date", date(2024, 1, 5)),
        ("(TIMESTAMPTZ '2024-01-01 23:00-05')::date", date(2024, 1, 2)),
        ("'2024-01-01 10:00+02'::timestamp", datetime(2024, 1, 1, 10)),
        ("'2024-01-01 10:00+02'::timestamptz", datetime(2024, 1, 1, 8, tzinfo=UTC)),
        ("'2024-01-01T10:00:00Z'::timestamptz", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("'2024-01-01 10:00'::timestamptz", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("(DATE '2024-01-01')::timestamptz", datetime(2024, 1, 1, tzinfo=UTC)),
        ("TIMESTAMP '2024-01-01 10:00:00.5555'::timestamp(3)",
         datetime(2024, 1, 1, 10, 0, 0, 556000)),
        ("TIMESTAMP '2024-01-01 10:00:00.5555'::timestamp(0)", datetime(2024, 1, 1, 10, 0, 1)),
        ("'10:30'::time", time(10, 30)),
        ("'1 day 01:30:00'::interval", timedelta(days=1, minutes=90)),
        ("'90 min'::interval", timedelta(minutes=90)),
        ("'-1 hours'::interval", timedelta(hours=-1)),
        ("'5 ms'::interval", timedelta(milliseconds=5)),
        ("INTERVAL '2 hours 5 ms'", timedelta(hours=2, milliseconds=5)),
        ("'3 msecs'::interval", timedelta(milliseconds=3)),
        ("'2 mins'::interval", timedelta(minutes=2)),
        ("'7 us'::interval", timedelta(microseconds=7)),
        ("'1.5 days'::interval", timedelta(hours=36)),
        ("'2 hrs 1 s'::interval", timedelta(hours=2, seconds=1)),
        ("'10:30:00+02'::time", time(10, 30)), ("'10:30:00+02'::time = TIME '10:30'", True),
        ("'10:30:00+02'::time < TIME '11:30'", True),
        ("'2024-03-02 10:00:00+02'::date", date(2024, 3, 2)),
        ("'2024-03-02T10:00'::date", date(2024, 3, 2)),
        ("'1e-400'::numeric::text", "0." + "0" * 399 + "1"), ("'0e-400'::float8", 0.0),
        ("'{\"a\": [1, 2.50]}'::jsonb", {"a": [1, D("2.50")]}),
        ("'123E4567-E89B-12D3-A456-426614174000'::uuid",
         UUID("123e4567-e89b-12d3-a456-426614174000")),
        ("TRUE::text", "true"), ("1.50::text", "1.50"), ("'abc'::varchar(2)", "ab"),
        ("1e15::float8::text", "1e+15"), ("123456789012345.6::float8::text", "123456789012345.6"),
        ("0.00001::float8::text", "1e-05"), ("(TIME '10:00:01.5')::text", "10:00:01.5"),
        ("INTERVAL '-1 day -2 hours'::text", "-1 days -02:00:00"),
        ("'{\"b\":1,\"a\":[true,null]}'::json::text", '{"b": 1, "a": [true, null]}'),
    ],
)  # fmt: skip
def test_casts(sql: str, expected: object) -> None:
    check(sql, expected)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("CAST('abc' AS integer)", 'invalid input syntax for type integer: "abc"'),
        ("'1.5'::int", 'invalid input syntax for type integer: "1.5"'),
        ("'0x10'::int", "invalid input syntax"),
        ("2147483648::int", "integer out of range"), ("32768::smallint", "smallint out of range"),
        ("TRUE::bigint", "cannot cast type boolean to bigint"),
        ("999.5::numeric(3,0)", "numeric field overflow"),
        ("'1_000'::numeric", "invalid input syntax"),
        ("'1e400'::float8", "out of range for type double precision"),
        ("'1e-400'::float8", '"1e-400" is out of range for type double precision'),
        ("'-0x1p-2000'::float8", "out of range for type double precision"),
        ("1e-400::float8", "out of range for type double precision"),
        ("'1e-50'::real", '"1e-50" is out of range for type real'),
        ("1e-50::float8::real", "value out of range: underflow"),
        ("1e300::float8::real", "value out of range: overflow"),
        ("'٤٢'::integer", 'invalid input syntax for type integer: "٤٢"'),
        ("'٤٢'::numeric", "invalid input syntax for type numeric"),
        ("'٤٢'::float8", "invalid input syntax for type double precision"),
        ("'\u00a042'::integer", "invalid input syntax for type integer"),
        ("'٤ hours'::interval", "invalid input syntax for type interval"),
        ("'2024-03-02 foo'::date", 'invalid input syntax for type date: "2024-03-02 foo"'),
        ("'2024-03-02 25:00'::date", "invalid input syntax for type date"),
        ("'٢٠٢٤-03-02'::date", "invalid input syntax for type date"),
        ("'o'::bool", 'invalid input syntax for type boolean: "o"'), ("1.5::bool", "cannot cast"),
        ("'2024-13-01'::date", "out of range"), ("'tomorrow'::date", "invalid input syntax"),
        ("'yesterday'::timestamp", "invalid input syntax"), ("'1 fortnight'::interval", "interval"),
        ("'{'::json", "invalid input syntax for type json"), ("'x'::uuid", "invalid input syntax"),
        ("(DATE '2024-01-01')::int", "cannot cast type date to integer"),
    ],
)  # fmt: skip
def test_invalid_casts_raise_at_evaluation_naming_the_cast(sql: str, message: str) -> None:
    _fails_naming_the_expression(sql, message)


def test_casting_null_or_unknown_keeps_it() -> None:
    assert value("after.a::int", {"a": None}) is None
    assert value("after.a::int", {}) is UNKNOWN


@pytest.mark.parametrize(
    ("text", "expected"),
    [("t", True), ("TRUE", True), ("tr", True), ("y", True), ("yes", True), ("on", True),
     ("1", True), ("f", False), ("fal", False), ("n", False), ("no", False), ("off", False),
     ("of", False), ("0", False)],
)  # fmt: skip
def test_postgres_boolean_spellings(text: str, expected: bool) -> None:
    assert parse_boolean(text) is expected


@pytest.mark.parametrize(
    ("number", "text"),
    [(1.0, "1"), (1.5, "1.5"), (1e14, "100000000000000"), (1e15, "1e+15"), (1.5e15, "1.5e+15"),
     (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5e-7, "-2.5e-07"), (float("nan"), "NaN"),
     (float("inf"), "Infinity"), (0.30000000000000004, "0.30000000000000004")],
)  # fmt: skip
def test_doubles_print_like_postgres(number: float, text: str) -> None:
    assert float_text(number) == text


@pytest.mark.parametrize(
    ("python", "text"),
    [(datetime(5, 1, 1), "0005-01-01 00:00:00"),
    (datetime(2024, 1, 1, 0, 0, 0, 120000), "2024-01-01 00:00:00.12"),
     (timedelta(hours=36), "1 day 12:00:00"), (timedelta(0), "00:00:00"),
     (timedelta(days=2), "2 days"),
     (b"\x01\xff", "\\x01ff"), (D("1E+2"), "100")],
)  # fmt: skip
def test_text_output(python: object, text: str) -> None:
    assert to_text(python) == text


@pytest.mark.parametrize(
    ("sql", "expected"),
    [("after.t = TIME '10:30'", True), ("after.t < TIME '11:30'", True),
     ("after.t > '09:00'", True), ("after.t = '12:30+02'", True), ("after.t::time", time(10, 30)),
     ("after.t::time = '10:30:00+05'::time", True)],
)  # fmt: skip
def test_a_time_with_time_zone_meets_a_time_in_utc(sql: str, expected: object) -> None:
    """A ``timetz`` column (Debezium's ZonedTime, in UTC) against a ``time``: the time is
    read in the session's zone, UTC, as PostgreSQL does."""
    check(sql, expected, {"t": time(10, 30, tzinfo=UTC)})


# --- functions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("lower('ÀBC')", "àbc"), ("upper('abc')", "ABC"), ("trim('  a  ')", "a"),
        ("trim(both 'x' from 'xxaxx')", "a"), ("trim(leading 'x' from 'xxaxx')", "axx"),
        ("trim(trailing from '  a  ')", "  a"), ("btrim('xyaxy', 'xy')", "a"),
        ("ltrim('xxaxx', 'x')", "axx"), ("rtrim('a  ')", "a"), ("trim(E'\\ta ')", "\ta"),
        ("length('héllo')", 5), ("char_length('abc')", 3),
        ("substring('abcdef' FROM 2 FOR 3)", "bcd"), ("substring('abcdef' FROM 3)", "cdef"),
        ("substring('abcdef', 0, 3)", "ab"), ("substring('abcdef' FROM -1)", "abcdef"),
        ("substr('abcdef', 2, 2)", "bc"), ("substring('abc' FOR 2)", "ab"),
        ("replace('abcabc', 'b', 'X')", "aXcaXc"), ("replace('abc', '', 'x')", "abc"),
        ("position('c' IN 'abc')", 3), ("strpos('abc', 'z')", 0), ("strpos('abc', '')", 1),
        ("left('abcde', 2)", "ab"), ("left('abcde', -2)", "abc"), ("left('abc', 5)", "abc"),
        ("right('abcde', 2)", "de"), ("right('abcde', -2)", "cde"), ("right('abcde', 0)", ""),
        ("concat('a', NULL, 1, TRUE)", "a1t"), ("concat_ws(',', 'a', NULL, 'b')", "a,b"),
        ("md5('a')", "0cc175b9c0f1b6a831c399e269772661"),
        ("split_part('a,b,c', ',', 2)", "b"), ("split_part('a,b,c', ',', -1)", "c"),
        ("split_part('a,b,c', ',', 9)", ""), ("split_part('a,b,c', '', 1)", "a,b,c"),
        ("starts_with('shipped', 'ship')", True), ("reverse('abc')", "cba"),
        ("repeat('ab', 3)", "ababab"),
        ("round(2.5)", D("3")), ("round(-2.5)", D("-3")), ("round(2.5::float8)", 2.0),
        ("round(3.5::float8)", 4.0), ("round(5)", 5.0), ("round(2.345, 2)", D("2.35")),
        ("round(-2.345, 2)", D("-2.35")), ("round(1234.5, -2)", D("1200")),
        ("round(5, 1)", D("5.0")),
        ("trunc(-2.7)", D("-2")), ("trunc(2.789, 2)", D("2.78")), ("trunc(2.7::float8)", 2.0),
        ("abs(-5)", 5), ("abs(-2.50)", D("2.50")), ("floor(-2.5)", D("-3")), ("floor(5)", 5.0),
        ("ceil(2.1)", D("3")), ("ceiling(2.1::float8)", 3.0), ("mod(-7, 2)", -1),
        ("mod(7.5, 2)", D("1.5")),
        ("power(2, 3)", 8.0), ("power(2, -1)", 0.5), ("power(2.0, 3)", D("8.0000000000000000")),
        ("power(2.0, -2)", D("0.2500000000000000")),
        ("power(10.0, 20)", D("100000000000000000000.0000000000000000")),
        ("power(0.5, 30)", D("9.313226E-10")), ("sqrt(4)", 2.0),
        ("sqrt(2.0)", D("1.414213562373095")), ("sign(-3)", -1.0), ("sign(0.0)", D("0")),
        ("sign(-7) / 2", -0.5), ("sign(2.5::float8)", 1.0), ("sign(-2.50)", D("-1")),
        ("greatest(1, NULL, 3)", 3), ("least(2, NULL, 1)", 1), ("greatest(NULL, NULL)", None),
        ("greatest('a', 'b')", "b"), ("greatest(1, 2.5)", D("2.5")), ("least(1.5::float8, 2)", 1.5),
        ("COALESCE(NULL, 2, 1 / 0)", 2), ("NULLIF(1, 1.0)", None), ("COALESCE(1, 2.5)", D("1")),
        ("greatest(3, 2.5)", D("3")), ("least(3, 2.5::float8)", 2.5), ("NULLIF(1, 2.0)", D("1")),
        ("CASE WHEN TRUE THEN 1 ELSE 2.5 END", D("1")), ("COALESCE(NULL, 7)", 7),
        ("date_trunc('day', TIMESTAMP '2024-05-03 10:11:12')", datetime(2024, 5, 3)),
        ("date_trunc('hour', TIMESTAMPTZ '2024-05-03 10:11:12+00')",
         datetime(2024, 5, 3, 10, tzinfo=UTC)),
        ("date_trunc('week', TIMESTAMP '2024-01-03 10:00')", datetime(2024, 1, 1)),
        ("date_trunc('month', DATE '2024-03-15')", datetime(2024, 3, 1, tzinfo=UTC)),
        ("date_trunc('quarter', TIMESTAMP '2024-05-03')", datetime(2024, 4, 1)),
        ("date_trunc('year', TIMESTAMP '2024-05-03')", datetime(2024, 1, 1)),
        ("date_trunc('decade', TIMESTAMP '2024-05-03')", datetime(2020, 1, 1)),
        ("date_trunc('century', TIMESTAMP '2024-05-03')", datetime(2001, 1, 1)),
        ("date_trunc('millennium', TIMESTAMP '2024-05-03')", datetime(2001, 1, 1)),
        ("date_trunc('milliseconds', TIMESTAMP '2024-05-03 00:00:00.123456')",
         datetime(2024, 5, 3, 0, 0, 0, 123000)),
        ("date_trunc('minute', TIMESTAMP '2024-05-03 10:11:12')", datetime(2024, 5, 3, 10, 11)),
        ("extract(year FROM DATE '2024-03-01')", D("2024")),
        ("extract(dow FROM DATE '2024-01-07')", D("0")),
        ("extract(isodow FROM DATE '2024-01-07')", D("7")),
        ("extract(week FROM DATE '2024-01-01')", D("1")),
        ("extract(doy FROM DATE '2024-02-01')", D("32")),
        ("extract(quarter FROM DATE '2024-05-01')", D("2")),
        ("extract(epoch FROM DATE '2024-01-01')", D("1704067200")),
        ("extract(epoch FROM TIMESTAMP '2024-01-01 00:00:01.5')", D("1704067201.500000")),
        ("extract(epoch FROM TIMESTAMPTZ '2024-01-01 00:00:00+00')", D("1704067200.000000")),
        ("extract(second FROM TIMESTAMP '2024-01-01 00:00:01.5')", D("1.500000")),
        ("extract(millisecond FROM TIMESTAMP '2024-01-01 00:00:01.5')", D("1500.000")),
        ("extract(microsecond FROM TIMESTAMP '2024-01-01 00:00:01.5')", D("1500000")),
        ("extract(hour FROM TIMESTAMPTZ '2024-01-01 23:00-05')", D("4")),
        ("extract(epoch FROM INTERVAL '1 day 2 hours')", D("93600.000000")),
        ("extract(hour FROM INTERVAL '1 day 2 hours')", D("2")),
        ("extract(hour FROM INTERVAL '36 hours')", D("36")),
        ("extract(day FROM INTERVAL '36 hours')", D("0")),
        ("extract(day FROM INTERVAL '1.5 days')", D("1")),
        ("extract(hour FROM INTERVAL '1.5 days')", D("12")),
        ("extract(hour FROM '36 hours'::interval)", D("36")),
        ("extract(hour FROM INTERVAL '36' HOUR)", D("36")),
        ("extract(minute FROM INTERVAL '1 day -30 minutes')", D("-30")),
        ("extract(epoch FROM INTERVAL '36 hours')", D("129600.000000")),
        ("date_part('hour', INTERVAL '36 hours')", 36.0),
        ("date_part('day', INTERVAL '36 hours')", 0.0),
        ("extract(day FROM TIMESTAMP '2024-01-03' - TIMESTAMP '2024-01-01 12:00')", D("1")),
        ("extract(hour FROM TIMESTAMP '2024-01-03' - TIMESTAMP '2024-01-01 12:00')", D("12")),
        ("extract(hour FROM TIMESTAMP '2024-01-01' - TIMESTAMP '2024-01-02 01:30')", D("-1")),
        ("extract(minute FROM TIMESTAMP '2024-01-01' - TIMESTAMP '2024-01-02 01:30')",
         D("-30")),
        ("extract(minute FROM TIME '10:30')", D("30")),
        ("date_part('second', TIMESTAMP '2024-01-01 00:00:01.5')", 1.5),
        ("date_part('dow', DATE '2024-01-07')", 0.0),
        ("to_timestamp(1.5)", datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)),
        ("to_timestamp(-1.5)", datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)),
        ("to_timestamp(1700000000000 / 1000)", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("TIMESTAMPTZ '2024-03-31 00:30:00+00' AT TIME ZONE 'Europe/Paris'",
         datetime(2024, 3, 31, 1, 30)),
        ("TIMESTAMPTZ '2024-07-01 10:00+00' AT TIME ZONE 'Europe/Paris'", datetime(2024, 7, 1, 12)),
        ("TIMESTAMP '2024-03-31 02:30:00' AT TIME ZONE 'Europe/Paris'",
         datetime(2024, 3, 31, 1, 30, tzinfo=UTC)),
        ("TIMESTAMP '2024-10-27 02:30:00' AT TIME ZONE 'Europe/Paris'",
         datetime(2024, 10, 27, 1, 30, tzinfo=UTC)),
        ("TIMESTAMP '2024-01-01 10:00' AT TIME ZONE 'UTC'", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("DATE '2024-01-01' AT TIME ZONE 'Europe/Paris'", datetime(2024, 1, 1, 1)),
        ("timezone('America/New_York', TIMESTAMPTZ '2024-01-01 10:00+00')",
         datetime(2024, 1, 1, 5)),
        ("'{\"a\": {\"b\": 1.50}}'::json -> 'a'", {"b": D("1.50")}),
        ("'{\"a\": {\"b\": 1.50}}'::json -> 'a' ->> 'b'", "1.50"),
        ("'{\"a\": null}'::json ->> 'a'", None), ("'{\"a\": \"x\"}'::jsonb ->> 'a'", "x"),
        ("'{\"a\": true}'::jsonb ->> 'a'", "true"), ("'{\"a\": [1]}'::jsonb ->> 'a'", "[1]"),
        ("'[1, 2]'::json -> 1", 2), ("'[1, 2]'::json -> -1", 2), ("'[1, 2]'::json -> 5", None),
        ("'[1, 2]'::json -> 'a'", None),
    ],
)  # fmt: skip
def test_functions(sql: str, expected: object) -> None:
    check(sql, expected)


def test_json_access_reads_json_text_columns() -> None:
    check("after.doc ->> 'status'", "paid", {"doc": '{"status": "paid"}'})
    check("after.doc -> 'n'", 2, {"doc": {"n": 2}})
    check("after.doc ->> after.k", "paid", {"doc": {"status": "paid"}, "k": "status"})


#: A JSON column holding a string that looks like JSON, and one that does not.
DOC = {"doc": {"channel": "web", "payload": '{"a": 1}', "n": D("1.50"),
               "nested": {"k": "é"}, "tags": ["ü"]},
       "text": '{"channel": "web", "nested": {"k": "é"}}', "name": "x"}  # fmt: skip


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("after.doc -> 'payload' ->> 'a'", None), ("after.doc -> 'payload' -> 'a'", None),
        ("after.doc -> 'channel' -> 'x'", None), ("after.doc -> 'channel' -> 0", None),
        ("after.doc -> 'channel' ->> 'x'", None),
        ("(after.doc -> 'channel')::text", '"web"'),
        ("(after.doc -> 'channel')::varchar(3)", '"we'),
        ("(after.doc -> 'channel')::jsonb::text", '"web"'),
        ("(after.doc -> 'n')::text", "1.50"), ("(after.doc -> 'n')::numeric", D("1.50")),
        ("after.name || (after.doc -> 'channel')", 'x"web"'),
        ("(after.doc -> 'channel') || after.name", '"web"x'),
        ("'x' || (after.doc -> 'channel')::text", 'x"web"'),
        ("after.doc -> 'channel' = '\"web\"'", True),
        ("after.doc -> 'channel' IN ('\"app\"', '\"web\"')", True),
        ("after.doc -> 'nested' = '{\"k\": \"é\"}'", True),
        ("after.doc ->> 'payload'", '{"a": 1}'), ("after.doc ->> 'channel'", "web"),
        ("(after.doc ->> 'payload') -> 'a'", 1),
        ("after.text -> 'channel'", "web"), ("(after.text -> 'channel')::text", '"web"'),
        ("after.text -> 'nested' ->> 'k'", "é"),
    ],
)  # fmt: skip
def test_a_json_value_from_arrow_is_json_not_json_text(sql: str, expected: object) -> None:
    """``->`` gives a JSON value: a JSON string in it is not parsed again, and prints with
    its quotes; a text column is still read as JSON text."""
    check(sql, expected, DOC)


@pytest.mark.parametrize(
    ("sql", "message"),
    [("(after.doc -> 'channel')::int", "cannot cast jsonb string to type integer"),
     ("(after.doc -> 'nested')::numeric", "cannot cast jsonb object to type numeric"),
     ("(after.doc -> 'n')::boolean", "cannot cast jsonb number to type boolean")],
)  # fmt: skip
def test_a_json_value_casts_to_a_number_only_from_a_json_number(sql: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        value(sql, DOC)


def test_a_quoted_literal_that_meets_json_must_be_json() -> None:
    with pytest.raises(ExpressionError, match="invalid input syntax for type json"):
        compile_expression("after.doc -> 'channel' = 'web'")


@pytest.mark.parametrize("sql", ["(after.doc -> 'a') || (after.doc -> 'b')",
                                 "'x' || (after.doc -> 'a')", "(after.doc -> 'a') || '[1]'"])
def test_json_concatenation_is_refused(sql: str) -> None:
    with pytest.raises(ExpressionError, match="JSON concatenation"):
        compile_expression(sql)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [("after.doc ->> 'nested'", '{"k": "é"}'), ("after.doc ->> 'tags'", '["ü"]'),
     ("(after.doc -> 'nested')::text", '{"k": "é"}'), ("after.text ->> 'nested'", '{"k": "é"}'),
     ("'{\"ключ\": \"é\"}'::jsonb::text", '{"ключ": "é"}')],
)  # fmt: skip
def test_json_text_keeps_non_ascii_characters(sql: str, expected: str) -> None:
    check(sql, expected, DOC)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("substring('abc', 2, -1)", "negative substring length not allowed"),
        ("split_part('a,b', ',', 0)", "field position must not be zero"),
        ("sqrt(-1)", "cannot take square root of a negative number"),
        ("power(0, -1)", "zero raised to a negative power"),
        ("round(1.5::float8, 1)", "cast the first argument to numeric"),
        ("date_trunc(after.f, TIMESTAMP '2024-01-01')", 'unit "fortnight" not recognized'),
        ("extract(hour FROM DATE '2024-01-01')", 'unit "hour" not supported'),
        ("upper(1)", "upper\\(\\) needs text, not integer"),
        ("abs('x')", "abs\\(\\) needs a number"),
        ("left('abc', 1.5)", "left\\(\\) needs an integer"),
    ],
)
def test_function_errors(sql: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        value(sql, {"f": "fortnight"})


@pytest.mark.parametrize(
    ("sql", "expected"),
    [("lower(after.n)", None), ("lower(after.u)", UNKNOWN), ("concat('a', after.n)", "a"),
     ("concat('a', after.u)", UNKNOWN), ("greatest(1, after.n)", 1),
     ("greatest(1, after.u)", UNKNOWN),
     ("concat_ws(after.n, 'a')", None), ("substring('abc', after.n)", None),
     ("substring(after.u, after.n)", None)],
)  # fmt: skip
def test_functions_with_null_and_unknown(sql: str, expected: object) -> None:
    assert value(sql, {"n": None}) == expected
