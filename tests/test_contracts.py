"""Fact contracts: conversions to declared types, the compiled check, the JSON Schema."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_facts.contracts import (
    FactContract,
    converted_class,
    converter,
    fact_schema,
    schema_validator,
)
from cdc_facts.errors import ContractViolationError
from cdc_facts.facts import Fact, to_cloudevent
from cdc_facts.rules.model import FIELD_TYPES, FieldSpec, FieldType, Rule


@dataclass(frozen=True)
class _Expr:
    """A stand-in for a compiled expression: contracts never evaluate them."""

    sql: str = "TRUE"
    references: tuple[Any, ...] = ()

    def evaluate(self, change: object) -> object:
        raise AssertionError("contracts must not evaluate expressions")

    def explain(self, change: object) -> list[tuple[str, object]]:
        raise AssertionError("contracts must not evaluate expressions")


def rule(*fields: FieldSpec, description: str | None = None) -> Rule:
    return Rule(domain="sales", name="OrderShipped", version=1, when=_Expr(), key=_Expr(),
                topic="facts.sales.OrderShipped.v1", fields=fields, description=description)


def field(name: str, type_: FieldType | None, nullable: bool = True) -> FieldSpec:
    return FieldSpec(name, _Expr(), type_, None, nullable)


def fact(data: dict[str, object], **changes: Any) -> Fact:
    base = Fact(id="f-1", type="sales.OrderShipped.v1", source="/cdc-facts/shop/public.orders",
                subject="7", time=datetime(2024, 5, 1, tzinfo=UTC), data=data,
                topic="facts.sales.OrderShipped.v1", rule="sales.OrderShipped.v1",
                extensions={"cdcop": "u"})
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("string", "x", "x"),
        ("string", 7, "7"),
        ("string", Decimal("1.50"), "1.50"),
        ("string", True, "true"),
        ("string", {"b": 1, "a": [2]}, '{"a":[2],"b":1}'),
        ("string", Decimal("5E-7"), "0.0000005"),
        ("string", Decimal("0E-8"), "0.00000000"),
        ("string", Decimal("1.5E+3"), "1500"),
        ("string", {"k": "é"}, '{"k":"é"}'),
        ("integer", 7, 7),
        ("integer", "42", 42),
        ("integer", Decimal("3.00"), 3),
        ("integer", 3.0, 3),
        ("number", Decimal("1.5"), 1.5),
        ("number", "2.5", 2.5),
        ("number", 3, 3),
        ("decimal", "12.50", Decimal("12.50")),
        ("decimal", 12, Decimal(12)),
        ("decimal", 0.1, Decimal("0.1")),
        ("boolean", "t", True),
        ("boolean", 0, False),
        ("boolean", "false", False),
        ("timestamp", "2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("timestamp", "2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("timestamp", datetime(2024, 5, 1, 10), datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("timestamp", 1714557600000, datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("timestamp", 1714557600000000, datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("timestamp", 1714557600000000000, datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("timestamp", date(2024, 5, 1), datetime(2024, 5, 1, tzinfo=UTC)),
        ("date", 19844, date(2024, 5, 1)),
        ("date", "2024-05-01", date(2024, 5, 1)),
        ("date", datetime(2024, 5, 1, 23, tzinfo=timezone(timedelta(hours=-2))), date(2024, 5, 2)),
        ("json", {"a": 1}, {"a": 1}),
        (None, Decimal("1"), Decimal("1")),
    ],
)
def test_values_convert_to_their_declared_type(
    type_: FieldType | None, value: object, expected: object
) -> None:
    converted = converter(type_)(value)
    assert converted == expected and type(converted) is type(expected)


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("integer", True), ("integer", "4.5"), ("integer", Decimal("4.5")), ("integer", 2.5),
        ("number", "nan"), ("number", True), ("decimal", "AJg="), ("decimal", "Infinity"),
        ("decimal", False), ("boolean", "maybe"), ("boolean", 2), ("timestamp", "yesterday"),
        ("timestamp", 1.5), ("date", "2024-13-01"), ("string", object()),
    ],
)
def test_values_that_do_not_fit_raise(type_: FieldType, value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        converter(type_)(value)


CONVERTIBLE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.decimals(),
    st.datetimes(timezones=st.sampled_from([UTC, None, timezone(timedelta(hours=2))])),
    st.dates(), st.text(max_size=12),
    st.sampled_from(["NaN", "-Infinity", " 1.50 ", "2024-05-01T12:00:00+02:00", "2024-05-01",
                     "2024-05-01T10:00:00", "1e400", "0", "-0.00", "sNaN"]),
)


@settings(max_examples=400)
@given(type_=st.sampled_from(sorted(FIELD_TYPES)), value=CONVERTIBLE)
def test_a_converted_value_of_the_converted_class_keeps_the_contract(
    type_: FieldType, value: object
) -> None:
    """The translator checks no further a value its conversion made of that class."""
    try:
        converted = converter(type_)(value)
    except (ValueError, TypeError, ArithmeticError):
        return
    if converted.__class__ is converted_class(type_):
        contract = FactContract(rule(field("v", type_)))
        assert contract.violations(fact({"v": converted})) == []


def test_a_fact_that_keeps_its_contract_passes() -> None:
    contract = FactContract(rule(field("total", "decimal", nullable=False), field("note", None)))
    contract.check(fact({"total": Decimal("1.00"), "note": None}))
    assert contract.violations(fact({"total": Decimal("1.00"), "note": [1]})) == []


def test_every_violation_is_named() -> None:
    contract = FactContract(rule(field("total", "decimal", nullable=False),
                                 field("count", "integer")))
    broken = fact({"total": None, "count": "3", "extra": 1}, subject="")
    with pytest.raises(ContractViolationError) as caught:
        contract.check(broken)
    message = caught.value.message
    assert caught.value.rule == "sales.OrderShipped.v1"
    for words in ("subject) is empty", "`extra` is not declared", "`total` is NULL",
                  "`count` must be integer"):
        assert words in message
    assert contract.violations(fact({})) == [
        "data field `total` is missing", "data field `count` is missing"]


def test_the_schema_describes_the_cloudevent() -> None:
    schema = fact_schema(rule(field("total", "decimal", nullable=False), field("at", "timestamp"),
                              field("any", None), description="Shipped."))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["description"] == "Shipped."
    assert schema["properties"]["type"] == {"const": "sales.OrderShipped.v1"}
    data = schema["properties"]["data"]
    assert data["required"] == ["total", "at", "any"] and data["additionalProperties"] is False
    assert data["properties"]["total"]["type"] == "string"
    assert data["properties"]["at"]["type"] == ["string", "null"]
    assert data["properties"]["any"] == {}


def test_the_schema_rejects_what_the_contract_rejects() -> None:
    r = rule(field("total", "decimal", nullable=False))
    validator = schema_validator(r)
    good = to_cloudevent(fact({"total": Decimal("12.50")}))
    assert list(validator.iter_errors(good)) == []
    for bad in ({"total": None}, {}, {"total": Decimal("1"), "x": 1}):
        assert list(validator.iter_errors(to_cloudevent(fact(bad))))
    assert list(validator.iter_errors(to_cloudevent(fact({"total": Decimal(1)}, subject="x",
                                                         type="sales.Other.v1"))))


_INPUTS: dict[str, st.SearchStrategy[object]] = {
    "string": st.text(max_size=5),
    "integer": st.integers(-(2**70), 2**70),
    "number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-1000, 1000),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False, places=3),
    "boolean": st.booleans(),
    "timestamp": st.datetimes(timezones=st.just(UTC)) | st.datetimes(),
    "date": st.dates(),
    "json": st.recursive(st.none() | st.integers() | st.text(max_size=3),
                         lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(max_size=3), inner, max_size=3)),
}


@st.composite
def _facts(draw: st.DrawFn) -> tuple[Rule, Fact]:
    count = draw(st.integers(1, 4))
    specs, data = [], {}
    for index in range(count):
        declared = draw(st.sampled_from([*FIELD_TYPES, None]))
        nullable = draw(st.booleans())
        source = draw(st.sampled_from(sorted(_INPUTS)))
        value = draw(st.none() | _INPUTS[source])
        try:
            value = converter(declared)(value) if value is not None else None
        except (ValueError, TypeError, ArithmeticError, OverflowError):
            value = draw(_INPUTS[declared or "json"])
            value = converter(declared)(value)
        name = f"f{index}"
        specs.append(field(name, declared, nullable))
        data[name] = value
    return rule(*specs), fact(data)


@settings(max_examples=300, deadline=None)
@given(_facts())
def test_a_fact_that_passes_the_contract_validates_against_its_schema(
    drawn: tuple[Rule, Fact],
) -> None:
    r, f = drawn
    contract_ok = not FactContract(r).violations(f)
    errors = list(schema_validator(r).iter_errors(to_cloudevent(f)))
    if contract_ok:
        assert errors == []
    else:
        nulls = [s.name for s in r.fields if not s.nullable and f.data[s.name] is None]
        assert nulls and errors
