"""The JSON form of every value a fact may hold, and the JSON writer facts are encoded with.

Decimals become strings with their exact digits, times UTC RFC 3339, bytes base64,
durations ISO 8601; :data:`~cdc_facts.types.UNKNOWN`, NaN and the infinities have no JSON
form. orjson writes the documents when it is installed, the standard library otherwise.

>>> from decimal import Decimal
>>> encode_mapping({"total": Decimal("12.30"), "n": 1})
{'total': '12.30', 'n': 1}
"""

from __future__ import annotations

import binascii
import importlib
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Final
from uuid import UUID

from cdc_facts.types import JSON, UNKNOWN


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with ``Z``; microseconds only when not zero; naive means UTC.

    >>> from datetime import timezone, timedelta
    >>> rfc3339(datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    '2024-05-01T10:00:00Z'
    >>> rfc3339(datetime(2024, 5, 1, 10, 0, 0, 120000))
    '2024-05-01T10:00:00.120000Z'
    """
    zone = moment.tzinfo
    if zone is None:
        return moment.isoformat() + "Z"
    if zone is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:-6] + "Z"



class EncodeError(ValueError):
    """A data value has no JSON form; ``path`` names it, outermost first."""

    def __init__(self, path: str, reason: str, *, unknown: bool = False) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason
        self.unknown = unknown


def _encode(value: object) -> JSON:
    cls = value.__class__
    if cls is str or cls is int or cls is bool or value is None:
        return value  # type: ignore[return-value]
    encoder = _ENCODERS.get(cls)
    if encoder is None:
        encoder = _ENCODERS[cls] = _encoder_for(value)
    return encoder(value)


def encode_mapping(mapping: Mapping[Any, object]) -> dict[str, JSON]:
    """The JSON form of a mapping with string keys.

    Raises:
        EncodeError: a key is not a string or a value has no JSON form.
    """
    encoded: dict[str, JSON] = {}
    for key, value in mapping.items():
        if key.__class__ is not str:
            raise EncodeError(repr(key), f"keys must be strings, not {type(key).__name__}")
        cls = value.__class__
        if cls is str or cls is int or cls is bool or value is None:
            encoded[key] = value  # type: ignore[assignment]
            continue
        try:
            encoded[key] = _encode(value)
        except EncodeError as exc:
            raise EncodeError(f"{key}.{exc.path}", exc.reason, unknown=exc.unknown) from exc
        except (ValueError, TypeError, OverflowError) as exc:
            raise EncodeError(key, str(exc), unknown=value is UNKNOWN) from exc
    return encoded


def _encode_sequence(values: list[object] | tuple[object, ...]) -> list[JSON]:
    encoded: list[JSON] = []
    for index, value in enumerate(values):
        try:
            encoded.append(_encode(value))
        except EncodeError as exc:
            raise EncodeError(f"{index}.{exc.path}", exc.reason, unknown=exc.unknown) from exc
        except (ValueError, TypeError, OverflowError) as exc:
            raise EncodeError(str(index), str(exc), unknown=value is UNKNOWN) from exc
    return encoded


def _float(value: float) -> float:
    if math.isfinite(value):
        return value
    raise ValueError(f"{value} has no JSON form")


def _decimal(value: Decimal) -> str:
    """Exact digits, in fixed notation unless the exponent is extreme (beyond +-100)."""
    if not value.is_finite():
        raise ValueError(f"decimal {value} has no JSON form")
    text = str(value)
    if "E" in text and -100 <= value.adjusted() <= 100:
        return format(value, "f")
    return text


def _time(value: time) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _duration(value: timedelta) -> str:
    """ISO 8601 duration: ``P1DT2H3M4.5S``; negative durations get a leading ``-``."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours}H" if hours else ""
    clock += f"{minutes}M" if minutes else ""
    if value.microseconds:
        clock += f"{seconds}.{value.microseconds:06d}".rstrip("0") + "S"
    elif seconds:
        clock += f"{seconds}S"
    days = f"{value.days}D" if value.days else ""
    if not clock and not days:
        clock = "0S"
    return f"{sign}P{days}" + (f"T{clock}" if clock else "")


def _bytes(value: bytes | bytearray | memoryview) -> str:
    return binascii.b2a_base64(value, newline=False).decode()


def _unknown(_value: object) -> JSON:
    raise ValueError("unknown")  # the container names it and marks it unknown


_ENCODERS: dict[type, Callable[[Any], JSON]] = {
    float: _float,
    Decimal: _decimal,
    datetime: rfc3339,
    date: date.isoformat,
    time: _time,
    timedelta: _duration,
    UUID: str,
    bytes: _bytes,
    bytearray: _bytes,
    memoryview: _bytes,
    dict: encode_mapping,
    list: _encode_sequence,
    tuple: _encode_sequence,
    type(UNKNOWN): _unknown,
}

#: Subclasses (a StrEnum, a zoneinfo-aware datetime subclass...) take the first match.
_BASES: Final[tuple[tuple[type, Callable[[Any], JSON]], ...]] = (
    (bool, bool),
    (str, str),
    (int, int),
    (float, lambda v: _float(float(v))),
    (datetime, rfc3339),
    (date, date.isoformat),
    (time, _time),
    (timedelta, _duration),
    (Decimal, _decimal),
    (UUID, str),
    (Mapping, encode_mapping),
    (list, _encode_sequence),
    (tuple, _encode_sequence),
    (bytes, _bytes),
    (bytearray, _bytes),
    (memoryview, _bytes),
)


def _encoder_for(value: object) -> Callable[[Any], JSON]:
    for base, encoder in _BASES:
        if isinstance(value, base):
            return encoder
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def _orjson() -> Any:
    """The orjson module when it is installed (several times faster), else None."""
    try:
        return importlib.import_module("orjson")
    except ModuleNotFoundError:
        return None


def _fast_dumps(orjson: Any) -> Callable[[JSON], bytes]:
    """orjson's ``dumps`` when it is installed, else the stdlib's."""
    if orjson is None:
        return std_dumps
    fast = orjson.dumps
    too_big = orjson.JSONEncodeError

    def dumps(document: JSON) -> bytes:
        try:
            return fast(document)  # type: ignore[no-any-return]
        except too_big:  # an integer beyond 64 bits
            return std_dumps(document)

    return dumps


def std_dumps(document: JSON) -> bytes:
    """The standard library's compact JSON of ``document``, as UTF-8; NaN refused."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _utc_dumps(orjson: Any) -> Callable[[dict[str, object]], bytes] | None:
    """orjson's ``dumps`` writing UTC datetimes with ``Z`` and decimals as
    :func:`encode_data` does; None without orjson."""
    if orjson is None:
        return None
    return partial(orjson.dumps, default=_fast_default, option=orjson.OPT_UTC_Z)


def _fast_default(value: object) -> str:
    """A ``Decimal`` as :func:`encode_data` writes it, for orjson; anything else fails (the
    caller then takes the general path, which names the problem)."""
    if value.__class__ is Decimal:
        return _decimal(value)
    raise TypeError(f"a {type(value).__name__} is written by the general path")


_ORJSON: Final = _orjson()
#: A JSON document as compact UTF-8 bytes, NaN refused (orjson, or the standard library).
dumps: Final = _fast_dumps(_ORJSON)
#: orjson's ``dumps`` for documents whose datetimes are in UTC and whose decimals are
#: finite (written as :func:`encode_mapping` writes them); None without orjson. It raises
#: :data:`DUMPS_UTC_ERRORS` for anything else it cannot write (an integer beyond 64 bits).
dumps_utc: Final = _utc_dumps(_ORJSON)
DUMPS_UTC_ERRORS: Final[type[Exception]] = TypeError  # orjson's JSONEncodeError is one
