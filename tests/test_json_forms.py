"""The JSON form of fact values, and the two writers agreeing on it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from cdc_facts.json_forms import EncodeError, dumps, dumps_utc, encode_mapping, std_dumps
from cdc_facts.types import UNKNOWN


def test_each_value_takes_its_json_form() -> None:
    values = {"d": Decimal("1E+2"), "t": datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
              "day": date(2024, 5, 1), "gap": timedelta(days=1, seconds=3.5),
              "u": UUID(int=1), "b": b"x", "nested": {"l": (1, Decimal("0.10"))}}
    assert encode_mapping(values) == {
        "d": "100", "t": "2024-05-01T10:00:00Z", "day": "2024-05-01", "gap": "P1DT3.5S",
        "u": "00000000-0000-0000-0000-000000000001", "b": "eA==",
        "nested": {"l": [1, "0.10"]}}


@pytest.mark.parametrize(("value", "path", "unknown"), [
    ({"a": UNKNOWN}, "a", True), ({"a": {"b": float("nan")}}, "a.b", False),
    ({"a": [1, Decimal("NaN")]}, "a.1", False), ({1: "x"}, "1", False),
])
def test_a_value_without_json_form_is_named_by_its_path(value: dict[object, object], path: str,
                                                        unknown: bool) -> None:
    with pytest.raises(EncodeError) as raised:
        encode_mapping(value)
    assert raised.value.path == path and raised.value.unknown is unknown


@pytest.mark.skipif(dumps_utc is None, reason="orjson is not installed")
@pytest.mark.parametrize("number", [Decimal("12.30"), Decimal("-0.0001"), Decimal("1E+5"),
                                    Decimal("1E+200"), Decimal(7)])
def test_the_utc_writer_writes_decimals_as_encode_mapping_does(number: Decimal) -> None:
    assert dumps_utc is not None
    document = {"n": number, "t": datetime(2024, 5, 1, 10, 0, 0, 5, tzinfo=UTC)}
    assert dumps_utc(document) == dumps(encode_mapping(document))


@pytest.mark.skipif(dumps_utc is None, reason="orjson is not installed")
def test_the_utc_writer_refuses_a_decimal_without_json_form() -> None:
    assert dumps_utc is not None
    with pytest.raises(TypeError):
        dumps_utc({"n": Decimal("Infinity")})


def test_both_writers_agree_and_refuse_nan() -> None:
    document = {"s": "Zoë \u2028", "n": 2**70, "f": 0.5}
    assert json.loads(dumps(document)) == json.loads(std_dumps(document)) == document
    with pytest.raises(ValueError):
        std_dumps({"f": float("nan")})
