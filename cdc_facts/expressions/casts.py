"""Type names, text output and ``CAST`` conversions, with PostgreSQL's rules.

A converter takes one non-NULL, known value and returns it as the target type, or raises
``ValueError``/``TypeError`` with the message PostgreSQL would give.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Any
from uuid import UUID

from cdc_facts.expressions import temporal
from cdc_facts.expressions.context import EvalContext, Evaluator

#: Exact decimal arithmetic: big enough for any PostgreSQL numeric we meet, and any result
#: that would need rounding raises ``Inexact`` instead of silently losing digits.
DECIMALS = Context(
    prec=2000, rounding=ROUND_HALF_UP, Emax=999_999, Emin=-999_999,
    traps=[InvalidOperation, Overflow, Inexact],
)  # fmt: skip
#: Deliberate rounding (``quantize``, ``numeric(p,s)``): same range, but rounding is allowed.
ROUNDING = Context(
    prec=2000, rounding=ROUND_HALF_UP, Emax=999_999, Emin=-999_999,
    traps=[InvalidOperation, Overflow],
)  # fmt: skip

Converter = Callable[[object], object]

# --- type names and text -------------------------------------------------------------------

_TYPE_NAMES: dict[type, str] = {
    str: "text", bool: "boolean", int: "integer", Decimal: "numeric",
    float: "double precision", date: "date", time: "time", timedelta: "interval",
    dict: "json", list: "json", UUID: "uuid", bytes: "bytea",
}  # fmt: skip


def type_name(value: object) -> str:
    """The PostgreSQL type name of a Python value, for messages."""
    if isinstance(value, datetime):
        return "timestamp" if value.tzinfo is None else "timestamp with time zone"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def float_text(value: float) -> str:
    """Print a double the way PostgreSQL does: shortest exact digits, exponent past 1e15."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    digits = Decimal(repr(value))
    exponent = digits.adjusted()
    if -4 <= exponent < 15:
        text = format(digits, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa = format(digits.scaleb(-exponent), "f")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def json_text(value: object) -> str:
    """JSON text with exact decimals, spaced like PostgreSQL's ``jsonb`` output, with
    non-ASCII characters as they are (``"é"``, not ``"\\u00e9"``)."""
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}: {json_text(v)}"
                 for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(json_text(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return float_text(value)
    return json.dumps(value, ensure_ascii=False)


_TEXT_BY_CLASS: dict[type, Callable[[Any], str]] = {
    str: lambda v: v,
    bool: lambda v: "true" if v else "false",
    int: str,
    Decimal: lambda v: format(v, "f"),
    float: float_text,
    date: lambda v: f"{v.year:04d}-{v.month:02d}-{v.day:02d}",
    datetime: temporal.timestamp_text,
    time: temporal.time_text,
    timedelta: temporal.interval_text,
    dict: json_text,
    list: json_text,
    UUID: str,
    bytes: lambda v: "\\x" + v.hex(),
}


def to_text(value: object) -> str:
    """``value::text``: PostgreSQL's text for a value (``true``, ``1.50``, ``2024-01-31``)."""
    convert = _TEXT_BY_CLASS.get(type(value))
    if convert is None:
        raise TypeError(f"cannot convert a {type_name(value)} value to text")
    return convert(value)


def output_text(value: object) -> str:
    """The type's output function, as ``concat()`` uses it: like :func:`to_text` but
    booleans print as ``t``/``f``."""
    if value is True or value is False:
        return "t" if value else "f"
    return to_text(value)


# --- converters ------------------------------------------------------------------------------

# Digits and spaces are ASCII only, as in PostgreSQL: ``'٤٢'::integer`` is an error.
_S = "[ \t\n\r\v\f]*"
_INTEGER_RE = re.compile(rf"{_S}[+-]?[0-9]+{_S}")
_NUMERIC_RE = re.compile(rf"{_S}[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?{_S}")
_HEX_FLOAT_RE = re.compile(
    rf"{_S}[+-]?0[xX][0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?(?:[pP][+-]?[0-9]+)?{_S}"
)
_NONZERO_DIGIT = re.compile(r"[1-9a-fA-F]")
_SPECIAL_NUMBERS = {"nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"}
_INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


def _refuse(value: object, target: str) -> ValueError:
    return ValueError(f"cannot cast type {type_name(value)} to {target}")


def parse_integer(text: str, target: str = "integer") -> int:
    """Read an integer from text, allowing surrounding spaces and a sign."""
    if _INTEGER_RE.fullmatch(text) is None:
        raise ValueError(f'invalid input syntax for type {target}: "{text}"')
    return int(text)


def parse_numeric(text: str) -> Decimal:
    """Read a numeric from text, keeping the written scale (``'1.50'`` has scale 2)."""
    if _NUMERIC_RE.fullmatch(text) is None and _word(text) not in _SPECIAL_NUMBERS:
        raise ValueError(f'invalid input syntax for type numeric: "{text}"')
    return plain_decimal(Decimal(text.strip(temporal.SPACE)))


def _word(text: str) -> str:
    return text.strip(temporal.SPACE).lower()


def plain_decimal(value: Decimal) -> Decimal:
    """``1.5E+3`` as ``1500`` and ``-0.0`` as ``0.0``: PostgreSQL numerics have neither a
    negative scale nor a negative zero."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        value = ROUNDING.quantize(value, Decimal(1))
    if value.is_signed() and value.is_zero():
        return value.copy_abs()
    return value


def _integer(target: str) -> Converter:
    low, high = _INTEGER_RANGES[target]

    def convert(value: object) -> object:
        number = _whole_number(value, target)
        if not low <= number <= high:
            raise ValueError(f"{target} out of range")
        return number

    return convert


def _whole_number(value: object, target: str) -> int:
    if isinstance(value, bool):
        if target != "integer":
            raise _refuse(value, target)
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_integer(value, target)
    try:
        if isinstance(value, Decimal):
            return int(ROUNDING.to_integral_value(value))
        if isinstance(value, float):
            return round(value)
    except (OverflowError, ValueError, InvalidOperation):
        raise ValueError(f"{target} out of range") from None
    raise _refuse(value, target)


def to_numeric(value: object) -> Decimal:
    """``value::numeric`` without a precision."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(format(value, ".15g"))
    if isinstance(value, str):
        return parse_numeric(value)
    raise _refuse(value, "numeric")


def _numeric(precision: int | None, scale: int) -> Converter:
    if precision is None:
        return to_numeric
    step = Decimal(1).scaleb(-scale)

    def convert(value: object) -> object:
        number = to_numeric(value)
        if number.is_nan():
            return number
        if not number.is_finite():
            raise ValueError(f"cannot convert {number} to numeric({precision},{scale})")
        rounded = ROUNDING.quantize(number, step)
        if rounded and rounded.adjusted() >= precision - scale:
            raise ValueError(
                f"numeric field overflow: a field with precision {precision}, scale {scale} "
                f"must round to an absolute value less than 10^{precision - scale}"
            )
        return rounded if rounded else rounded.copy_abs()

    return convert


def to_double(value: object) -> float:
    """``value::double precision``; a number too large or too small (but not zero) for a
    double is out of range, as in PostgreSQL."""
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        text = value.strip(temporal.SPACE)
        if _HEX_FLOAT_RE.fullmatch(value):
            result = float.fromhex(text)
        elif _NUMERIC_RE.fullmatch(value) is None and text.lower() not in _SPECIAL_NUMBERS:
            raise ValueError(f'invalid input syntax for type double precision: "{value}"')
        else:
            result = float(text)
    elif isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _refuse(value, "double precision")
    else:
        result = float(value)
    if math.isinf(result) and not (isinstance(value, str) and "inf" in value.lower()) or (
        result == 0.0 and _nonzero(value)
    ):
        raise ValueError(f'"{to_text(value)}" is out of range for type double precision')
    return result


def _nonzero(number: str | int | Decimal) -> bool:
    """Whether a number, or the digits of its text before any exponent, are not zero."""
    if not isinstance(number, str):
        return number != 0
    digits = number.lower().split("p" if "x" in number.lower() else "e")[0].replace("0x", "")
    return _NONZERO_DIGIT.search(digits) is not None


def _single(number: float) -> float:
    single: float = struct.unpack("f", struct.pack("f", number))[0]
    return single


def _out_of_real_range(value: object, problem: str) -> ValueError:
    """PostgreSQL's message: a double converted to real over- or underflows; text (and a
    numeric, read as text) is out of range."""
    if isinstance(value, float):
        return ValueError(f"value out of range: {problem}")
    return ValueError(f'"{to_text(value)}" is out of range for type real')


def _real(value: object) -> object:
    """``value::real``: rounded to single precision, then written with the fewest digits
    that read back as the same single (as PostgreSQL prints it and Debezium sends it)."""
    double = to_double(value)
    try:
        single = _single(double)
    except OverflowError:
        single = math.inf
    if math.isinf(single) and not math.isinf(double):
        raise _out_of_real_range(value, "overflow")
    if single == 0.0 and double != 0.0:
        raise _out_of_real_range(value, "underflow")
    if not math.isfinite(single):
        return single
    for digits in range(1, 10):
        shortest = float(f"{single:.{digits}g}")
        if _single(shortest) == single:
            return shortest
    return single


_TRUE_WORDS = ("true", "yes", "on", "1")
_FALSE_WORDS = ("false", "no", "off", "0")


def parse_boolean(text: str) -> bool:
    """Read a boolean the way PostgreSQL does: ``t``, ``true``, ``yes``, ``on``, ``1``...
    (any unambiguous prefix, any case, surrounding spaces allowed)."""
    word = _word(text)
    if word and len(word) >= (2 if word[0] == "o" else 1):
        if any(w.startswith(word) for w in _TRUE_WORDS):
            return True
        if any(w.startswith(word) for w in _FALSE_WORDS):
            return False
    raise ValueError(f'invalid input syntax for type boolean: "{text}"')


def _boolean(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        return parse_boolean(value)
    raise _refuse(value, "boolean")


def _date(value: object) -> object:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return temporal.parse_date(value)
    raise _refuse(value, "date")


def _timestamp(aware: bool, precision: int | None) -> Converter:
    def convert(value: object) -> object:
        if isinstance(value, str):
            moment = temporal.parse_timestamp(value, aware=aware)
        elif isinstance(value, datetime):
            moment = value if value.tzinfo is None else value.astimezone(UTC)
            moment = moment.replace(tzinfo=UTC if aware else None)
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day, tzinfo=UTC if aware else None)
        else:
            raise _refuse(value, "timestamp with time zone" if aware else "timestamp")
        return moment if precision is None else temporal.round_timestamp(moment, precision)

    return convert


def _time(value: object) -> object:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).time()
    if isinstance(value, time):
        return value.replace(tzinfo=None) if value.tzinfo is not None else value
    if isinstance(value, str):
        return temporal.parse_time(value)
    raise _refuse(value, "time")


def _interval(value: object) -> object:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return temporal.parse_interval(value)
    raise _refuse(value, "interval")


def parse_json(text: str) -> object:
    """Read JSON text, keeping decimals exact."""
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        raise ValueError(f"invalid input syntax for type json: {text[:40]!r}") from None


def _json(value: object) -> object:
    if isinstance(value, str):
        return parse_json(value)
    if isinstance(value, dict | list | bool | int | Decimal | float):
        return value
    raise _refuse(value, "json")


def _uuid(value: object) -> object:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value.strip(temporal.SPACE))
        except ValueError:
            raise ValueError(f'invalid input syntax for type uuid: "{value}"') from None
    raise _refuse(value, "uuid")


def _varchar(length: int | None) -> Converter:
    if length is None:
        return to_text
    return lambda value: to_text(value)[:length]


#: Cast target -> converter factory taking the type's parameters (``numeric(10,2)``).
_FACTORIES: dict[str, Callable[[tuple[int, ...]], Converter]] = {
    "text": lambda p: to_text,
    "varchar": lambda p: _varchar(p[0] if p else None),
    "smallint": lambda p: _integer("smallint"),
    "integer": lambda p: _integer("integer"),
    "bigint": lambda p: _integer("bigint"),
    "numeric": lambda p: _numeric(p[0] if p else None, p[1] if len(p) > 1 else 0),
    "double precision": lambda p: to_double,
    "real": lambda p: _real,
    "boolean": lambda p: _boolean,
    "date": lambda p: _date,
    "timestamp": lambda p: _timestamp(False, p[0] if p else None),
    "timestamptz": lambda p: _timestamp(True, p[0] if p else None),
    "time": lambda p: _time,
    "interval": lambda p: _interval,
    "json": lambda p: _json,
    "jsonb": lambda p: _json,
    "uuid": lambda p: _uuid,
}

#: Names of the types a value can be cast to.
CAST_TARGETS = tuple(_FACTORIES)


def converter(target: str, params: tuple[int, ...] = ()) -> Converter:
    """The function that casts a value to ``target`` (one of :data:`CAST_TARGETS`)."""
    return _FACTORIES[target](params)


# --- casts of JSON values ---------------------------------------------------------------------

_JSON_KINDS: dict[type, str] = {
    str: "string", bool: "boolean", int: "number", Decimal: "number", float: "number",
    dict: "object", list: "array",
}  # fmt: skip
#: What a JSON value must be to cast to these types (PostgreSQL's ``jsonb`` casts).
_JSON_SCALAR_TARGETS = {
    "smallint": "number", "integer": "number", "bigint": "number", "numeric": "number",
    "double precision": "number", "real": "number", "boolean": "boolean",
}  # fmt: skip


def json_converter(target: str, params: tuple[int, ...] = ()) -> Converter:
    """The cast to ``target`` of a JSON value (a ``->`` result, a ``::json``), which is not
    JSON text: ``::text`` writes it as JSON (a string keeps its quotes), ``::json`` keeps
    it, and a number or boolean type takes only a JSON number or boolean, as in PostgreSQL.
    Other types read a JSON string's text."""
    if target in ("json", "jsonb"):
        return _json_value
    if target == "text" or (target == "varchar" and not params):
        return json_text
    if target == "varchar":
        return lambda value: json_text(value)[: params[0]]
    convert = converter(target, params)
    kind = _JSON_SCALAR_TARGETS.get(target)
    if kind is None:
        return convert

    def checked(value: object) -> object:
        found = _JSON_KINDS.get(type(value), type_name(value))
        if found != kind:
            raise ValueError(f"cannot cast jsonb {found} to type {target}")
        return convert(value)

    return checked


def _json_value(value: object) -> object:
    return value


# --- implicit conversion of text -------------------------------------------------------------

_LIKE_CLASS: dict[type, Converter] = {
    int: lambda v: parse_integer(v),  # type: ignore[arg-type]
    Decimal: to_numeric,
    float: to_double,
    bool: _boolean,
    date: _date,
    datetime: _timestamp(False, None),
    time: _time,
    timedelta: _interval,
    UUID: _uuid,
    dict: _json,
    list: _json,
}
_AWARE = _timestamp(True, None)


def text_like(text: str, other: object) -> object:
    """Convert ``text`` to the type of ``other``, as PostgreSQL types a quoted literal
    by the value it meets (``after.amount > '100'`` compares numbers)."""
    if isinstance(other, datetime) and other.tzinfo is not None:
        return _AWARE(text)
    if isinstance(other, time) and other.tzinfo is not None:
        return temporal.parse_time(text, zoned=True)
    convert = _LIKE_CLASS.get(type(other))
    if convert is None:
        raise TypeError(f"cannot compare text with {type_name(other)}")
    return convert(text)


# --- one type for several branches -------------------------------------------------------------

_NUMBER_TYPES = ("integer", "numeric", "double precision")


def common_type(types: Sequence[str | None]) -> str | None:
    """The type PostgreSQL gives ``COALESCE``/``CASE``/``greatest`` over branches of these
    static types (NULL literals left out), when every one is known: the widest number type,
    or the one type they share."""
    if not types or any(t is None for t in types):
        return None
    if all(t in _NUMBER_TYPES for t in types):
        return max(types, key=_NUMBER_TYPES.index)
    return types[0] if len(set(types)) == 1 else None


def unified(fn: Evaluator, types: Sequence[str | None]) -> tuple[Evaluator, str | None]:
    """``fn`` returning the common type of its branches, and that type: ``COALESCE(1, 2.5)``
    is numeric in PostgreSQL, so its integer result becomes a Decimal."""
    common = common_type(types)
    if common not in ("numeric", "double precision") or len(set(types)) == 1:
        return fn, common
    to_common: Converter = to_numeric if common == "numeric" else to_double
    widen = {int} if common == "numeric" else {int, Decimal}

    def unify(change: EvalContext) -> object:
        value = fn(change)
        return to_common(value) if value.__class__ in widen else value

    return unify, common
