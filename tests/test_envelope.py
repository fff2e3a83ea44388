"""Decoding Debezium records as JsonConverter writes them: hand-built and captured ones."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from cdc_facts.changes import Change
from cdc_facts.envelope import (
    DEFAULT_UNAVAILABLE_VALUE,
    EnvelopeSettings,
    classify,
    compile_schema,
    decode_change,
    documents,
    records,
)
from cdc_facts.errors import ChangeDecodeError, RecordError
from cdc_facts.expressions.casts import parse_json
from cdc_facts.types import UNKNOWN

FIXTURES = Path(__file__).parent / "fixtures" / "debezium"
SOURCE = {"version": "3.5.0.Final", "connector": "postgresql", "name": "shop",
          "ts_ms": 1714557600000, "snapshot": "false", "db": "shop", "schema": "public",
          "table": "orders", "txId": 743, "lsn": 24023928}
PLACEHOLDER_B64 = base64.b64encode(DEFAULT_UNAVAILABLE_VALUE.encode()).decode()
PLACEHOLDER_INTS = list(DEFAULT_UNAVAILABLE_VALUE.encode())


def field(name: str, kind: str, logical: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, "optional": True, "field": name, **extra}
    if logical:
        schema["name"] = logical
    return schema


def value_schema(columns: list[dict[str, Any]]) -> dict[str, Any]:
    row = {"type": "struct", "fields": [field("id", "int32"), *columns], "optional": True,
           "name": "shop.public.orders.Value"}
    return {"type": "struct", "name": "shop.public.orders.Envelope", "version": 2, "fields": [
        {**row, "field": "before"},
        {**row, "field": "after"},
        {"type": "struct", "field": "source", "name": "io.debezium.connector.postgresql.Source",
         "fields": [field("name", "string"), field("ts_ms", "int64"), field("lsn", "int64")]},
        {"type": "string", "optional": False, "field": "op"},
        {"type": "int64", "optional": True, "field": "ts_ms"},
    ]}


def document(after: dict[str, Any] | None, *, before: dict[str, Any] | None = None,
             op: str = "c", columns: list[dict[str, Any]] | None = None,
             **extra: Any) -> dict[str, Any]:
    """The JSON document JsonConverter writes; with a schema when ``columns`` is given."""
    payload = {"before": before, "after": after, "source": SOURCE, "op": op,
               "ts_ms": 1714557600200, "transaction": None, **extra}
    if columns is None:
        return payload
    return {"schema": value_schema(columns), "payload": payload}


def compact(doc: object) -> bytes:
    """Serialised the way JsonConverter (Jackson) does: no spaces."""
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_one(column: dict[str, Any], value: object, op: str = "c") -> object:
    change = decode_change(compact(document({"id": 1, column["field"]: value}, op=op,
                                            columns=[column])))
    assert change is not None and change.after is not None
    return change.after[column["field"]]


# --- logical types -----------------------------------------------------------------------

DEC = "org.apache.kafka.connect.data.Decimal"
LOGICAL_CASES = [
    ("decimal", field("v", "bytes", DEC, parameters={"scale": "2"}), "BNI=", Decimal("12.34")),
    ("negative decimal", field("v", "bytes", DEC, parameters={"scale": "2"}), "/w==",
     Decimal("-0.01")),
    ("38-digit decimal", field("v", "bytes", DEC, parameters={"scale": "10"}),
     "AAlJsPbwAjMTxEmQUN44804=", Decimal("1234567890123456789012345678.9012345678")),
    ("negative 38 digits", field("v", "bytes", DEC, parameters={"scale": "0"}),
     "//a2TwkP/czsO7ZvryHHDLI=", Decimal("-12345678901234567890123456789012345678")),
    ("decimal without scale", field("v", "bytes", DEC), "BNI=", Decimal("1234")),
    ("decimal.format=NUMERIC", field("v", "bytes", DEC, parameters={"scale": "2"}), 12.3,
     Decimal("12.30")),
    ("numeric integer", field("v", "bytes", DEC, parameters={"scale": "2"}), 7, Decimal("7.00")),
    ("variable scale decimal", field("v", "struct", "io.debezium.data.VariableScaleDecimal",
                                     fields=[field("scale", "int32"), field("value", "bytes")]),
     {"scale": 5, "value": "BMsv"}, Decimal("3.14159")),
    ("connect date", field("v", "int32", "org.apache.kafka.connect.data.Date"), 19844,
     date(2024, 5, 1)),
    ("debezium date", field("v", "int32", "io.debezium.time.Date"), -25567, date(1900, 1, 1)),
    ("infinity date", field("v", "int32", "io.debezium.time.Date"), -2147472692, date.max),
    ("-infinity date", field("v", "int32", "io.debezium.time.Date"), -2147472691, date.min),
    ("timestamp ms", field("v", "int64", "io.debezium.time.Timestamp"), 1714557600123,
     datetime(2024, 5, 1, 10, 0, 0, 123000)),
    ("connect timestamp", field("v", "int64", "org.apache.kafka.connect.data.Timestamp"),
     1714557600123, datetime(2024, 5, 1, 10, 0, 0, 123000)),
    ("micro timestamp", field("v", "int64", "io.debezium.time.MicroTimestamp"),
     1714557600123456, datetime(2024, 5, 1, 10, 0, 0, 123456)),
    ("micro timestamp before epoch", field("v", "int64", "io.debezium.time.MicroTimestamp"), -1,
     datetime(1969, 12, 31, 23, 59, 59, 999999)),
    ("nano timestamp", field("v", "int64", "io.debezium.time.NanoTimestamp"),
     1714557600123456789, datetime(2024, 5, 1, 10, 0, 0, 123456)),
    ("-infinity timestamp", field("v", "int64", "io.debezium.time.MicroTimestamp"),
     -9223372036832400000, datetime.min),
    ("infinity timestamp", field("v", "int64", "io.debezium.time.MicroTimestamp"),
     9223372036825200000, datetime.max),
    ("zoned timestamp", field("v", "string", "io.debezium.time.ZonedTimestamp"),
     "2024-05-01T08:00:00.123456Z", datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)),
    ("zoned timestamp with offset", field("v", "string", "io.debezium.time.ZonedTimestamp"),
     "2024-05-01T10:00:00+02:00", datetime(2024, 5, 1, 8, 0, tzinfo=UTC)),
    ("zoned timestamp infinity", field("v", "string", "io.debezium.time.ZonedTimestamp"),
     "infinity", datetime.max.replace(tzinfo=UTC)),
    ("connect time", field("v", "int32", "org.apache.kafka.connect.data.Time"), 36930250,
     time(10, 15, 30, 250000)),
    ("time ms", field("v", "int32", "io.debezium.time.Time"), 36930250, time(10, 15, 30, 250000)),
    ("micro time", field("v", "int64", "io.debezium.time.MicroTime"), 86399999999,
     time(23, 59, 59, 999999)),
    ("nano time", field("v", "int64", "io.debezium.time.NanoTime"), 36930250000999,
     time(10, 15, 30, 250000)),
    ("24:00:00", field("v", "int64", "io.debezium.time.MicroTime"), 86400000000, time.max),
    ("MySQL negative TIME", field("v", "int64", "io.debezium.time.MicroTime"), -3020399000000,
     -timedelta(hours=838, minutes=59, seconds=59)),
    ("zoned time", field("v", "string", "io.debezium.time.ZonedTime"), "08:15:30.5Z",
     time(8, 15, 30, 500000, tzinfo=UTC)),
    ("zoned time with offset", field("v", "string", "io.debezium.time.ZonedTime"),
     "01:15:30+02:00", time(23, 15, 30, tzinfo=UTC)),
    ("micro duration", field("v", "int64", "io.debezium.time.MicroDuration"), 93784500000,
     timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
    ("json", field("v", "string", "io.debezium.data.Json"), '{"a": [1, 2.5, "x"], "b": null}',
     {"a": [1, Decimal("2.5"), "x"], "b": None}),
    ("uuid", field("v", "string", "io.debezium.data.Uuid"),
     "1b4e28ba-2fa1-11d2-883f-0016d3cca427", UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")),
    ("bytes", field("v", "bytes"), "AAEC/w==", b"\x00\x01\x02\xff"),
    ("bits", field("v", "bytes", "io.debezium.data.Bits", parameters={"length": "10"}), "AQI=",
     b"\x01\x02"),
    ("boolean", field("v", "boolean"), True, True),
    ("tinyint(1) stays an int", field("v", "int16"), 1, 1),
    ("enum", field("v", "string", "io.debezium.data.Enum"), "green", "green"),
    ("enum set", field("v", "string", "io.debezium.data.EnumSet"), "a,c", "a,c"),
    ("year", field("v", "int32", "io.debezium.time.Year"), 2024, 2024),
    ("double", field("v", "double"), -1.5e-7, -1.5e-7),
    ("double infinity", field("v", "double"), "-Infinity", -math.inf),
    ("geometry", field("v", "struct", "io.debezium.data.geometry.Geometry",
                       fields=[field("wkb", "bytes"), field("srid", "int32")]),
     {"wkb": "AQE=", "srid": 4326}, {"wkb": b"\x01\x01", "srid": 4326}),
    ("array of uuids", field("v", "array", items={"type": "string",
                                                  "name": "io.debezium.data.Uuid"}),
     ["1b4e28ba-2fa1-11d2-883f-0016d3cca427", None],
     [UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427"), None]),
    ("map of decimals", field("v", "map", keys={"type": "string"},
                              values={"type": "bytes", "name": DEC, "parameters": {"scale": "1"}}),
     {"a": "AQ==", "b": None}, {"a": Decimal("0.1"), "b": None}),
    ("hstore as map", field("v", "map", keys={"type": "string"}, values={"type": "string"}),
     {"a": "1"}, {"a": "1"}),
]


@pytest.mark.parametrize(("column", "raw", "expected"), [c[1:] for c in LOGICAL_CASES],
                         ids=[c[0] for c in LOGICAL_CASES])
def test_logical_types_decode_to_exact_values(column: dict[str, Any], raw: object,
                                              expected: object) -> None:
    value = decode_one(column, raw)
    assert value == expected
    assert type(value) is type(expected)
    if isinstance(expected, Decimal):
        assert str(value) == str(expected)  # same digits and scale, not just equal


def test_json_keeps_every_digit_as_without_schemas() -> None:
    text = '{"price": 12.30, "big": 123456789012345678901234, "tiny": 1e-400, "k": "é"}'
    value = decode_one(field("v", "string", "io.debezium.data.Json"), text)
    assert repr(value) == repr(parse_json(text))  # the same as `->` reads a JSON text column
    assert repr(value) == repr({"price": Decimal("12.30"), "big": 123456789012345678901234,
                                "tiny": Decimal("1E-400"), "k": "é"})


def test_not_a_number_double() -> None:
    value = decode_one(field("v", "double"), "NaN")
    assert isinstance(value, float) and math.isnan(value)


def test_null_stays_null_whatever_the_type() -> None:
    for _, column, _, _ in LOGICAL_CASES:
        assert decode_one(column, None) is None


def test_compile_schema_returns_none_for_plain_values() -> None:
    assert compile_schema({"type": "string"}) is None
    assert compile_schema({"type": "struct", "fields": [field("a", "int64")]}) is None
    assert compile_schema({"type": "array", "items": {"type": "int32"}}) is None


def test_before_source_and_values_around_are_decoded() -> None:
    column = field("total", "bytes", DEC, parameters={"scale": "2"})
    doc = document({"id": 1, "total": "BNI="}, before={"id": 1, "total": "/w=="}, op="u",
                   columns=[column])
    change = decode_change(compact(doc), topic="shop.public.orders", partition=3, offset=42)
    assert change == Change(
        op="u", before={"id": 1, "total": Decimal("-0.01")},
        after={"id": 1, "total": Decimal("12.34")}, source=SOURCE, ts_ms=1714557600200,
        key=None, transaction=None, topic="shop.public.orders", partition=3, offset=42)


# --- document forms ----------------------------------------------------------------------


def test_schemas_on_in_every_input_form_gives_the_same_change() -> None:
    column = field("at", "int64", "io.debezium.time.MicroTimestamp")
    doc = document({"id": 1, "at": 1714557600123456}, columns=[column])
    forms = [compact(doc), compact(doc).decode(), json.dumps(doc).encode(),
             json.dumps(doc, indent=2).encode(), doc]
    changes = [decode_change(form) for form in forms]
    assert all(c == changes[0] for c in changes)
    assert changes[0] is not None and changes[0].after == {
        "id": 1, "at": datetime(2024, 5, 1, 10, 0, 0, 123456)}


def test_parsed_input_is_left_unchanged() -> None:
    column = field("at", "int32", "io.debezium.time.Date")
    doc = document({"id": 1, "at": 19844, "s": DEFAULT_UNAVAILABLE_VALUE}, columns=[column])
    before = json.dumps(doc)
    decode_change(doc)
    assert json.dumps(doc) == before


def test_schemas_off_values_stay_as_json_has_them() -> None:
    after = {"id": 1, "amount": "BNI=", "price": "12.34", "at": 1714557600123456, "day": 19844,
             "doc": '{"a": 1}', "ok": True, "score": "NaN"}
    change = decode_change(compact(document(dict(after))))
    assert change is not None and change.after == after


def test_a_known_schema_is_compiled_once() -> None:
    column = field("v", "bytes", DEC, parameters={"scale": "3"})
    first = compact(document({"id": 1, "v": "AQ=="}, columns=[column]))
    second = compact(document({"id": 2, "v": "Ag=="}, columns=[column]))
    decode_change(first)
    size = len(documents._SCHEMAS)
    change = decode_change(second)
    assert len(documents._SCHEMAS) == size
    assert change is not None and change.after == {"id": 2, "v": Decimal("0.002")}


def test_python_json_dumps_output_takes_the_schema_cache_too() -> None:
    column = field("v", "int32", "io.debezium.time.Date")
    first = json.dumps(document({"id": 1, "v": 0}, columns=[column])).encode()
    decode_change(first)
    size = len(documents._SCHEMAS)
    change = decode_change(json.dumps(document({"id": 2, "v": 1}, columns=[column])).encode())
    assert len(documents._SCHEMAS) == size
    assert change is not None and change.after == {"id": 2, "v": date(1970, 1, 2)}
    assert any(isinstance(text, bytes) and text.startswith(b' {"type"')
               for text, _ in documents._SCHEMAS.values())


def test_a_changed_schema_under_the_same_name_is_compiled_anew() -> None:
    as_date = field("v", "int32", "io.debezium.time.Date")
    as_int = field("v", "int32")
    first = decode_change(compact(document({"id": 1, "v": 1}, columns=[as_date])))
    second = decode_change(compact(document({"id": 1, "v": 1}, columns=[as_int])))
    assert first is not None and first.after == {"id": 1, "v": date(1970, 1, 2)}
    assert second is not None and second.after == {"id": 1, "v": 1}


def test_schema_null_means_no_schema() -> None:
    change = decode_change(compact({"schema": None, "payload": document({"id": 1})}))
    assert change is not None and change.after == {"id": 1}


# --- keys --------------------------------------------------------------------------------


def test_key_with_schema_is_decoded() -> None:
    key = {"schema": {"type": "struct", "name": "shop.public.orders.Key", "fields": [
        {"type": "string", "optional": False, "name": "io.debezium.data.Uuid", "field": "id"}]},
        "payload": {"id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}}
    change = decode_change(compact(document({"id": 1})), compact(key))
    assert change is not None
    assert change.key == {"id": UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")}


@pytest.mark.parametrize("key", [b'{"id":7}', '{"id":7}', {"id": 7}])
def test_key_without_schema(key: bytes | str | dict[str, Any]) -> None:
    change = decode_change(compact(document({"id": 7})), key)
    assert change is not None and change.key == {"id": 7}


@pytest.mark.parametrize("key", [None, b""])
def test_no_key(key: bytes | None) -> None:
    change = decode_change(compact(document({"id": 7})), key)
    assert change is not None and change.key is None


def test_a_key_that_is_not_an_object_is_an_error() -> None:
    with pytest.raises(ChangeDecodeError, match="record key is a JSON array, not an object"):
        decode_change(compact(document({"id": 7})), b"[7]")


# --- unavailable values ------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", [DEFAULT_UNAVAILABLE_VALUE, PLACEHOLDER_B64,
                                         [DEFAULT_UNAVAILABLE_VALUE], PLACEHOLDER_INTS],
                         ids=["text", "bytes", "text array", "int array"])
@pytest.mark.parametrize("schemas", [False, True], ids=["schemas-off", "schemas-on"])
@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "str"])
def test_placeholders_become_unknown(placeholder: object, schemas: bool, as_text: bool) -> None:
    columns = [field("note", "string"), field("blob", "bytes"),
               field("doc", "string", "io.debezium.data.Json"),
               field("tags", "array", items={"type": "string"}),
               field("nums", "array", items={"type": "int32"})]
    name = {str: "note", list: "tags"}[type(placeholder)]
    if placeholder == PLACEHOLDER_B64:
        name = "blob"
    elif placeholder == PLACEHOLDER_INTS:
        name = "nums"
    after = {"id": 1, name: placeholder, "other": "kept"}
    doc = document(after, before={"id": 1, name: placeholder}, op="u",
                   columns=columns if schemas else None)
    change = decode_change(compact(doc).decode() if as_text else compact(doc))
    assert change is not None and change.after is not None and change.before is not None
    assert change.after[name] is UNKNOWN and change.before[name] is UNKNOWN
    assert change.after["other"] == "kept"


def test_placeholder_in_a_json_column_with_schema() -> None:
    column = field("doc", "string", "io.debezium.data.Json")
    assert decode_one(column, DEFAULT_UNAVAILABLE_VALUE, op="u") is UNKNOWN


def test_placeholder_in_parsed_input() -> None:
    change = decode_change(document({"id": 1, "note": DEFAULT_UNAVAILABLE_VALUE}, op="u"))
    assert change is not None and change.after == {"id": 1, "note": UNKNOWN}


@pytest.mark.parametrize("op", ["c", "r"])
def test_inserts_and_snapshots_carry_every_value(op: str) -> None:
    # Debezium leaves values out of updates only: in a new row the text is the value
    change = decode_change(compact(document({"id": 1, "note": DEFAULT_UNAVAILABLE_VALUE}, op=op)))
    assert change is not None and change.after == {"id": 1, "note": DEFAULT_UNAVAILABLE_VALUE}


def test_placeholders_in_deletes_become_unknown() -> None:
    doc = document(None, before={"id": 1, "note": DEFAULT_UNAVAILABLE_VALUE}, op="d")
    change = decode_change(compact(doc))
    assert change is not None and change.before == {"id": 1, "note": UNKNOWN}


def test_configured_placeholder() -> None:
    settings = EnvelopeSettings(unavailable_value="<toasted>")
    doc = compact(document({"id": 1, "note": "<toasted>", "old": DEFAULT_UNAVAILABLE_VALUE,
                            "blob": base64.b64encode(b"<toasted>").decode()}, op="u"))
    change = decode_change(doc, settings=settings)
    assert change is not None
    assert change.after == {"id": 1, "note": UNKNOWN, "old": DEFAULT_UNAVAILABLE_VALUE,
                            "blob": UNKNOWN}


# --- records that are not changes --------------------------------------------------------

HEARTBEAT = b'{"ts_ms":1714557600000}'
TRANSACTION = b'{"status":"END","id":"571:5319","event_count":2,"data_collections":[],"ts_ms":1}'
SCHEMA_CHANGE = compact({"source": {"name": "shop"}, "ts_ms": 1, "databaseName": "shop",
                         "schemaName": None, "ddl": "CREATE TABLE t (id INT)", "tableChanges": []})


@pytest.mark.parametrize(("value", "topic", "kind"), [
    (None, "shop.public.orders", "tombstone"),
    (b"", "shop.public.orders", "tombstone"),
    (HEARTBEAT, "__debezium-heartbeat.shop", "heartbeat"),
    (HEARTBEAT, None, "heartbeat"),
    (compact({"schema": {"type": "struct", "name": "io.debezium.connector.common.Heartbeat",
                         "fields": [field("ts_ms", "int64")]},
              "payload": {"ts_ms": 1}}), "__debezium-heartbeat.shop", "heartbeat"),
    (b"garbage", "__debezium-heartbeat.shop", "heartbeat"),
    (TRANSACTION, "shop.transaction", "transaction"),
    (TRANSACTION.replace(b"END", b"BEGIN"), None, "transaction"),
    (SCHEMA_CHANGE, "shop", "schema-change"),
    (compact(document({"id": 1})), "shop.public.orders", "change"),
])
def test_classify_and_skip(value: bytes | None, topic: str | None, kind: str) -> None:
    assert classify(value, topic) == kind
    result = decode_change(value, topic=topic)
    assert (result is not None) == (kind == "change")


def test_a_table_named_transaction_is_still_a_table() -> None:
    change = decode_change(compact(document({"id": 1})), topic="shop.public.transaction")
    assert change is not None and change.op == "c"


@pytest.mark.parametrize("op", ["c", "u", "d", "r", "t", "m"])
def test_every_debezium_op_is_accepted(op: str) -> None:
    change = decode_change(compact(document(None, op=op)))
    assert change is not None and change.op == op


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "reason"), [
    (b"{not json", "record value is not JSON"),
    (b"\x00\x00\x00\x00\x01\x02", "schema registry wire format"),
    (b"[1, 2]", "record value is a JSON array, not an object"),
    (b'"text"', "record value is a JSON string, not an object"),
    (b'{"before": null, "after": {"id": 1}}', "has no `op`"),
    (compact(document({"id": 1}, op="x")), "unknown op 'x'"),
    (compact(document([1])), "`after` is a JSON array, not an object"),
    (b'{"schema":{"type":"struct","fields":[{"type":"int32"}]},"payload":{"op":"c"}}',
     "not a Kafka Connect schema"),
    (b'{"schema":[],"payload":{"op":"c"}}', "not a Kafka Connect schema"),
])
def test_undecodable_records(value: bytes, reason: str) -> None:
    with pytest.raises(ChangeDecodeError, match=reason) as caught:
        decode_change(value)
    assert isinstance(caught.value, RecordError) and caught.value.reason == "undecodable"
    assert caught.value.hint


@pytest.mark.parametrize("schemas", [False, True], ids=["schemas-off", "schemas-on"])
@pytest.mark.parametrize(("envelope", "reason"), [
    ({"source": "x"}, "`source` is a JSON string, not an object"),
    ({"source": [SOURCE]}, "`source` is a JSON array, not an object"),
    ({"source": []}, "`source` is a JSON array, not an object"),
    ({"source": {**SOURCE, "name": ["shop"]}}, "`source.name` is a JSON array, not a string"),
    ({"source": {**SOURCE, "schema": {"a": 1}}}, "`source.schema` is a JSON object, not a string"),
    ({"source": {**SOURCE, "db": [1]}}, "`source.db` is a JSON array"),
    ({"source": {**SOURCE, "table": 7}}, "`source.table` is a JSON number, not a string"),
    ({"source": {**SOURCE, "lsn": [1]}}, "`source.lsn` is a JSON array, not an integer"),
    ({"source": {**SOURCE, "ts_ms": "1"}}, "`source.ts_ms` is a JSON string, not an integer"),
    ({"source": {**SOURCE, "ts_ms": 10**17}}, "`source.ts_ms` 100000000000000000 is out of range"),
    ({"ts_ms": "abc"}, "`ts_ms` is a JSON string, not an integer"),
    ({"ts_ms": 1e300}, "`ts_ms` is a JSON number, not an integer"),
    ({"transaction": "x"}, "`transaction` is a JSON string, not an object"),
    ({"op": ["c"]}, r"unknown op \['c'\]"),
])
def test_envelope_fields_that_are_not_what_debezium_writes_are_undecodable(
    envelope: dict[str, Any], reason: str, schemas: bool
) -> None:
    """Fields the translator reads as plain values (to find the table, the fact time and
    the position) are checked here: the record is a dead letter, not a crash later."""
    doc = document({"id": 1}, columns=[] if schemas else None)
    (doc["payload"] if schemas else doc).update(envelope)
    with pytest.raises(ChangeDecodeError, match=reason) as caught:
        decode_change(compact(doc), topic="shop.public.orders", offset=3)
    assert caught.value.reason == "undecodable" and caught.value.hint


def test_a_missing_or_null_source_is_empty() -> None:
    for doc in ({"op": "c", "after": {"id": 1}}, {"op": "c", "after": None, "source": None}):
        change = decode_change(compact(doc))
        assert change is not None and change.source == {}


@pytest.mark.parametrize(("column", "raw", "reason"), [
    (field("amount", "bytes", DEC, parameters={"scale": "2"}), "not*base64",
     "cannot decode `after.amount`: not valid base64"),
    (field("amount", "bytes", DEC, parameters={"scale": "2"}), True,
     "cannot decode `after.amount`: a decimal is base64 text or a JSON number"),
    (field("ref", "string", "io.debezium.data.Uuid"), "not-a-uuid", "`after.ref`"),
    (field("doc", "string", "io.debezium.data.Json"), "{", "`after.doc`"),
    (field("at", "string", "io.debezium.time.ZonedTimestamp"), "yesterday", "`after.at`"),
    (field("g", "struct", "io.debezium.data.geometry.Point",
           fields=[field("wkb", "bytes"), field("srid", "int32")]), {"wkb": "%%"},
     "cannot decode `after.g.wkb`: not valid base64"),
    (field("r", "struct", "io.debezium.data.VariableScaleDecimal"), {"value": "AQ=="},
     "`after.r`"),
])
def test_values_that_do_not_match_their_schema(column: dict[str, Any], raw: object,
                                               reason: str) -> None:
    with pytest.raises(ChangeDecodeError, match=reason.replace("*", r"\*")):
        decode_one(column, raw)


def test_error_names_where_the_record_is() -> None:
    with pytest.raises(ChangeDecodeError, match=r"^shop.public.orders\[2\]@17: record value is"):
        decode_change(b"[]", topic="shop.public.orders", partition=2, offset=17)


def test_error_names_only_the_parts_of_where_that_are_known() -> None:
    with pytest.raises(ChangeDecodeError, match=r"^shop.public.orders: record value is"):
        decode_change(b"[]", topic="shop.public.orders")
    with pytest.raises(ChangeDecodeError, match=r"^shop.public.orders@17: record value is"):
        decode_change(b"[]", topic="shop.public.orders", offset=17)


def test_classify_raises_on_unknown_shapes() -> None:
    with pytest.raises(ChangeDecodeError, match=r"keys: a, b"):
        classify(b'{"a": 1, "b": 2}')


# --- captured records --------------------------------------------------------------------


def captured(name: str) -> list[dict[str, Any]]:
    path = FIXTURES / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def decode_all(name: str) -> list[tuple[str, Change | None]]:
    """Every captured record with its kind; raw text bytes exactly as Kafka delivered them."""
    decoded = []
    for record in captured(name):
        value = record["value"].encode() if record["value"] is not None else None
        key = record["key"].encode() if record["key"] is not None else None
        kind = classify(value, record["topic"])
        change = decode_change(value, key, topic=record["topic"],
                               partition=record["partition"], offset=record["offset"])
        decoded.append((kind, change))
    return decoded


def changes_of(name: str) -> list[Change]:
    return [change for _, change in decode_all(name) if change is not None]


PG_FILES = ["postgres-schemas-on", "postgres-schemas-off"]
MARIADB_FILES = ["mariadb-schemas-on", "mariadb-schemas-off"]
PG_OPS = [("r", 1), ("r", 2), ("c", 3), ("u", 1), ("c", 4), ("u", 3), ("d", 2), ("c", 5),
          ("u", 5), ("u", 3), ("c", 99)]
MARIADB_OPS = [("r", 1), ("r", 2), ("c", 3), ("u", 1), ("d", 2), ("c", 5), ("u", 5), ("c", 99)]


@pytest.mark.parametrize(("name", "ops"), [(f, PG_OPS) for f in PG_FILES]
                         + [(f, MARIADB_OPS) for f in MARIADB_FILES])
def test_captured_records_decode_in_order(name: str, ops: list[tuple[str, int]]) -> None:
    decoded = decode_all(name)
    kinds = {kind for kind, _ in decoded}
    assert {"change", "tombstone", "heartbeat", "transaction"} <= kinds
    changes = [change for _, change in decoded if change is not None]
    assert [(c.op, c.key and c.key["id"]) for c in changes] == ops
    for change in changes:
        assert change.connector == f"fixture_{name.split('-')[0].replace('postgres', 'pg')}_" \
                                   f"{name.rsplit('-', 1)[1]}"
        assert change.table in ("fixture.kinds", "shop.fixture_kinds")
        assert change.topic is not None and change.offset is not None
        assert isinstance(change.ts_ms, int) and isinstance(change.source["ts_ms"], int)
        assert change.is_snapshot == (change.op == "r")


def test_captured_mariadb_schema_changes_are_skipped() -> None:
    for name in MARIADB_FILES:
        kinds = [kind for kind, _ in decode_all(name)]
        assert "schema-change" in kinds


ROW1 = {
    "id": 1, "amount": Decimal("12.34"), "ratio": Decimal("3.14159"), "score": 2.5,
    "happened_at": datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC),
    "local_at": datetime(2024, 5, 1, 10, 0, 0, 500000), "day": date(2024, 5, 1),
    "at_time": time(10, 15, 30, 250000), "at_timetz": time(8, 15, 30, tzinfo=UTC),
    "span": timedelta(days=1, hours=2, minutes=3, seconds=4.5),
    "doc": {f"k{i:03d}": "v" * 20 for i in range(1, 201)},
    "ref": UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
    "blob": b"".join(i.to_bytes(4, "big") for i in range(1, 1001)),
    "active": True, "label": "first", "note": "0123456789" * 300,
    "tags": [f"tag-{i:04d}" for i in range(1, 301)], "nums": list(range(1, 1001)),
}
ROW3 = {
    "id": 3, "amount": Decimal("1234567890.12"), "ratio": Decimal("0.000123"),
    "score": -1.5e-7, "happened_at": datetime(2025, 1, 1, 4, 59, 59, 999999, tzinfo=UTC),
    "local_at": datetime(2000, 2, 29, 12, 0), "day": date(2000, 2, 29),
    "at_time": time(23, 59, 59, 999999), "at_timetz": time(3, 30, 0, 500000, tzinfo=UTC),
    # '-1 year 2 mons 3 days 04:05:06.789': Debezium counts a month as 30.4375 days
    "span": timedelta(days=-10 * 30.4375 + 3, hours=4, minutes=5, seconds=6.789),
    "doc": {"nested": {"x": 1}, "list": [True, None]},
    "ref": UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "blob": b"\xde\xad\xbe\xef",
    "active": False, "label": "third", "note": "short", "tags": ["a", "b c", None],
    "nums": [1, -2, 3],
}
NULLS = dict.fromkeys(ROW1, None)


def test_captured_postgres_with_schemas_decodes_every_type_exactly() -> None:
    changes = changes_of("postgres-schemas-on")
    snapshot1, snapshot2, insert3, update1, insert4, update3, delete2 = changes[:7]
    assert snapshot1.after == ROW1
    assert snapshot2.after == {**NULLS, "id": 2, "amount": Decimal("-0.01"),
                               "ratio": Decimal("-100"), "score": -0.5,
                               "happened_at": datetime(1969, 12, 31, 23, 59, 59, 999999,
                                                       tzinfo=UTC),
                               "local_at": datetime(1900, 1, 1), "day": date(1900, 1, 1),
                               "at_time": time(0, 0), "label": "second"}
    assert insert3.after == ROW3
    assert update1.before is None  # REPLICA IDENTITY DEFAULT
    toasted = ("doc", "blob", "note", "tags", "nums")
    assert update1.after == {**ROW1, "amount": Decimal("99.99"), "label": "renamed",
                             **dict.fromkeys(toasted, UNKNOWN)}
    assert insert4.after is not None
    score = insert4.after.pop("score")
    assert isinstance(score, float) and math.isnan(score)
    expected = {**NULLS, "id": 4, "happened_at": datetime.max.replace(tzinfo=UTC),
                "local_at": datetime.min, "day": date.max, "at_time": time.max, "label": "special"}
    del expected["score"]
    assert insert4.after == expected
    assert update3.after is not None and update3.after["note"] == "changed"
    assert delete2.before == {**NULLS, "id": 2} and delete2.after is None
    full_update = changes[9]
    assert full_update.before == {**ROW3, "active": True, "note": "changed"}
    assert full_update.after is not None and full_update.after["label"] == "full"


def test_captured_postgres_source_and_transaction() -> None:
    for name in PG_FILES:
        changes = changes_of(name)
        assert all(isinstance(c.source["lsn"], int) for c in changes)
        assert changes[0].source["snapshot"] == "first" and changes[1].source["snapshot"] == "last"
        in_tx = changes[7:9]
        assert [c.transaction and c.transaction["total_order"] for c in in_tx] == [1, 2]
        assert in_tx[0].transaction and in_tx[1].transaction
        assert str(in_tx[0].transaction["id"]).split(":")[0] == \
            str(in_tx[1].transaction["id"]).split(":")[0]
        assert changes[3].position.startswith("lsn:")


def test_captured_postgres_without_schemas_keeps_json_values() -> None:
    changes = changes_of("postgres-schemas-off")
    snapshot1, update1, insert4 = changes[0], changes[3], changes[4]
    assert snapshot1.after is not None
    assert snapshot1.after["amount"] == "BNI="  # decimal.handling.mode=precise: bytes, base64
    assert snapshot1.after["ratio"] == {"scale": 5, "value": "BMsv"}
    assert snapshot1.after["local_at"] == 1714557600500000
    assert snapshot1.after["day"] == 19844
    assert snapshot1.after["happened_at"] == "2024-05-01T08:00:00.123456Z"
    assert snapshot1.after["note"] == "0123456789" * 300
    assert snapshot1.after["tags"] == ROW1["tags"] and snapshot1.after["nums"] == ROW1["nums"]
    assert update1.after is not None
    assert {k: update1.after[k] for k in ("doc", "blob", "note", "tags", "nums")} == \
        dict.fromkeys(("doc", "blob", "note", "tags", "nums"), UNKNOWN)
    assert update1.after["label"] == "renamed"
    assert insert4.after is not None and insert4.after["score"] == "NaN"


MARIADB_ROW1 = {
    "id": 1, "amount": Decimal("12.34"), "score": 2.5,
    "happened_at": datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC),
    "local_at": datetime(2024, 5, 1, 10, 0, 0, 500000),
    "local_ms": datetime(2024, 5, 1, 10, 0, 0, 123000), "day": date(2024, 5, 1),
    "at_time": time(10, 15, 30, 250000), "doc": '{"a": [1, 2.5, "x"]}',
    "ref": UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427"), "blob_col": b"\x00\x01\x02\xff",
    "active": 1, "label": "first", "note": "note", "color": "green", "flags": "a,c",
    "bits": b"\x01\x02", "yr": 2024, "big": -1, "tiny": -128,
}


def test_captured_mariadb_with_schemas_decodes_every_type_exactly() -> None:
    changes = changes_of("mariadb-schemas-on")
    snapshot1, snapshot2, insert3, update1, delete2 = changes[:5]
    assert snapshot1.after == MARIADB_ROW1
    assert snapshot2.after == {**dict.fromkeys(MARIADB_ROW1), "id": 2, "amount": Decimal("-0.01"),
                               "score": -0.5, "local_at": datetime(1900, 1, 1),
                               "day": date(1900, 1, 1), "label": "second",
                               "at_time": -timedelta(hours=838, minutes=59, seconds=59)}
    assert insert3.after == {
        "id": 3, "amount": Decimal("1234567890.12"), "score": -1.5e-7,
        "happened_at": datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "local_at": datetime(2000, 2, 29, 12, 0), "local_ms": datetime(2000, 2, 29, 12, 0, 0, 1000),
        "day": date(2000, 2, 29), "at_time": time(23, 59, 59, 999999),
        "doc": '{"nested": {"x": 1}, "list": [true, null]}',
        "ref": UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "blob_col": b"\xde\xad\xbe\xef",
        "active": 0, "label": "third", "note": "short", "color": "red", "flags": "",
        "bits": b"\x01\x00", "yr": 1999, "big": 0, "tiny": 127,
    }
    assert update1.before == MARIADB_ROW1  # binlog_row_image=FULL
    assert update1.after == {**MARIADB_ROW1, "amount": Decimal("99.99"), "label": "renamed"}
    assert delete2.before == snapshot2.after and delete2.after is None
    assert update1.source["gtid"] and update1.position.startswith("gtid:")
    assert snapshot1.position.startswith("binlog:")


def test_captured_mariadb_without_schemas_keeps_json_values() -> None:
    snapshot1 = changes_of("mariadb-schemas-off")[0]
    assert snapshot1.after is not None
    assert snapshot1.after["amount"] == "BNI="
    assert snapshot1.after["happened_at"] == "2024-05-01T08:00:00.123456Z"
    assert snapshot1.after["local_ms"] == 1714557600123
    assert snapshot1.after["blob_col"] == "AAEC/w=="
    assert snapshot1.after["ref"] == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def test_captured_keys_agree_with_and_without_schemas() -> None:
    for on, off in [PG_FILES, MARIADB_FILES]:
        assert [c.key for c in changes_of(on)] == [c.key for c in changes_of(off)]


def test_zone_offsets_are_normalised_to_utc() -> None:
    value = decode_one(field("v", "string", "io.debezium.time.ZonedTimestamp"),
                       "2024-05-01T10:00:00-05:30")
    assert value == datetime(2024, 5, 1, 15, 30, tzinfo=UTC)
    assert isinstance(value, datetime) and value.tzinfo is UTC
    assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize("name", PG_FILES + MARIADB_FILES)
def test_the_standard_json_library_decodes_the_same(name: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    fast = decode_all(name)
    for part in (documents, records):  # the modules that parse records
        monkeypatch.setattr(part, "_loads", json.loads)
    monkeypatch.setattr(documents, "_SCHEMAS", {})
    slow = decode_all(name)
    assert len(fast) == len(slow)
    for (fast_kind, fast_change), (slow_kind, slow_change) in zip(fast, slow, strict=True):
        assert fast_kind == slow_kind
        if fast_change is None or slow_change is None:
            assert fast_change is slow_change
            continue
        assert repr(fast_change) == repr(slow_change)  # repr: NaN never equals itself


class _Bytes(bytes):
    pass


class _Text(str):
    __slots__ = ()


@pytest.mark.parametrize("wrap", [_Bytes, lambda raw: _Text(raw.decode())])
def test_a_subclass_of_bytes_or_str_decodes_as_its_base(wrap: Any) -> None:
    value = json.dumps({"op": "c", "after": {"id": 1}, "source": {"name": "shop"}}).encode()
    change = decode_change(wrap(value), topic="shop.public.orders")
    assert change is not None and change.after == {"id": 1}


@pytest.mark.parametrize("value", [7, [1], 1.5, object()])
def test_a_value_that_is_no_text_is_an_error_not_a_tombstone(value: Any) -> None:
    with pytest.raises(ChangeDecodeError, match="not JSON text or a parsed object"):
        decode_change(value, topic="shop.public.orders")
