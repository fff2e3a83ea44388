"""Fact contracts: the declared type of every data field, as conversions and JSON Schema.

Each fact type has a contract made from its rule's ``data`` fields. The translator
converts every field value to its declared type (:func:`converter`) and checks every fact
against the contract (:class:`FactContract`, compiled once per fact type) before it is
emitted. :func:`fact_schema` writes the same contract as JSON Schema (draft 2020-12) for
the CloudEvent on the wire, for consumers and for ``cdc-facts contracts``.

>>> converter("decimal")("12.50")
Decimal('12.50')
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from uuid import UUID

from cdc_facts.errors import ContractViolationError
from cdc_facts.facts import Fact
from cdc_facts.rules.model import FieldSpec, FieldType, Rule

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

#: A conversion of a value to a declared type; raises ValueError or TypeError.
Converter = Callable[[object], object]

_EPOCH_DATE: Final = date(1970, 1, 1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_TRUE: Final = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE: Final = frozenset({"false", "f", "no", "n", "0", "off"})


# --- conversions -------------------------------------------------------------------------


def _to_string(value: object) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")  # all the digits, no exponent, as ::text writes it
    if isinstance(value, int | float | UUID):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str,
                          ensure_ascii=False)
    raise TypeError(f"cannot turn a {type(value).__name__} into a string")


def _to_integer(value: object) -> int:
    if value.__class__ is int:
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise ValueError(f"{value} is not a whole number")
        return int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value} is not a whole number")
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(f"cannot turn a {type(value).__name__} into an integer")


def _to_number(value: object) -> int | float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal | str):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value} is not a finite number")
        return number
    raise TypeError(f"cannot turn a {type(value).__name__} into a number")


def _to_decimal(value: object) -> Decimal:
    cls = value.__class__
    if cls is Decimal and value.is_finite():  # type: ignore[attr-defined]
        return value  # type: ignore[return-value]
    if cls is str:  # first: without schemas, decimals come as text
        try:
            number = Decimal(value.strip())  # type: ignore[attr-defined]
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if number.is_finite():
            return number
        raise ValueError(f"{value} is not a finite decimal")
    if isinstance(value, bool):
        raise TypeError("a boolean is not a decimal")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        return _to_decimal(str.__str__(value))  # a subclass of str: read as its text
    else:
        raise TypeError(f"cannot turn a {type(value).__name__} into a decimal")
    if not number.is_finite():
        raise ValueError(f"{value} is not a finite decimal")
    return number


def _to_boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not a boolean")


def _to_timestamp(value: object) -> datetime:
    cls = value.__class__
    if cls is str:
        value = datetime.fromisoformat(value.strip())  # type: ignore[attr-defined]
        cls = value.__class__
    if cls is datetime and value.tzinfo is UTC:  # type: ignore[attr-defined]
        return value  # type: ignore[return-value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return _from_epoch(value)
    if isinstance(value, str):
        return _to_timestamp(datetime.fromisoformat(value.strip()))
    raise TypeError(f"cannot turn a {type(value).__name__} into a timestamp")


def _from_epoch(value: int) -> datetime:
    """Epoch milliseconds, microseconds or nanoseconds, told apart by magnitude."""
    size = abs(value)
    if size < 10**14:
        return _EPOCH + timedelta(milliseconds=value)
    if size < 10**17:
        return _EPOCH + timedelta(microseconds=value)
    return _EPOCH + timedelta(microseconds=value // 1000)


def _to_date(value: object) -> date:
    if isinstance(value, datetime):
        return _to_timestamp(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return _EPOCH_DATE + timedelta(days=value)
    if isinstance(value, str):
        text = value.strip()
        return date.fromisoformat(text) if len(text) == 10 else _to_timestamp(text).date()
    raise TypeError(f"cannot turn a {type(value).__name__} into a date")


def _as_is(value: object) -> object:
    return value


_CONVERTERS: Final[dict[FieldType | None, Converter]] = {
    "string": _to_string,
    "integer": _to_integer,
    "number": _to_number,
    "decimal": _to_decimal,
    "boolean": _to_boolean,
    "timestamp": _to_timestamp,
    "date": _to_date,
    "json": _as_is,
    None: _as_is,
}


def converter(field_type: FieldType | None) -> Converter:
    """The conversion of a value to ``field_type`` (``None``: untyped, kept as it is).

    >>> converter("timestamp")(1700000000000).isoformat()
    '2023-11-14T22:13:20+00:00'
    """
    return _CONVERTERS[field_type]


# --- the contract ------------------------------------------------------------------------

#: What a converted value must be, per declared type (``None``: anything).
_PREDICATES: Final[dict[FieldType | None, Callable[[object], bool]]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    and math.isfinite(v),
    "decimal": lambda v: isinstance(v, Decimal) and v.is_finite(),
    "boolean": lambda v: isinstance(v, bool),
    "timestamp": lambda v: isinstance(v, datetime) and v.tzinfo is not None,
    "date": lambda v: isinstance(v, date) and not isinstance(v, datetime),
    "json": lambda v: True,
    None: lambda v: True,
}


class Never:
    """No value is of this class."""


#: Per declared type, a class whose every value the type's predicate accepts.
_ALWAYS: Final[dict[FieldType | None, type]] = {
    "string": str, "integer": int, "number": int, "boolean": bool, "date": date,
}


#: Per declared type, a class whose every value :func:`converter` makes for the type is
#: accepted by the type's predicate: the conversion refuses what would not be (a decimal
#: that is NaN or infinite, a timestamp without a time zone).
_CONVERTED: Final[dict[FieldType | None, type]] = {
    **_ALWAYS, "decimal": Decimal, "timestamp": datetime,
}


def converted_class(field_type: FieldType | None) -> type:
    """A class whose every value that ``converter(field_type)`` returns keeps the contract
    of ``field_type`` (:class:`Never` when there is none): such a value need not be
    checked again.

    >>> converted_class("decimal")
    <class 'decimal.Decimal'>
    """
    return _CONVERTED.get(field_type, Never)


class FactContract:
    """The contract of one fact type, compiled once; :meth:`check` runs on every fact.

    It is at least as strict as :func:`fact_schema`: a fact that passes :meth:`check`
    always validates against the schema once encoded. It checks Python values, so it is
    stricter where JSON cannot tell types apart (a ``Decimal`` in a ``string`` field).
    """

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.fact_type = rule.fact_type
        self._names = frozenset(spec.name for spec in rule.fields)
        self._fields = tuple(
            (spec.name, _PREDICATES[spec.type], spec.nullable, spec.type or "any")
            for spec in rule.fields
        )
        #: ``(name, class always accepted, predicate, nullable)`` for :meth:`check`.
        self._checks = tuple(
            (spec.name, _ALWAYS.get(spec.type, Never), _PREDICATES[spec.type], spec.nullable)
            for spec in rule.fields
        )

    def field_checks(self) -> list[tuple[Callable[[object], bool], bool]]:
        """``(accepts, nullable)`` of every data field, in declaration order: the
        predicate a value of the field's declared type satisfies, and whether it may be
        NULL. A fact with a non-empty subject whose every value passes keeps the contract.
        """
        return [(accepts, nullable) for _, _, accepts, nullable in self._checks]

    def check(self, fact: Fact) -> None:
        """Raise :class:`ContractViolationError` naming every way ``fact`` breaks the contract."""
        data = fact.data
        if fact.type == self.fact_type and data.keys() == self._names and fact.subject:
            for name, always, accepts, nullable in self._checks:
                value = data[name]
                if value.__class__ is always:
                    continue
                if not (accepts(value) if value is not None else nullable):
                    break
            else:
                return
        raise ContractViolationError(
            f"fact {self.fact_type} breaks its contract: {'; '.join(self.violations(fact))}",
            rule=self.fact_type,
            hint="fix the rule's data expressions or the declared types in "
            f"{self.rule.file}:{self.rule.line}",
        )

    def violations(self, fact: Fact) -> list[str]:
        """Every way ``fact`` breaks the contract, in words; empty when it keeps it."""
        found = []
        if fact.type != self.fact_type:
            found.append(f"type is {fact.type!r}, not {self.fact_type!r}")
        if not fact.subject:
            found.append("the key (subject) is empty")
        for name in sorted(fact.data.keys() - self._names):
            found.append(f"data field `{name}` is not declared")
        for name, accepts, nullable, type_name in self._fields:
            if name not in fact.data:
                found.append(f"data field `{name}` is missing")
                continue
            value = fact.data[name]
            if value is None and not nullable:
                found.append(f"data field `{name}` is NULL but declared `nullable: false`")
            elif value is not None and not accepts(value):
                found.append(f"data field `{name}` must be {type_name}, got {value!r}")
        return found


# --- JSON Schema -------------------------------------------------------------------------

#: RFC 3339 in UTC, as :func:`cdc_facts.facts.rfc3339` writes every time.
_UTC_TIMESTAMP: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"

#: JSON Schema of each declared type, as :func:`cdc_facts.facts.to_cloudevent` writes it.
_JSON_TYPES: Final[dict[FieldType, dict[str, Any]]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "decimal": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?(E[+-]?[0-9]+)?$"},
    "boolean": {"type": "boolean"},
    "timestamp": {"type": "string", "format": "date-time", "pattern": _UTC_TIMESTAMP},
    "date": {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
}


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    """The JSON Schema of one data field as it appears in the CloudEvent's ``data``."""
    schema: dict[str, Any] = dict(_JSON_TYPES.get(spec.type, {})) if spec.type else {}
    if "type" in schema and spec.nullable:
        schema["type"] = [schema["type"], "null"]
    elif not spec.nullable:
        schema["not"] = {"type": "null"}
    if spec.type is not None:
        schema["x-cdc-facts-type"] = spec.type
    if spec.description:
        schema["description"] = spec.description
    return schema


def data_schema(rule: Rule) -> dict[str, Any]:
    """The JSON Schema of the fact's ``data``: every declared field, nothing else."""
    names = [spec.name for spec in rule.fields]
    return {
        "type": "object",
        "properties": {spec.name: field_schema(spec) for spec in rule.fields},
        "required": names,
        "additionalProperties": False,
    }


def fact_schema(rule: Rule) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the CloudEvent a rule emits.

    The envelope's ``type`` is the rule's fact type; ``data`` holds exactly the declared
    fields; extension attributes (``cdcop``, ``cdcsnapshot``...) are strings, integers or
    booleans.
    """
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:cdc-facts:contract:{rule.fact_type}",
        "title": rule.fact_type,
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time",
                     "datacontenttype", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "minLength": 1},
            "source": {"type": "string", "minLength": 1},
            "type": {"const": rule.fact_type},
            "subject": {"type": "string", "minLength": 1},
            "time": {"type": "string", "format": "date-time", "pattern": _UTC_TIMESTAMP},
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"type": "string", "format": "uri"},
            "data": data_schema(rule),
        },
        "propertyNames": {"pattern": "^[a-z0-9]{1,20}$"},
        "additionalProperties": {"type": ["string", "integer", "boolean"]},
    }
    if rule.description:
        schema["description"] = rule.description
    return schema


def schema_validator(rule: Rule) -> Any:
    """A compiled ``jsonschema`` validator of the rule's contract, with format checks.

    Slower than :class:`FactContract`; for tests, tools and consumers.
    """
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        fact_schema(rule), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
