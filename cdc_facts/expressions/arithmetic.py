"""Arithmetic with PostgreSQL's typing rules.

``integer op integer`` stays an integer (``/`` truncates toward zero, ``%`` takes the sign of
the dividend); a ``numeric`` operand makes the result an exact :class:`~decimal.Decimal`
with PostgreSQL's result scale; a ``double precision`` operand makes it a float. Dates,
timestamps and intervals add and subtract as in PostgreSQL. Every function here takes two
non-NULL, known operands and raises ``ValueError``/``TypeError``/``ZeroDivisionError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, Inexact, InvalidOperation, Overflow
from typing import Any

from cdc_facts.expressions.casts import DECIMALS, plain_decimal, text_like, to_double, type_name

Operator = Callable[[object, object], object]

_NUMBER_CLASSES = frozenset({int, Decimal, float})
_DECIMAL_PROBLEMS = (Inexact, Overflow, InvalidOperation)
_NUMERIC_MIN_SIG_DIGITS = 16
_NUMERIC_MAX_DISPLAY_SCALE = 1000


def _number_kind(a: Any, b: Any) -> type | None:
    """The class arithmetic on ``a`` and ``b`` works in, or None if either is no number."""
    ca, cb = a.__class__, b.__class__
    if ca is cb:
        return ca if ca in _NUMBER_CLASSES else None
    if ca not in _NUMBER_CLASSES or cb not in _NUMBER_CLASSES:
        return None
    return float if ca is float or cb is float else Decimal


def _typed(a: Any, b: Any) -> tuple[Any, Any, type | None]:
    """Operands with a text operand typed by the other one, like a quoted literal in
    PostgreSQL, and the number class they work in."""
    if isinstance(a, str) and not isinstance(b, str):
        a = text_like(a, b)
    elif isinstance(b, str) and not isinstance(a, str):
        b = text_like(b, a)
    return a, b, _number_kind(a, b)


def _no_operator(symbol: str, a: object, b: object) -> TypeError:
    return TypeError(f"operator does not exist: {type_name(a)} {symbol} {type_name(b)}")


def _decimal(operation: Callable[[Any, Any], Decimal], a: Any, b: Any) -> Decimal:
    """An exact decimal operation; ``-0`` comes out as ``0`` as in PostgreSQL."""
    try:
        result = operation(a, b)
    except _DECIMAL_PROBLEMS:
        raise ValueError("numeric value out of range") from None
    return result if result else result.copy_abs()


def _double(value: Any) -> float:
    """An operand of double precision arithmetic: a number of another class is converted,
    and is out of range if it does not fit."""
    return value if value.__class__ is float else to_double(value)


def _finite(result: float, a: float, b: float) -> float:
    """``result`` of an operation on ``a`` and ``b``; infinite from finite operands is an
    overflow, as in PostgreSQL."""
    if math.isinf(result) and not (math.isinf(a) or math.isinf(b)):
        raise ValueError("value out of range: overflow")
    return result


def _exact(operation: Callable[[], Decimal]) -> Decimal:
    try:
        return plain_decimal(operation())
    except _DECIMAL_PROBLEMS:
        raise ValueError("numeric value out of range") from None


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _same_zone(a: datetime, b: datetime) -> tuple[datetime, datetime]:
    if (a.tzinfo is None) != (b.tzinfo is None):
        return _as_utc(a), _as_utc(b)
    return a, b


def _midnight(value: date) -> datetime:
    return datetime(value.year, value.month, value.day)


def _add_temporal(a: Any, b: Any) -> object:
    if isinstance(a, timedelta) and not isinstance(b, timedelta):
        a, b = b, a
    if isinstance(b, timedelta):
        if isinstance(a, datetime | timedelta):
            return a + b
        if isinstance(a, date):
            return _midnight(a) + b
        if isinstance(a, time):
            return (datetime.combine(date(2000, 1, 1), a) + b).time()
    if isinstance(a, int) and isinstance(b, date) and not isinstance(b, datetime):
        a, b = b, a
    if isinstance(a, date) and not isinstance(a, datetime) and type(b) is int:
        return a + timedelta(days=b)
    raise _no_operator("+", a, b)


def add(a: Any, b: Any) -> object:
    """``a + b``."""
    kind = _number_kind(a, b)
    if kind is None:
        a, b, kind = _typed(a, b)
    if kind is int:
        return a + b
    if kind is Decimal:
        return _decimal(DECIMALS.add, a, b)
    if kind is float:
        x, y = _double(a), _double(b)
        return _finite(x + y, x, y)
    return _add_temporal(a, b)


def _subtract_temporal(a: Any, b: Any) -> object:
    if isinstance(a, datetime) and isinstance(b, datetime):
        a, b = _same_zone(a, b)
        return a - b
    if isinstance(a, date) and not isinstance(a, datetime):
        if isinstance(b, date) and not isinstance(b, datetime):
            return (a - b).days
        if type(b) is int:
            return a - timedelta(days=b)
        if isinstance(b, timedelta):
            return _midnight(a) - b
    if isinstance(b, timedelta) and isinstance(a, datetime | timedelta):
        return a - b
    if isinstance(b, timedelta) and isinstance(a, time):
        return (datetime.combine(date(2000, 1, 1), a) - b).time()
    raise _no_operator("-", a, b)


def subtract(a: Any, b: Any) -> object:
    """``a - b``."""
    kind = _number_kind(a, b)
    if kind is None:
        a, b, kind = _typed(a, b)
    if kind is int:
        return a - b
    if kind is Decimal:
        return _decimal(DECIMALS.subtract, a, b)
    if kind is float:
        x, y = _double(a), _double(b)
        return _finite(x - y, x, y)
    return _subtract_temporal(a, b)


def multiply(a: Any, b: Any) -> object:
    """``a * b``."""
    kind = _number_kind(a, b)
    if kind is None:
        a, b, kind = _typed(a, b)
    if kind is int:
        return a * b
    if kind is Decimal:
        return _decimal(DECIMALS.multiply, a, b)
    if kind is float:
        x, y = _double(a), _double(b)
        result = _finite(x * y, x, y)
        if result == 0.0 and x != 0.0 and y != 0.0:
            raise ValueError("value out of range: underflow")
        return result
    if isinstance(b, timedelta):
        a, b = b, a
    if isinstance(a, timedelta) and type(b) in _NUMBER_CLASSES:
        return timedelta(microseconds=round(a / timedelta(microseconds=1) * float(b)))
    raise _no_operator("*", a, b)


def _int_divide(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


def _parts(value: int | Decimal) -> tuple[int, int]:
    """``(mantissa, exponent)`` with ``value == mantissa * 10 ** exponent``."""
    if isinstance(value, int):
        return value, 0
    number, _, power = str(value).partition("E")
    whole, _, fraction = number.partition(".")
    try:
        return int(whole + fraction), (int(power) if power else 0) - len(fraction)
    except ValueError:
        raise ValueError(f"cannot divide by or into {value}") from None


_POWERS_OF_TEN = tuple(10**n for n in range(64))


def _ten_to(n: int) -> int:
    return _POWERS_OF_TEN[n] if n < 64 else int(10**n)


def _weight_and_first_digit(mantissa: int, exponent: int) -> tuple[int, int]:
    """The weight and leading digit of a value in PostgreSQL's base-10000 representation."""
    if not mantissa:
        return 0, 0
    magnitude = abs(mantissa)
    weight = (len(str(magnitude)) - 1 + exponent) // 4
    shift = exponent - 4 * weight
    return weight, magnitude * _ten_to(shift) if shift >= 0 else magnitude // _ten_to(-shift)


def _division_scale(ma: int, ea: int, mb: int, eb: int) -> int:
    weight1, first1 = _weight_and_first_digit(ma, ea)
    weight2, first2 = _weight_and_first_digit(mb, eb)
    quotient_weight = weight1 - weight2 - (1 if first1 <= first2 else 0)
    scale = max(_NUMERIC_MIN_SIG_DIGITS - quotient_weight * 4, -ea, -eb, 0)
    return min(scale, _NUMERIC_MAX_DISPLAY_SCALE)


def numeric_division_scale(a: int | Decimal, b: int | Decimal) -> int:
    """The scale of ``a / b`` in PostgreSQL (``select_div_scale`` in numeric.c): at least
    16 significant digits, and never fewer decimals than either operand."""
    return _division_scale(*_parts(a), *_parts(b))


def numeric_divide(a: int | Decimal, b: int | Decimal) -> Decimal:
    """``a / b`` on numerics: exact, rounded half away from zero to PostgreSQL's scale."""
    (ma, ea), (mb, eb) = _parts(a), _parts(b)
    if not mb:
        raise ZeroDivisionError
    return _rounded_quotient(ma, ea, mb, eb, _division_scale(ma, ea, mb, eb))


def divide_to_scale(a: int | Decimal, b: int | Decimal, scale: int) -> Decimal:
    """The exact quotient ``a / b`` rounded half away from zero to ``scale`` decimals."""
    return _rounded_quotient(*_parts(a), *_parts(b), scale)


def _rounded_quotient(ma: int, ea: int, mb: int, eb: int, scale: int) -> Decimal:
    shift = ea - eb + scale
    numerator = abs(ma) * _ten_to(shift) if shift >= 0 else abs(ma)
    denominator = abs(mb) if shift >= 0 else abs(mb) * _ten_to(-shift)
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    sign = "-" if (ma < 0) != (mb < 0) and quotient else ""
    return Decimal(f"{sign}{quotient}E-{scale}")


def numeric_power(base: Decimal, exponent: int) -> Decimal:
    """``base ^ exponent`` on numerics with a whole exponent, as PostgreSQL 15 computes it
    (``power_var``): exact, then rounded half away from zero to at least 16 decimals."""
    display_scale = -_parts(base)[1]
    scale = min(max(_NUMERIC_MIN_SIG_DIGITS, display_scale), _NUMERIC_MAX_DISPLAY_SCALE)
    if exponent == 0:
        return divide_to_scale(Decimal(1), Decimal(1), scale)  # even 0 ^ 0, as in PostgreSQL
    if exponent > 0:
        power = _exact(lambda: DECIMALS.power(base, exponent))
        return divide_to_scale(power, Decimal(1), scale)
    if not base:
        raise ValueError("zero raised to a negative power is undefined")
    return divide_to_scale(Decimal(1), _exact(lambda: DECIMALS.power(base, -exponent)), scale)


def _float_divide(x: float, y: float) -> float:
    """``x / y`` on doubles, with PostgreSQL's range checks (``float8div``)."""
    result = x / y
    if math.isinf(result) and not math.isinf(x):
        raise ValueError("value out of range: overflow")
    if result == 0.0 and x != 0.0 and not math.isinf(y):
        raise ValueError("value out of range: underflow")
    return result


def divide(a: Any, b: Any) -> object:
    """``a / b``; raises ``ZeroDivisionError`` on a zero divisor, whatever the type."""
    kind = _number_kind(a, b)
    if kind is None:
        a, b, kind = _typed(a, b)
    if kind is int:
        return _int_divide(a, b)
    if kind is Decimal:
        return numeric_divide(a, b)
    if kind is float:
        return _float_divide(_double(a), _double(b))
    if isinstance(a, timedelta) and type(b) in _NUMBER_CLASSES:
        if not b:
            raise ZeroDivisionError
        return timedelta(microseconds=round(a / timedelta(microseconds=1) / float(b)))
    raise _no_operator("/", a, b)


def modulo(a: Any, b: Any) -> object:
    """``a % b``: the remainder takes the sign of the dividend."""
    kind = _number_kind(a, b)
    if kind is None:
        a, b, kind = _typed(a, b)
    if kind is int:
        remainder = abs(a) % abs(b)
        return -remainder if a < 0 else remainder
    if kind is Decimal:
        if not b:
            raise ZeroDivisionError
        return _decimal(DECIMALS.remainder, a, b)
    if kind is float:
        if not b:
            raise ZeroDivisionError
        return math.fmod(a, b)
    raise _no_operator("%", a, b)


def negate(a: Any) -> object:
    """``-a``."""
    if isinstance(a, bool):
        raise TypeError("operator does not exist: - boolean")
    if isinstance(a, int | float | timedelta):
        return -a
    if isinstance(a, Decimal):
        result = DECIMALS.minus(a)
        return result if result else result.copy_abs()
    raise TypeError(f"operator does not exist: - {type_name(a)}")


_NUMBER_TYPES = ("integer", "numeric", "double precision")
_TEMPORAL_TYPES = {
    ("+", "date", "integer"): "date", ("-", "date", "integer"): "date",
    ("-", "date", "date"): "integer", ("+", "date", "interval"): "timestamp",
    ("+", "timestamp", "interval"): "timestamp", ("-", "timestamp", "interval"): "timestamp",
    ("+", "timestamptz", "interval"): "timestamptz",
    ("-", "timestamptz", "interval"): "timestamptz",
    ("-", "timestamp", "timestamp"): "interval", ("-", "timestamptz", "timestamptz"): "interval",
    ("+", "interval", "interval"): "interval", ("-", "interval", "interval"): "interval",
}  # fmt: skip


def arithmetic_type(symbol: str, left: str | None, right: str | None) -> str | None:
    """Best-effort static type of ``left <symbol> right`` from the operands' types."""
    if left in _NUMBER_TYPES and right in _NUMBER_TYPES:
        return _NUMBER_TYPES[max(_NUMBER_TYPES.index(left), _NUMBER_TYPES.index(right))]
    if symbol == "+" and right in ("date", "timestamp", "timestamptz"):
        left, right = right, left
    return _TEMPORAL_TYPES.get((symbol, left or "", right or ""))
