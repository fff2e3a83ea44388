"""The CloudEvents encoder: ids, attributes, exact JSON data, conformance with the SDK."""

from __future__ import annotations

import base64
import enum
import json
import math
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, from_structured
from cloudevents.core.formats.json import JSONFormat
from hypothesis import given
from hypothesis import strategies as st

from cdc_facts import facts
from cdc_facts.errors import EvaluationError, RecordError, UnknownValueError
from cdc_facts.facts import (
    FACT_ID_NAMESPACE,
    Fact,
    encode_fact,
    encode_fact_binary,
    fact_headers,
    fact_id,
    is_valid_extension_name,
    rfc3339,
    to_cloudevent,
)
from cdc_facts.types import UNKNOWN

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$")
EXTENSIONS = {"cdcop": "u", "cdcposition": "lsn:24023928", "cdctxid": "743",
              "cdcsnapshot": "false", "cdcrule": "order-shipped", "cdcconnector": "shop",
              "cdctable": "public.orders"}


def make_fact(data: dict[str, object] | None = None, **changes: Any) -> Fact:
    fields: dict[str, Any] = {
        "id": "0b7c4a8e-58e3-5d8e-9f4e-2b1f4a0f1c11",
        "type": "shop.order.shipped",
        "source": "/cdc-facts/shop/public.orders",
        "subject": "42",
        "time": datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        "data": {"order_id": 42, "total": Decimal("12.30")} if data is None else data,
        "topic": "facts.orders",
        "rule": "order-shipped",
        "extensions": dict(EXTENSIONS),
    }
    return Fact(**{**fields, **changes})


# --- ids ---------------------------------------------------------------------------------


def test_fact_id_is_a_uuid5_in_the_fixed_namespace() -> None:
    assert FACT_ID_NAMESPACE == uuid.uuid5(uuid.NAMESPACE_URL, "urn:cdc-facts:fact-id")
    made = fact_id("shop", "public.orders", "lsn:24023928", "order-shipped", 2)
    name = "4:shop|13:public.orders|12:lsn:24023928|13:order-shipped|2"
    assert made == str(uuid.uuid5(FACT_ID_NAMESPACE, name))
    parsed = uuid.UUID(made)
    assert parsed.version == 5 and parsed.variant == uuid.RFC_4122


def test_fact_id_is_stable_across_calls_and_processes() -> None:
    # a constant: a change of the scheme would give every fact a new id after an upgrade
    assert fact_id("shop", "public.orders", "lsn:24023928", "order-placed", 1) == \
        "1ae113fc-eb0b-5fe6-ab5b-350733a474af"


@pytest.mark.parametrize("other", [
    ("shop2", "public.orders", "lsn:1", "r", 1),
    ("shop", "public.order", "lsn:1", "r", 1),
    ("shop", "public.orders", "lsn:2", "r", 1),
    ("shop", "public.orders", "lsn:1", "s", 1),
    ("shop", "public.orders", "lsn:1", "r", 2),
    ("shop|public.orders", "", "lsn:1", "r", 1),
    ("shop", "public.orders|lsn:1", "", "r", 1),
])
def test_fact_ids_differ_when_any_part_differs(other: tuple[str, str, str, str, int]) -> None:
    assert fact_id("shop", "public.orders", "lsn:1", "r", 1) != fact_id(*other)


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8),
                          st.text(max_size=8), st.integers(0, 3)), min_size=2, max_size=6,
                unique=True))
def test_distinct_inputs_never_share_an_id(inputs: list[tuple[str, str, str, str, int]]) -> None:
    assert len({fact_id(*parts) for parts in inputs}) == len(inputs)


# --- attributes and conformance ----------------------------------------------------------


def test_structured_event_attributes() -> None:
    event = to_cloudevent(make_fact())
    assert event == {
        "specversion": "1.0", "id": "0b7c4a8e-58e3-5d8e-9f4e-2b1f4a0f1c11",
        "source": "/cdc-facts/shop/public.orders", "type": "shop.order.shipped",
        "subject": "42", "time": "2024-05-01T10:00:00Z", "datacontenttype": "application/json",
        **EXTENSIONS, "data": {"order_id": 42, "total": "12.30"},
    }


def test_empty_subject_is_left_out_and_dataschema_is_written_when_set() -> None:
    event = to_cloudevent(make_fact(subject="", dataschema="https://example.com/s.json"))
    assert "subject" not in event
    assert event["dataschema"] == "https://example.com/s.json"


def test_structured_value_conforms_to_cloudevents() -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, 5, tzinfo=UTC)
    fact = make_fact({"total": Decimal("12.30"), "at": at, "blob": b"\x00\xff",
                      "ref": uuid.UUID(int=1), "lines": [{"n": 1}]})
    value = encode_fact(fact)
    headers = dict(fact_headers(fact))
    assert headers == {"content-type": b"application/cloudevents+json; charset=UTF-8"}
    event = from_structured(KafkaMessage(headers=headers, key=None, value=value), JSONFormat())
    assert event.get_specversion() == "1.0"
    assert event.get_id() == fact.id and event.get_type() == fact.type
    assert event.get_source() == fact.source and event.get_subject() == "42"
    assert event.get_time() == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert event.get_datacontenttype() == "application/json"
    assert {name: event.get_extension(name) for name in EXTENSIONS} == EXTENSIONS
    assert event.get_data() == {"total": "12.30", "at": "2024-05-01T12:00:00.000005Z",
                                "blob": "AP8=", "ref": "00000000-0000-0000-0000-000000000001",
                                "lines": [{"n": 1}]}


def test_binary_mode_conforms_to_cloudevents() -> None:
    fact = make_fact()
    headers, value = encode_fact_binary(fact)
    assert ("content-type", b"application/json") in headers
    assert all(name.startswith("ce_") or name == "content-type" for name, _ in headers)
    event = from_binary(KafkaMessage(headers=dict(headers), key=None, value=value), JSONFormat())
    assert event.get_id() == fact.id and event.get_type() == fact.type
    assert event.get_time() == fact.time and event.get_subject() == "42"
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("cdcposition") == "lsn:24023928"
    assert json.loads(value) == {"order_id": 42, "total": "12.30"}


def test_value_is_compact_utf8_json() -> None:
    value = encode_fact(make_fact({"name": "Zoë", "n": 1}))
    assert b", " not in value and b'": ' not in value
    assert "Zoë".encode() in value
    assert json.loads(value) == to_cloudevent(make_fact({"name": "Zoë", "n": 1}))


@pytest.mark.parametrize("name", ["cdcop", "x", "abc123", "averyveryverylongname21"])
def test_valid_extension_names(name: str) -> None:
    assert is_valid_extension_name(name)


@pytest.mark.parametrize("name", ["cdc_op", "CdcOp", "", "cdc-op", "data", "id", "time",
                                  "datacontenttype", "ünï"])
def test_invalid_extension_names_are_refused(name: str) -> None:
    assert not is_valid_extension_name(name)
    with pytest.raises(RecordError, match="cannot name a CloudEvents extension") as caught:
        to_cloudevent(make_fact(extensions={name: "x"}))
    assert caught.value.rule == "order-shipped" and caught.value.hint


@pytest.mark.parametrize("empty", ["id", "type", "source"])
def test_empty_required_attributes_are_refused(empty: str) -> None:
    with pytest.raises(RecordError, match="empty id, source or type"):
        to_cloudevent(make_fact(**{empty: ""}))


# --- times -------------------------------------------------------------------------------


@pytest.mark.parametrize(("moment", "text"), [
    (datetime(2024, 5, 1, 10, 0, tzinfo=UTC), "2024-05-01T10:00:00Z"),
    (datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T10:00:00Z"),
    (datetime(2024, 5, 1, 0, 30, tzinfo=timezone(timedelta(hours=-5))), "2024-05-01T05:30:00Z"),
    (datetime(2024, 5, 1, 10, 0), "2024-05-01T10:00:00Z"),  # naive means UTC
    (datetime(2024, 5, 1, 10, 0, 0, 120000, tzinfo=UTC), "2024-05-01T10:00:00.120000Z"),
    (datetime(2024, 5, 1, 10, 0, 0, 1), "2024-05-01T10:00:00.000001Z"),
    (datetime(1, 1, 1), "0001-01-01T00:00:00Z"),
])
def test_times_are_rfc3339_utc(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text
    assert RFC3339_UTC.match(text)
    event = to_cloudevent(make_fact(time=moment, data={"at": moment}))
    assert event["time"] == text
    assert event["data"] == {"at": text}


# --- data --------------------------------------------------------------------------------


class Color(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


@pytest.mark.parametrize(("value", "encoded"), [
    (Decimal("12.30"), "12.30"),
    (Decimal("1E+2"), "100"),
    (Decimal("1.2E+4"), "12000"),
    (Decimal("-0.01"), "-0.01"),
    (Decimal("1E-7"), "0.0000001"),
    (Decimal("0E-2"), "0.00"),
    (Decimal("1234567890123456789012345678.9012345678"), "1234567890123456789012345678.9012345678"),
    (Decimal("1E+1000"), "1E+1000"),
    (date(2024, 5, 1), "2024-05-01"),
    (time(10, 15, 30), "10:15:30"),
    (time(10, 15, 30, 250000), "10:15:30.250000"),
    (time(8, 15, 30, tzinfo=UTC), "08:15:30Z"),
    (timedelta(0), "PT0S"),
    (timedelta(days=1, hours=2, minutes=3, seconds=4.5), "P1DT2H3M4.5S"),
    (timedelta(days=2), "P2D"),
    (-timedelta(hours=838, minutes=59, seconds=59), "-P34DT22H59M59S"),
    (uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427"), "1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
    (b"\x00\x01\x02\xff", "AAEC/w=="),
    (bytearray(b"\xde\xad"), "3q0="),
    (memoryview(b"\xbe\xef"), "vu8="),
    (1, 1),
    (2**70, 2**70),
    (-1.5e-7, -1.5e-7),
    (True, True),
    (None, None),
    ("text", "text"),
    (Color.RED, "red"),
    (Size.BIG, 3),
    ({"a": [Decimal("1.0"), None], "b": (1, 2)}, {"a": ["1.0", None], "b": [1, 2]}),
])
def test_data_values_are_encoded_exactly(value: object, encoded: object) -> None:
    event = to_cloudevent(make_fact({"v": value}))
    assert event["data"] == {"v": encoded}
    assert type(event["data"]["v"]) is type(encoded)  # type: ignore[index]
    assert json.loads(encode_fact(make_fact({"v": value})))["data"] == {"v": encoded}


def test_big_integers_survive_the_fast_json_path() -> None:
    value = json.loads(encode_fact(make_fact({"n": 2**70, "m": -(2**64)})))
    assert value["data"] == {"n": 2**70, "m": -(2**64)}


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_keep_their_exact_value(value: Decimal) -> None:
    encoded = to_cloudevent(make_fact({"v": value}))["data"]["v"]  # type: ignore[index]
    assert isinstance(encoded, str)
    assert Decimal(encoded) == value
    if -100 <= value.adjusted() <= 100:
        assert "E" not in encoded and "e" not in encoded


@pytest.mark.parametrize(("data", "path", "reason"), [
    ({"v": math.nan}, "v", "nan has no JSON form"),
    ({"v": math.inf}, "v", "inf has no JSON form"),
    ({"v": Decimal("NaN")}, "v", "decimal NaN has no JSON form"),
    ({"v": Decimal("-Infinity")}, "v", "decimal -Infinity has no JSON form"),
    ({"v": object()}, "v", "a object has no JSON form"),
    ({"v": {1, 2}}, "v", "a set has no JSON form"),
    ({"items": [{"price": 1.0}, {"price": -math.inf}]}, "items.1.price", "-inf has no JSON"),
    ({"v": {1: "a"}}, "v.1", "keys must be strings, not int"),
])
def test_values_without_a_json_form_are_evaluation_errors(data: dict[str, object], path: str,
                                                          reason: str) -> None:
    with pytest.raises(EvaluationError) as caught:
        encode_fact(make_fact(data))
    message = caught.value.message
    assert f"data field `{path}`" in message and reason in message
    assert "shop.order.shipped" in message and caught.value.rule == "order-shipped"


@pytest.mark.parametrize(("data", "path"), [
    ({"v": UNKNOWN}, "v"),
    ({"lines": [1, UNKNOWN]}, "lines.1"),
    ({"a": {"b": UNKNOWN}}, "a.b"),
])
def test_unknown_values_are_unknown_value_errors(data: dict[str, object], path: str) -> None:
    with pytest.raises(UnknownValueError, match=f"data field `{re.escape(path)}` is unknown"):
        encode_fact(make_fact(data))


def test_standard_library_and_fast_json_agree() -> None:
    event = to_cloudevent(make_fact({"s": "Zoë \u2028 \"q\"", "f": 0.1, "e": 1e16, "l": [1.5]}))
    assert json.loads(facts._dumps(event)) == json.loads(facts._std_dumps(event)) == event


def test_fact_keeps_its_fields_and_defaults() -> None:
    fact = Fact(id="i", type="t", source="/s", subject="", time=datetime(2024, 1, 1),
                data={}, topic="facts", rule="r")
    assert fact.extensions == {} and fact.dataschema is None
    assert base64.b64decode(to_cloudevent(make_fact({"b": b"x"}))["data"]["b"]) == b"x"  # type: ignore[index,arg-type]
