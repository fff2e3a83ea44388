"""Implementations of the built-in SQL functions, with PostgreSQL's results.

Each takes evaluated arguments (never UNKNOWN; never NULL for strict functions) and raises
``TypeError`` or ``ValueError`` with a message for the user.
"""

from __future__ import annotations

import hashlib
import math
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Context,
    Decimal,
)
from typing import Any

from cdc_facts.expressions import arithmetic, temporal
from cdc_facts.expressions.casts import DECIMALS, ROUNDING, output_text, plain_decimal, type_name
from cdc_facts.expressions.compare import compare

_APPROXIMATE = Context(prec=40, rounding=ROUND_HALF_UP)


def unavailable(*args: object) -> object:
    """Stands in for special forms, which are compiled rather than called."""
    raise TypeError("this function is compiled as a special form and cannot be called")


# --- argument checks -----------------------------------------------------------------------


def _text(value: object, function: str) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"{function}() needs text, not {type_name(value)}; cast it with ::text")


def _whole(value: object, function: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"{function}() needs an integer, not {type_name(value)} {value!r}")


def _number(value: object, function: str) -> int | Decimal | float:
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return value
    raise TypeError(f"{function}() needs a number, not {type_name(value)}")


# --- text ----------------------------------------------------------------------------------


def lower(value: object) -> str:
    return _text(value, "lower").lower()


def upper(value: object) -> str:
    return _text(value, "upper").upper()


def btrim(value: object, characters: object = " ") -> str:
    return _text(value, "btrim").strip(_text(characters, "btrim"))


def ltrim(value: object, characters: object = " ") -> str:
    return _text(value, "ltrim").lstrip(_text(characters, "ltrim"))


def rtrim(value: object, characters: object = " ") -> str:
    return _text(value, "rtrim").rstrip(_text(characters, "rtrim"))


def length(value: object) -> int:
    if isinstance(value, bytes):
        return len(value)
    return len(_text(value, "length"))


def substring(value: object, start: object, count: object = None) -> str:
    """1-based; positions before 1 count toward ``count`` as in PostgreSQL."""
    text, first = _text(value, "substring"), _whole(start, "substring")
    if count is None:
        return text[max(first, 1) - 1 :]
    size = _whole(count, "substring")
    if size < 0:
        raise ValueError("negative substring length not allowed")
    end = first + size
    return text[max(first, 1) - 1 : max(end - 1, 0)]


def replace(value: object, old: object, new: object) -> str:
    text, target = _text(value, "replace"), _text(old, "replace")
    return text.replace(target, _text(new, "replace")) if target else text


def strpos(value: object, part: object) -> int:
    return _text(value, "strpos").find(_text(part, "strpos")) + 1


def left(value: object, count: object) -> str:
    return _text(value, "left")[: _whole(count, "left")]


def right(value: object, count: object) -> str:
    text, n = _text(value, "right"), _whole(count, "right")
    if n >= 0:
        return text[max(len(text) - n, 0) :] if n else ""
    return text[-n:]


def md5(value: object) -> str:
    data = _text(value, "md5").encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def split_part(value: object, delimiter: object, index: object) -> str:
    text, sep = _text(value, "split_part"), _text(delimiter, "split_part")
    n = _whole(index, "split_part")
    if n == 0:
        raise ValueError("field position must not be zero")
    fields = text.split(sep) if sep else [text]
    position = n - 1 if n > 0 else len(fields) + n
    return fields[position] if 0 <= position < len(fields) else ""


def starts_with(value: object, prefix: object) -> bool:
    return _text(value, "starts_with").startswith(_text(prefix, "starts_with"))


def reverse(value: object) -> str:
    return _text(value, "reverse")[::-1]


def repeat(value: object, count: object) -> str:
    return _text(value, "repeat") * max(_whole(count, "repeat"), 0)


def concat(*values: object) -> str:
    """Joins the text of every non-NULL argument (booleans print as ``t``/``f``)."""
    return "".join(output_text(v) for v in values if v is not None)


def concat_ws(separator: object, *values: object) -> str | None:
    if separator is None:
        return None
    joined = (output_text(v) for v in values if v is not None)
    return _text(separator, "concat_ws").join(joined)


# --- numbers -------------------------------------------------------------------------------


def _rounded(value: object, places: object, rounding: str, function: str) -> object:
    number = _number(value, function)
    if places is None:
        if isinstance(number, Decimal):
            return plain_decimal(number.to_integral_value(rounding=rounding, context=ROUNDING))
        return float(round(number) if rounding == ROUND_HALF_UP else math.trunc(number))
    if isinstance(number, float):
        raise TypeError(f"{function}(double precision, integer) does not exist; "
                        f"cast the first argument to numeric")
    digits = _whole(places, function)
    result = Decimal(number).quantize(Decimal(1).scaleb(-digits), rounding, ROUNDING)
    return plain_decimal(result)


def round_(value: object, places: object = None) -> object:
    """``round(x)`` / ``round(x, n)``: half away from zero on numeric, half even on double."""
    return _rounded(value, places, ROUND_HALF_UP, "round")


def trunc(value: object, places: object = None) -> object:
    return _rounded(value, places, ROUND_DOWN, "trunc")


def abs_(value: object) -> object:
    number = _number(value, "abs")
    return DECIMALS.abs(number) if isinstance(number, Decimal) else abs(number)


def floor(value: object) -> object:
    number = _number(value, "floor")
    if isinstance(number, Decimal):
        return plain_decimal(number.to_integral_value(rounding=ROUND_FLOOR, context=ROUNDING))
    return float(math.floor(number))


def ceil(value: object) -> object:
    number = _number(value, "ceil")
    if isinstance(number, Decimal):
        return plain_decimal(number.to_integral_value(rounding=ROUND_CEILING, context=ROUNDING))
    return float(math.ceil(number))


def sign(value: object) -> object:
    """-1, 0 or 1: numeric for a numeric, else double precision (PostgreSQL has no
    ``sign(integer)``, so an integer is taken as a double)."""
    number = _number(value, "sign")
    result = (number > 0) - (number < 0)
    return Decimal(result) if isinstance(number, Decimal) else float(result)


def mod(dividend: object, divisor: object) -> object:
    return arithmetic.modulo(_number(dividend, "mod"), _number(divisor, "mod"))


def power(base: object, exponent: object) -> object:
    """Double precision unless an argument is numeric. Numeric results with a whole
    exponent have PostgreSQL's exact digits; others are rounded to 40 significant digits."""
    a: Any = _number(base, "power")
    b: Any = _number(exponent, "power")
    if a == 0 and b < 0:
        raise ValueError("zero raised to a negative power is undefined")
    if a < 0 and b != int(b):
        raise ValueError("a negative number raised to a non-integer power yields a complex result")
    if not isinstance(a, Decimal) and not isinstance(b, Decimal):
        return math.pow(a, b)
    if b == int(b) and abs(b) <= 2**31 - 1:
        return arithmetic.numeric_power(Decimal(a), int(b))
    return _APPROXIMATE.power(Decimal(a), Decimal(b))


def _sqrt_scale(value: Decimal) -> int:
    """PostgreSQL's result scale for ``sqrt(numeric)`` (``sqrt_var`` in numeric.c)."""
    weight = value.adjusted() // 4 if value else 0
    scale = 16 - ((weight + 1) * 4 // 2 - 1)
    exponent = value.as_tuple().exponent
    display = max(0, -exponent) if isinstance(exponent, int) else 0
    return min(max(scale, display, 0), 1000)


def sqrt(value: object) -> object:
    number = _number(value, "sqrt")
    if number < 0:
        raise ValueError("cannot take square root of a negative number")
    if not isinstance(number, Decimal):
        return math.sqrt(number)
    scale = _sqrt_scale(number)
    context = Context(prec=scale + max(number.adjusted(), 0) + 10, rounding=ROUND_HALF_UP)
    return ROUNDING.quantize(context.sqrt(number), Decimal(1).scaleb(-scale))


def _extreme(values: tuple[object, ...], symbol: str) -> object:
    best: object = None
    for value in values:
        if value is not None and (best is None or compare(symbol, value, best) is True):
            best = value
    return best


def greatest(*values: object) -> object:
    """The largest non-NULL argument; NULL if all are NULL."""
    return _extreme(values, ">")


def least(*values: object) -> object:
    """The smallest non-NULL argument; NULL if all are NULL."""
    return _extreme(values, "<")


# --- dates and times ---------------------------------------------------------------------

date_trunc = temporal.date_trunc
date_part = temporal.date_part
extract = temporal.extract
to_timestamp = temporal.to_timestamp
timezone = temporal.at_time_zone
