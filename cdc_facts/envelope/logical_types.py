"""Logical types: Debezium's and Kafka Connect's encodings of decimals, times, UUIDs and
JSON, and the exact Python values they decode to."""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any, Final, TypeAlias
from uuid import UUID

#: A compiled decoder for one field's JSON value.
Decoder: TypeAlias = Callable[[Any], object]

_EPOCH: Final = datetime(1970, 1, 1)  # noqa: DTZ001 - naive on purpose
_EPOCH_ORDINAL: Final = 719163  # date(1970, 1, 1).toordinal()
_DAY_US: Final = 86_400_000_000


def _base64(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        raise ValueError(f"not valid base64: {exc}") from exc


#: Scaling by a power of ten in this context never rounds.
_EXACT: Final = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_a2b_base64: Final = binascii.a2b_base64


def _decimal_decoder(schema: dict[str, Any]) -> Decoder:
    exponent = -int((schema.get("parameters") or {}).get("scale", 0))

    def decode_decimal(value: str | float) -> Decimal:
        if value.__class__ is str:
            try:
                raw = _a2b_base64(value, strict_mode=True)
            except binascii.Error:
                raw = _base64(value)  # raises, naming the problem
            return Decimal(int.from_bytes(raw, "big", signed=True)).scaleb(exponent, _EXACT)
        return _decimal(value, -exponent)

    return decode_decimal


def _decimal(value: str | float, scale: int) -> Decimal:
    """Base64 of the big-endian two's-complement unscaled value (or a JSON number)."""
    if value.__class__ is str:
        unscaled = int.from_bytes(_base64(value), "big", signed=True)
        return Decimal(unscaled).scaleb(-scale, _EXACT)
    if value.__class__ is bool or not isinstance(value, int | float):
        raise TypeError(f"a decimal is base64 text or a JSON number, not {type(value).__name__}")
    number = Decimal(repr(value)) if value.__class__ is float else Decimal(value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -scale:
        number = number.quantize(Decimal(f"1e{-scale}"))
    return number


def _variable_scale_decimal(value: dict[str, Any]) -> Decimal:
    return _decimal(value["value"], int(value["scale"]))


def _date(days: int) -> date:
    if days in _INFINITE_DATES:
        return _INFINITE_DATES[days]
    try:
        return date.fromordinal(_EPOCH_ORDINAL + days)
    except (ValueError, OverflowError):
        return date.max if days > 0 else date.min


#: PostgreSQL's ``infinity`` and ``-infinity`` dates, as Debezium writes them (their day
#: numbers since 2000 overflow to these values when shifted to the epoch).
_INFINITE_DATES: Final = {-2147472692: date.max, -2147472691: date.min}


def _timestamp(unit_us: int, divisor: int = 1) -> Decoder:
    def decode_timestamp(value: int) -> datetime:
        try:
            return _EPOCH + timedelta(0, 0, value * unit_us // divisor)
        except OverflowError:
            return datetime.max if value > 0 else datetime.min

    def decode_micro_timestamp(value: int) -> datetime:
        try:
            return _EPOCH + timedelta(0, 0, value)
        except OverflowError:
            return datetime.max if value > 0 else datetime.min

    return decode_micro_timestamp if unit_us == divisor == 1 else decode_timestamp


def _zoned_timestamp(text: str) -> datetime:
    if text.__class__ is str:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            if text in _INFINITE_TIMESTAMPS:  # PostgreSQL's infinity and -infinity
                return _INFINITE_TIMESTAMPS[text]
            raise
    elif text in _INFINITE_TIMESTAMPS:
        return _INFINITE_TIMESTAMPS[text]
    else:
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_INFINITE_TIMESTAMPS: Final = {
    "infinity": datetime.max.replace(tzinfo=UTC),
    "-infinity": datetime.min.replace(tzinfo=UTC),
}


def _time(unit_us: int, divisor: int = 1) -> Decoder:
    def decode(value: int) -> time | timedelta:
        us = value * unit_us // divisor
        if 0 <= us < _DAY_US:
            seconds, micro = divmod(us, 1_000_000)
            return time(seconds // 3600, seconds // 60 % 60, seconds % 60, micro)
        if us == _DAY_US:
            return time.max  # PostgreSQL's 24:00:00
        return timedelta(0, 0, us)  # MySQL TIME is a duration: -838:59:59..838:59:59

    return decode


def _zoned_time(text: str) -> time:
    if text.startswith("24:00:00"):
        return time.max.replace(tzinfo=UTC)
    moment = time.fromisoformat(text)
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    shifted = datetime.combine(date(2000, 1, 3), moment).astimezone(UTC)
    return shifted.timetz()


def _json(text: str) -> object:
    """JSON text with exact numbers: decimals as :class:`~decimal.Decimal` and integers of
    any size, as a JSON column reads without schemas (``12.30`` stays ``12.30``)."""
    return json.loads(text, parse_float=Decimal)


def _float(value: float | str) -> float:
    """Jackson writes NaN and the infinities as the strings "NaN", "Infinity", "-Infinity"."""
    return float(value) if value.__class__ is str else value  # type: ignore[return-value]


def _const(decoder: Decoder) -> Callable[[dict[str, Any]], Decoder]:
    return lambda _schema: decoder


_LOGICAL_TYPES: Final[dict[str, Callable[[dict[str, Any]], Decoder]]] = {
    "org.apache.kafka.connect.data.Decimal": _decimal_decoder,
    "io.debezium.data.VariableScaleDecimal": _const(_variable_scale_decimal),
    "org.apache.kafka.connect.data.Date": _const(_date),
    "io.debezium.time.Date": _const(_date),
    "org.apache.kafka.connect.data.Timestamp": _const(_timestamp(1000)),
    "io.debezium.time.Timestamp": _const(_timestamp(1000)),
    "io.debezium.time.MicroTimestamp": _const(_timestamp(1)),
    "io.debezium.time.NanoTimestamp": _const(_timestamp(1, 1000)),
    "io.debezium.time.ZonedTimestamp": _const(_zoned_timestamp),
    "org.apache.kafka.connect.data.Time": _const(_time(1000)),
    "io.debezium.time.Time": _const(_time(1000)),
    "io.debezium.time.MicroTime": _const(_time(1)),
    "io.debezium.time.NanoTime": _const(_time(1, 1000)),
    "io.debezium.time.ZonedTime": _const(_zoned_time),
    "io.debezium.time.MicroDuration": _const(lambda us: timedelta(0, 0, us)),
    "io.debezium.time.NanoDuration": _const(lambda ns: timedelta(0, 0, ns // 1000)),
    "io.debezium.data.Json": _const(_json),
    "io.debezium.data.Uuid": _const(UUID),
}

_PRIMITIVES: Final[dict[str | None, Decoder]] = {
    "bytes": _base64,
    "float": _float,
    "double": _float,
}
