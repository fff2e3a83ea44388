"""Dates, timestamps and intervals the way PostgreSQL reads, prints and computes them.

Timestamps with a time zone are aware :class:`datetime.datetime` values in UTC (the session
time zone of cdc-facts is always UTC); timestamps without one are naive. Intervals are
:class:`datetime.timedelta`, so they have no month or year parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OFFSET_RE = re.compile(r"[+-]?[0-9]{1,2}(:?[0-9]{2})?")
_PG_EPOCH = datetime(2000, 1, 1)
_MICROS_PER_DAY = 86_400_000_000

# --- reading text ------------------------------------------------------------------------

#: The white space PostgreSQL skips around a value: ASCII only, as C's ``isspace``.
SPACE = " \t\n\r\v\f"

_DATE_RE = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T](?P<clock>.+))?|([0-9]{4})([0-9]{2})([0-9]{2})"
)


def parse_date(text: str) -> date:
    """Read a date as PostgreSQL does for ISO input (``2024-01-31``, ``20240131``).

    A valid time of day after the date is ignored, as PostgreSQL ignores it; anything else
    after it is an error.
    """
    match = _DATE_RE.fullmatch(text.strip(SPACE))
    if match is None or (match["clock"] is not None and not _is_clock(match["clock"])):
        raise ValueError(f'invalid input syntax for type date: "{text}"')
    groups = match.groups()
    year, month, day = (int(g) for g in (groups[:3] if groups[0] is not None else groups[4:]))
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f'date/time field value out of range: "{text}"') from None


def _is_clock(text: str) -> bool:
    """Whether ``text`` is a time of day, with or without a UTC offset."""
    try:
        time.fromisoformat(text.strip(SPACE))
    except ValueError:
        return False
    return True


def parse_timestamp(text: str, *, aware: bool) -> datetime:
    """Read an ISO 8601 timestamp into a naive (``aware=False``) or UTC-aware datetime.

    Like PostgreSQL, a ``timestamp`` ignores an offset in its input, while a ``timestamptz``
    converts to UTC and takes input without an offset to be UTC already.
    """
    try:
        value = datetime.fromisoformat(text.strip(SPACE))
    except ValueError:
        kind = "timestamp with time zone" if aware else "timestamp"
        raise ValueError(f'invalid input syntax for type {kind}: "{text}"') from None
    if not aware:
        return value.replace(tzinfo=None)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_time(text: str, *, zoned: bool = False) -> time:
    """Read a time of day (``10:30``, ``10:30:00.5``).

    Like PostgreSQL's ``time``, it ignores a UTC offset in its input (``10:30+02`` is
    ``10:30``); a ``time with time zone`` (``zoned``) keeps it, and takes a time without
    one to be in UTC.
    """
    try:
        value = time.fromisoformat(text.strip(SPACE))
    except ValueError:
        kind = "time with time zone" if zoned else "time"
        raise ValueError(f'invalid input syntax for type {kind}: "{text}"') from None
    if not zoned:
        return value.replace(tzinfo=None)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


#: Units of an interval's time field, in microseconds.
_TIME_UNITS = {
    "microsecond": 1, "us": 1, "usec": 1,
    "millisecond": 1_000, "ms": 1_000, "msec": 1_000,
    "second": 1_000_000, "s": 1_000_000, "sec": 1_000_000,
    "minute": 60_000_000, "m": 60_000_000, "min": 60_000_000,
    "hour": 3_600_000_000, "h": 3_600_000_000, "hr": 3_600_000_000,
}  # fmt: skip
#: Units of an interval's day field, in days.
_DAY_UNITS = {"day": 1, "d": 1, "week": 7, "w": 7}
_CALENDAR_UNITS = {"month", "mon", "year", "y", "yr", "decade", "century", "centuries",
                   "millennium", "millennia"}  # fmt: skip
_INTERVAL_TOKEN = re.compile(
    r"[ \t\n\r\v\f]*(?:(?P<clock>[+-]?[0-9]+:[0-9]{1,2}(?::[0-9]{1,2}(?:\.[0-9]+)?)?)"
    r"|(?P<num>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))[ \t\n\r\v\f]*(?P<unit>[a-z]*))"
)


def parse_interval(text: str) -> timedelta:
    """Read an interval such as ``1 day 2 hours``, ``90 minutes`` or ``1 day 01:30:00``.

    Months and years have no fixed length, so they are refused.
    """
    days, micros = interval_fields(text)
    return timedelta(days=days, microseconds=micros)


def interval_fields(text: str) -> tuple[int, int]:
    """The day and time fields PostgreSQL gives an interval written as text, the time in
    microseconds: ``36 hours`` is ``(0, 129600000000)``, ``1.5 days`` is ``(1, 43200000000)``.
    """
    source = text.strip(SPACE).lower()
    if not source:
        raise ValueError('invalid input syntax for type interval: ""')
    days = micros = pos = 0
    while pos < len(source):
        match = _INTERVAL_TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise ValueError(f'invalid input syntax for type interval: "{text}"')
        token_days, token_micros = _interval_token(match, text)
        days, micros, pos = days + token_days, micros + token_micros, match.end()
    return days, micros


def _interval_token(match: re.Match[str], text: str) -> tuple[int, int]:
    if match["clock"]:
        return 0, _clock_micros(match["clock"])
    unit = _unit(match["unit"] or "second")
    if unit in _CALENDAR_UNITS or unit.startswith("mon"):
        raise ValueError(
            f'interval "{text}" uses months or years, which have no fixed length; '
            "write it in days, hours, minutes or seconds"
        )
    amount = Decimal(match["num"])
    if unit in _DAY_UNITS:  # a fraction of a day goes to the time field, as in PostgreSQL
        amount *= _DAY_UNITS[unit]
        whole = int(amount)
        return whole, round((amount - whole) * _MICROS_PER_DAY)
    if unit not in _TIME_UNITS:
        raise ValueError(f'invalid input syntax for type interval: "{text}"')
    return 0, round(amount * _TIME_UNITS[unit])


def _unit(word: str) -> str:
    """An interval unit as its key in the tables: ``hours`` is ``hour``. A unit is looked
    up as written before a plural ``s`` is dropped, so that ``ms`` stays milliseconds."""
    if word in _TIME_UNITS or word in _DAY_UNITS or word in _CALENDAR_UNITS:
        return word
    return word[:-1] if word.endswith("s") else word


def _clock_micros(clock: str) -> int:
    sign = -1 if clock.startswith("-") else 1
    fields = clock.lstrip("+-").split(":")
    seconds = Decimal(fields[2]) if len(fields) > 2 else Decimal(0)
    total = (int(fields[0]) * 3600 + int(fields[1]) * 60) * 1_000_000 + round(seconds * 1_000_000)
    return sign * total


# --- printing ----------------------------------------------------------------------------


def _fraction(microsecond: int) -> str:
    return f".{microsecond:06d}".rstrip("0") if microsecond else ""


def time_text(value: time) -> str:
    """``HH:MM:SS`` plus the fraction without trailing zeros, as PostgreSQL prints it."""
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{_fraction(value.microsecond)}"


def timestamp_text(value: datetime) -> str:
    """PostgreSQL's text for a timestamp; aware values print in UTC with ``+00``."""
    suffix = ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
        suffix = "+00"
    day = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    return f"{day} {time_text(value.time())}{suffix}"


def interval_text(value: timedelta) -> str:
    """PostgreSQL's text for an interval (``1 day 02:00:00``, ``-01:30:00``)."""
    total = value // timedelta(microseconds=1)
    sign = "-" if total < 0 else ""
    days, micros = divmod(abs(total), _MICROS_PER_DAY)
    seconds, micro = divmod(micros, 1_000_000)
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{_fraction(micro)}"
    parts = []
    if days:
        parts.append(f"{sign}{days} {'day' if days == 1 and not sign else 'days'}")
    if micros or not days:
        parts.append(f"{sign}{clock}")
    return " ".join(parts)


# --- functions ---------------------------------------------------------------------------


def round_timestamp(value: datetime, precision: int) -> datetime:
    """Round to ``precision`` fractional digits, half away from zero, like ``timestamp(p)``."""
    if precision >= 6:
        return value
    scale = 10 ** (6 - precision)
    naive = value.replace(tzinfo=None)
    micros = (naive - _PG_EPOCH) // timedelta(microseconds=1)
    magnitude = (abs(micros) + scale // 2) // scale * scale
    rounded = _PG_EPOCH + timedelta(microseconds=magnitude if micros >= 0 else -magnitude)
    return rounded.replace(tzinfo=value.tzinfo)


def to_timestamp(seconds: object) -> datetime:
    """``to_timestamp(epoch_seconds)``: a UTC timestamp with time zone."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | Decimal):
        raise TypeError("to_timestamp() needs a number of seconds since 1970-01-01 UTC")
    try:
        return datetime.fromtimestamp(float(seconds), UTC)
    except (OverflowError, ValueError, OSError):
        raise ValueError(f"timestamp out of range: {seconds}") from None


def _as_datetime(value: object, function: str) -> datetime:
    if isinstance(value, datetime):
        zone = value.tzinfo
        return value if zone is None or zone is UTC else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"{function}() needs a timestamp or a date")


def _ymd(value: date) -> tuple[int, int, int]:
    return (value.year, value.month, value.day)


def _year_start(year: int) -> tuple[int, int, int]:
    return (year, 1, 1)


_TRUNC_DATE_FIELDS: dict[str, Callable[[datetime], tuple[int, int, int]]] = {
    "week": lambda d: _ymd(d - timedelta(days=d.weekday())),
    "month": lambda d: (d.year, d.month, 1),
    "quarter": lambda d: (d.year, (d.month - 1) // 3 * 3 + 1, 1),
    "year": lambda d: _year_start(d.year),
    "decade": lambda d: _year_start(d.year // 10 * 10),
    "century": lambda d: _year_start((d.year - 1) // 100 * 100 + 1),
    "millennium": lambda d: _year_start((d.year - 1) // 1000 * 1000 + 1),
}
_TRUNC_TIME_FIELDS: dict[str, Callable[[datetime], datetime]] = {
    "day": lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0),
    "microseconds": lambda t: t,
    "milliseconds": lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000),
    "second": lambda t: t.replace(microsecond=0),
    "minute": lambda t: t.replace(second=0, microsecond=0),
    "hour": lambda t: t.replace(minute=0, second=0, microsecond=0),
}
_FIELD_ALIASES = {"microsecond": "microseconds", "millisecond": "milliseconds",
                  "seconds": "second", "minutes": "minute", "hours": "hour", "days": "day",
                  "weeks": "week", "months": "month", "years": "year"}  # fmt: skip


def date_trunc(field: object, value: object) -> datetime:
    """``date_trunc(field, ts)``; a date is first taken as midnight UTC, like PostgreSQL."""
    if not isinstance(field, str):
        raise TypeError("date_trunc() needs a field name such as 'day' as first argument")
    name = _FIELD_ALIASES.get(field.lower(), field.lower())
    moment = _as_datetime(value, "date_trunc")
    if name in _TRUNC_TIME_FIELDS:
        return _TRUNC_TIME_FIELDS[name](moment)
    if name in _TRUNC_DATE_FIELDS:
        year, month, day = _TRUNC_DATE_FIELDS[name](moment)
        return datetime(year, month, day, tzinfo=moment.tzinfo)
    raise ValueError(trunc_field_problem(field) or f'unit "{field}" not recognized')


def trunc_field_problem(field: str) -> str | None:
    """Why ``field`` is not a ``date_trunc`` field, or None if it is one."""
    name = _FIELD_ALIASES.get(field.lower(), field.lower())
    if name in _TRUNC_TIME_FIELDS or name in _TRUNC_DATE_FIELDS:
        return None
    known = ", ".join(sorted([*_TRUNC_TIME_FIELDS, *_TRUNC_DATE_FIELDS]))
    return f'unit "{field}" not recognized by date_trunc(); use one of {known}'


def extract_field_problem(field: str) -> str | None:
    """Why ``field`` is not an ``EXTRACT``/``date_part`` field, or None if it is one."""
    name = _FIELD_ALIASES.get(field.lower(), field.lower())
    if name == "epoch" or name in _DATE_PARTS or name in _TIME_PARTS:
        return None
    known = ", ".join(sorted(["epoch", *_DATE_PARTS, *_TIME_PARTS]))
    return f'unit "{field}" not recognized by extract(); use one of {known}'



def _seconds(value: time | datetime, scale: int) -> Decimal:
    micros = value.second * 1_000_000 + value.microsecond
    return Decimal(micros).scaleb(-scale)


def _epoch(value: date | time) -> object:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return Decimal((moment - _EPOCH) // timedelta(microseconds=1)).scaleb(-6)
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days * 86400
    return Decimal((value.hour * 3600 + value.minute * 60) * 10**6).scaleb(-6) + _seconds(value, 6)


_DATE_PARTS: dict[str, Callable[[date], object]] = {
    "year": lambda d: d.year,
    "month": lambda d: d.month,
    "day": lambda d: d.day,
    "dow": lambda d: d.isoweekday() % 7,
    "isodow": lambda d: d.isoweekday(),
    "doy": lambda d: d.timetuple().tm_yday,
    "week": lambda d: d.isocalendar()[1],
    "isoyear": lambda d: d.isocalendar()[0],
    "quarter": lambda d: (d.month - 1) // 3 + 1,
    "decade": lambda d: d.year // 10,
    "century": lambda d: (d.year - 1) // 100 + 1,
    "millennium": lambda d: (d.year - 1) // 1000 + 1,
}
_TIME_PARTS: dict[str, Callable[[Any], object]] = {
    "hour": lambda t: t.hour,
    "minute": lambda t: t.minute,
    "second": lambda t: _seconds(t, 6),
    "milliseconds": lambda t: _seconds(t, 3),
    "microseconds": lambda t: t.second * 1_000_000 + t.microsecond,
}


def extract(field: object, value: object) -> Decimal:
    """``EXTRACT(field FROM value)``: a numeric, as in PostgreSQL 14 and later (``2024``;
    ``1.500000`` for seconds)."""
    part = _part(field, value)
    return part if isinstance(part, Decimal) else Decimal(part)  # type: ignore[arg-type]


def _part(field: object, value: object) -> object:
    if not isinstance(field, str):
        raise TypeError("extract() needs a field name such as 'year'")
    name = _FIELD_ALIASES.get(field.lower(), field.lower())
    if isinstance(value, timedelta):
        return _interval_part(name, value)
    if not isinstance(value, date | time):
        raise TypeError("extract() needs a timestamp, date, time or interval")
    if name == "epoch":
        return _epoch(value)
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo is not None else value
    if name in _DATE_PARTS and isinstance(value, date):
        return _DATE_PARTS[name](value)
    if name in _TIME_PARTS and isinstance(value, datetime | time):
        return _TIME_PARTS[name](value)
    kind = type(value).__name__
    raise ValueError(f'unit "{field}" not supported for a {kind} value')


def _interval_part(name: str, value: timedelta) -> object:
    """A field of a :class:`timedelta`: whole days in the day field, the rest (under a
    day, with the same sign) in the time field, as PostgreSQL's ``justify_hours`` has it."""
    micros = value // timedelta(microseconds=1)
    sign = -1 if micros < 0 else 1
    days, rest = divmod(abs(micros), _MICROS_PER_DAY)
    return _fields_part(name, sign * days, sign * rest)


def _toward_zero(micros: int, unit: int) -> tuple[int, int]:
    """``divmod`` rounding toward zero, as C does: the remainder has the sign of ``micros``."""
    quotient = abs(micros) // unit * (-1 if micros < 0 else 1)
    return quotient, micros - quotient * unit


def _fields_part(name: str, days: int, micros: int) -> object:
    """A field of the interval with day field ``days`` and time field ``micros``."""
    hours, rest = _toward_zero(micros, 3_600_000_000)
    minutes, seconds = _toward_zero(rest, 60_000_000)
    parts: dict[str, object] = {
        "epoch": Decimal(days * _MICROS_PER_DAY + micros).scaleb(-6),
        "day": days,
        "hour": hours,
        "minute": minutes,
        "second": Decimal(seconds).scaleb(-6),
        "milliseconds": Decimal(seconds).scaleb(-3),
        "microseconds": seconds,
    }
    if name not in parts:
        raise ValueError(f'unit "{name}" not supported for an interval value')
    return parts[name]


def extract_written(field: str, interval: str) -> Decimal:
    """``EXTRACT(field FROM INTERVAL 'interval')`` with the day and time fields as written:
    ``INTERVAL '36 hours'`` has 36 hours and no day, as in PostgreSQL.

    Raises:
        ValueError: the interval or the field is not valid.
    """
    name = _FIELD_ALIASES.get(field.lower(), field.lower())
    part = _fields_part(name, *interval_fields(interval))
    return part if isinstance(part, Decimal) else Decimal(part)  # type: ignore[arg-type]


def date_part(field: object, value: object) -> float:
    """``date_part(field, value)``: like :func:`extract`, as double precision."""
    return float(extract(field, value))


# --- time zones ------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name`` (``'Europe/Paris'``, ``'UTC'``)."""
    if _OFFSET_RE.fullmatch(name.strip()):
        raise ValueError(
            f'time zone "{name}" is an offset, which PostgreSQL reads the POSIX way (\'+02\' '
            "is two hours west of UTC); use a zone name such as 'Europe/Paris'"
        )
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'time zone "{name}" not recognized') from None


def time_zone_problem(name: str) -> str | None:
    """Why ``name`` is not a usable time zone, or None."""
    try:
        time_zone(name)
    except ValueError as exc:
        return str(exc)
    return None


def at_time_zone(zone: object, value: object) -> datetime:
    """``value AT TIME ZONE zone``: a timestamptz (or a date, taken as midnight UTC) becomes
    the local wall-clock time there; a timestamp is read as local time there and becomes a
    timestamptz. Local times skipped or repeated by a clock change are read as PostgreSQL
    reads them: with the offset in force before a jump forward, after a jump back."""
    if not isinstance(zone, str):
        raise TypeError("AT TIME ZONE needs a time zone name")
    where = time_zone(zone)
    if isinstance(value, datetime) and value.tzinfo is None:
        return _local_to_utc(value, where)
    return _as_datetime(value, "timezone").astimezone(where).replace(tzinfo=None)


def _local_to_utc(wall: datetime, where: ZoneInfo) -> datetime:
    first, second = wall.replace(tzinfo=where, fold=0), wall.replace(tzinfo=where, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    exists = first.astimezone(UTC).astimezone(where).replace(tzinfo=None) == wall
    return (second if exists else first).astimezone(UTC)
