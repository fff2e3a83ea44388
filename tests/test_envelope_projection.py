"""The compiled projection of schemaless change values: the same change as the general
decoder, with only the columns asked for, or ``None`` (and never a change from a record
the general decoder rejects)."""

from __future__ import annotations

import base64
import json
import random
import re
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_facts.changes import Change
from cdc_facts.envelope import DEFAULT_UNAVAILABLE_VALUE, decode_change
from cdc_facts.envelope.projection import (
    Projector,
    change_projector,
    compiled,
    schema_change_projector,
)
from cdc_facts.errors import ChangeDecodeError
from cdc_facts.types import UNKNOWN

pytestmark = pytest.mark.skipif(
    not compiled(), reason="the C decoder is not built (installed without a C compiler)"
)

COLUMNS = frozenset({"id", "status", "total", "ñame", "tags", "doc"})
TEXT = DEFAULT_UNAVAILABLE_VALUE
SOURCE = {"version": "3.5.0.Final", "connector": "postgresql", "name": "shop",
          "ts_ms": 1714557600001, "snapshot": "false", "db": "shop", "sequence": '["8","16"]',
          "ts_us": 1714557600000001, "ts_ns": 1714557600000000001, "schema": "public",
          "table": "orders", "txId": 1001, "lsn": 8, "xmin": None}  # fmt: skip


@pytest.fixture(scope="module")
def project() -> Projector:
    projector = change_projector(COLUMNS)
    assert projector is not None
    return projector


def envelope(op: str = "u", before: Any = None, after: Any = None, **extra: Any) -> dict[str, Any]:
    return {"before": before, "after": after, "source": SOURCE, "op": op, "ts_ms": 7,
            "transaction": None, **extra}


def kept(row: Any) -> Any:
    return {c: v for c, v in row.items() if c in COLUMNS} if isinstance(row, dict) else row


def expected(value: bytes, key: bytes | None) -> Change | None:
    """The general decoder's change with its rows cut to COLUMNS."""
    change = decode_change(value, key, topic="t", partition=1, offset=2)
    if change is None:
        return None
    return Change(change.op, kept(change.before), kept(change.after), change.source,
                  change.ts_ms, change.key, change.transaction, "t", 1, 2)


def same(a: Change | None, b: Change | None) -> bool:
    """Equal, UNKNOWN included, and with floats compared by their bits (-0.0 is not 0.0)."""
    return repr(a) == repr(b) and a == b


ROW = {"id": 7, "status": "paid", "note": "not read", "total": "12.50", "big": 2**63}


def test_keeps_only_the_columns_asked_for(project: Projector) -> None:
    value = orjson.dumps(envelope("u", ROW, {**ROW, "status": "shipped"}))
    change = project(value, b'{"id":7}', "t", 1, 2)
    assert change is not None
    assert change.before == {"id": 7, "status": "paid", "total": "12.50"}
    assert change.after == {"id": 7, "status": "shipped", "total": "12.50"}
    assert (change.op, change.ts_ms, change.key, change.source) == ("u", 7, {"id": 7}, SOURCE)
    assert (change.topic, change.partition, change.offset) == ("t", 1, 2)
    assert same(change, expected(value, b'{"id":7}'))


@pytest.mark.parametrize("form", [TEXT, base64.b64encode(TEXT.encode()).decode(), [TEXT],
                                  list(TEXT.encode())])
@pytest.mark.parametrize("op", ["u", "d"])
def test_a_placeholder_is_unknown_on_updates_and_deletes(project: Projector, form: object,
                                                         op: str) -> None:
    row = {"id": 1, "status": form, "tags": form, "note": form}
    change = project(orjson.dumps(envelope(op, row, row if op == "u" else None)), None, "t", 1, 2)
    assert change is not None
    assert change.before == {"id": 1, "status": UNKNOWN, "tags": UNKNOWN}
    assert change.after == (change.before if op == "u" else None)


@pytest.mark.parametrize("op", ["c", "r"])
def test_a_placeholder_is_text_on_inserts_and_reads(project: Projector, op: str) -> None:
    value = orjson.dumps(envelope(op, None, {"id": 1, "status": TEXT, "tags": [TEXT]}))
    change = project(value, None, "t", 1, 2)
    assert change is not None and change.after == {"id": 1, "status": TEXT, "tags": [TEXT]}
    assert same(change, expected(value, None))


@pytest.mark.parametrize("value", [
    b'{"op":"c","after":{"status":"\\u00f1\\ud83d\\ude00\\n\\"\\\\\\/\\b\\f\\r\\t"}}',
    '{"op":"c","after":{"ñame":"Zoë 東京 😀","status":"x"}}'.encode(),
    b'{"op":"c","after":{"total":[1,-0,-0.0,1.5e-3,2E+2,1e-400,18446744073709551615,'
    b'-9223372036854775808,0.1,123456789.123456789e10]}}',
    b'{"op":"c","after":{"doc":{"a":[{"b":null,"c":true,"d":false}],"":{}},"tags":[]}}',
    b' \n{ "op" : "c" ,\t"after" : { "id" : 1 , "id" : 2 } , "op":"u" }\r\n',
    b'{"op":"c","after":{"\\u0069d":5,"st\\u0061tus":"x"}}',
    b'{"op":"c","after":null,"before":{"id":1},"source":null,"ts_ms":null}',
    b'{"op":"c","after":{"note":1e300,"skipped":[1,{"a":"\\ud83d\\ude00"}]}}',
    b'{"op":"c","after":{"id":1},"ts_us":99999999999999999999999}',
    b'{"op":"c","after":{"total":[9999999999999999999,10000000000000000000,'  # 19, 20 digits
    b'-999999999999999999,-9223372036854775807,1000000000000000000]}}',
])
def test_values_are_what_orjson_makes(project: Projector, value: bytes) -> None:
    change = project(value, None, "t", 1, 2)
    assert change is not None
    assert same(change, expected(value, None))


def test_member_names_are_interned_and_values_are_not(project: Projector) -> None:
    """A name the code spells (``source.get("ts_ms")``) then finds its member by identity;
    values such as ``sequence`` change every record and stay out of the interned table."""
    value = b'{"op":"c","after":{"id":1},"source":{"ts_ms":5,"seq_name":"x1"},"transaction":' \
            b'{"id":"x1"}}'
    for _ in range(2):  # made, then taken from the decoder's cache
        change = project(value, None, "t", 1, 2)
        assert change is not None and change.transaction is not None
        names = {name: name for name in (*change.source, *change.transaction)}
        assert names["ts_ms"] is sys.intern("ts_ms")
        assert names["seq_name"] is sys.intern("seq_name")
        assert names["id"] is sys.intern("id")
    assert change.source["seq_name"] == "x1"
    assert not _is_interned(change.source["seq_name"])
    nested = b'{"op":"c","after":{"doc":{"id_8341":1}},"source":{"ts_ms":5,"n":{"id_8342":2}}}'
    everything = change_projector(frozenset({"doc"}))
    assert everything is not None
    change = everything(nested, None, "t", 1, 2)
    assert change is not None and change.after is not None
    inner = [*change.after["doc"], *change.source["n"]]  # type: ignore[union-attr]
    assert inner == ["id_8341", "id_8342"]
    assert not any(_is_interned(name) for name in inner)  # ids in values: never interned


def test_source_members_nobody_reads_are_left_out_and_still_checked() -> None:
    unread = frozenset({"version", "ts_us", "connector", "xy"})  # 7, 5, 9 and 2 bytes
    project = change_projector(COLUMNS, unread_source=unread)
    assert project is not None
    source = {**SOURCE, "nested": {"version": 1, "ts_us": 2}, "xy": 1, "xz": 2, "ts_uz": 3,
              "connectox": 4}  # near misses are kept
    value = orjson.dumps(envelope("c", None, ROW, source=source))
    change = project(value, None, "t", 1, 2)
    reference = expected(value, None)
    assert change is not None and reference is not None
    assert change.source == {k: v for k, v in reference.source.items() if k not in unread}
    assert change.source["nested"] == {"version": 1, "ts_us": 2}  # only the block's own
    assert change.after == reference.after and change.op == reference.op
    broken = value.replace(b'"version":"3.5.0.Final"', b'"version":3.5.0')
    assert broken != value and project(broken, None, "t", 1, 2) is None  # still strict JSON
    with pytest.raises(ValueError, match="at most 8"):
        change_projector(COLUMNS, unread_source=frozenset(f"f{i}" for i in range(9)))


def _is_interned(text: str) -> bool:
    copy = "".join(list(text))  # an equal str that is another object
    return sys.intern(copy) is text


@pytest.mark.parametrize("value, why", [
    (b'{"op":"c","after":{"id":1}', "unterminated"),
    (b'{"op":"c","after":{"id":1}}x', "trailing content"),
    (b'{"op":"c","after":{"id":1,}}', "trailing comma"),
    (b'{"op":"c","after":{"id":01}}', "leading zero"),
    (b'{"op":"c","after":{"note":1e400}}', "infinity in a column not read"),
    (b'{"op":"c","after":{"note":"\\ud800"}}', "lone high surrogate in a column not read"),
    (b'{"op":"c","after":{"note":"\\udc00"}}', "lone low surrogate"),
    (b'{"op":"c","after":{"note":"\xed\xa0\x80"}}', "UTF-8 surrogate"),
    (b'{"op":"c","after":{"note":"\xc0\xaf"}}', "overlong UTF-8"),
    (b'{"op":"c","after":{"note":"\xf4\x90\x80\x80"}}', "past U+10FFFF"),
    (b'{"op":"c","after":{"note":"\xe2\x82"}}', "cut UTF-8"),
    (b'{"op":"c","after":{"note":"a\x01b"}}', "control character"),
    (b'{"op":"c","after":{"note":"\\x"}}', "bad escape"),
    (b'{"op":"c","after":{"note":NaN}}', "NaN"),
    (b'{"op":"c","after":{"note":tru}}', "cut literal"),
    (b'{"op":"c","after":{"note":-}}', "lone minus"),
    (b'{"op":"c","after":{"note":1.}}', "no fraction digits"),
    (b'{"op":"c","after":{"id":1}}\x00', "NUL after the document"),
])
def test_invalid_json_is_never_accepted(project: Projector, value: bytes, why: str) -> None:
    with pytest.raises(ValueError):
        orjson.loads(value)
    assert project(value, None, "t", 1, 2) is None, why
    with pytest.raises(ChangeDecodeError):
        decode_change(value)


@pytest.mark.parametrize("value, key", [
    (b'{"schema":{"type":"struct"},"payload":{"op":"c"}}', None),  # a JsonConverter document
    (b'{"payload":{"op":"c"}}', None),
    (b'{"op":"x","after":{"id":1}}', None),  # unknown op: the general path names it
    (b'{"op":1,"after":{"id":1}}', None),
    (b'{"after":{"id":1}}', None),  # no op: a heartbeat or some other record
    (b'{"ts_ms":1}', None),
    (b'[1,2]', None),
    (b'null', None),
    (b'{"op":"c","after":[1]}', None),  # rows and source must be objects
    (b'{"op":"c","source":"x"}', None),
    (b'{"op":"c","after":{"id":18446744073709551616}}', None),  # past 64 bits: a float
    (b'{"op":"c","after":{"id":-9223372036854775809}}', None),
    (b'{"op":"c","after":{"id":1}}', b'{"schema":{"type":"int32"},"payload":1}'),
    (b'{"op":"c","after":{"id":1}}', b'7'),
    (b'{"op":"c","after":{"id":1}}', b'{"id":1'),
    (b'{"op":"c","after":{"doc":' + b"[" * 300 + b"]" * 300 + b"}}", None),  # deeper than 256
    # an escaped envelope field name is the field for orjson: left to the general decoder
    (b'{"op":"c","after":{"id":1},"\\u006fp":"d"}', None),
    (b'{"op":"c","after":{"id":1},"\\u0061fter":{"id":2}}', None),
    (b'{"op":"c","\\u0070ayload":{"op":"d"},"after":{"id":1}}', None),
])
def test_what_it_leaves_to_the_general_decoder(project: Projector, value: bytes,
                                                key: bytes | None) -> None:
    assert project(value, key, "t", 1, 2) is None


@pytest.mark.parametrize("topic", ["__debezium-heartbeat.shop", "__debezium-heartbeat", 7])
def test_a_record_of_a_heartbeat_topic_is_left_to_the_general_decoder(
    project: Projector, topic: Any
) -> None:
    """Whatever it holds: the general decoder makes no change of it (and the translator
    tests for neither a heartbeat topic nor a schema before this decoder)."""
    value = b'{"op":"c","after":{"id":1},"source":{"name":"shop"}}'
    assert project(value, None, topic, 1, 2) is None
    assert project(value, None, "__debezium-heartbea", 1, 2) is not None
    assert project(value, None, None, 1, 2) is not None
    if isinstance(topic, str):
        assert decode_change(value, topic=topic) is None


@pytest.mark.parametrize(("envelope_fields", "reason"), [
    ({"source": "x"}, "`source` is a JSON string"),
    ({"source": [SOURCE]}, "`source` is a JSON array"),
    ({"source": {**SOURCE, "name": ["shop"]}}, "`source.name` is a JSON array"),
    ({"source": {**SOURCE, "schema": {"a": "public"}}}, "`source.schema` is a JSON object"),
    ({"source": {**SOURCE, "db": [1]}}, "`source.db` is a JSON array"),
    ({"source": {**SOURCE, "table": ["orders"]}}, "`source.table` is a JSON array"),
    ({"source": {**SOURCE, "lsn": {"a": 1}}}, "`source.lsn` is a JSON object"),
    ({"source": {**SOURCE, "ts_ms": "1"}}, "`source.ts_ms` is a JSON string"),
    ({"source": {**SOURCE, "ts_ms": 2**62}}, "`source.ts_ms` .* is out of range"),
    ({"ts_ms": [1]}, "`ts_ms` is a JSON array"),
    ({"transaction": "x"}, "`transaction` is a JSON string"),
])
def test_an_envelope_the_general_decoder_refuses_is_never_projected(
    project: Projector, project_with_schema: Projector, envelope_fields: dict[str, Any],
    reason: str,
) -> None:
    """The source block is kept whole: what it holds is checked as decode_change checks it,
    with schemas off and on."""
    value = orjson.dumps({**envelope("c", None, {"id": 1}), **envelope_fields})
    assert project(value, None, "t", 1, 2) is None
    with pytest.raises(ChangeDecodeError, match=reason):
        decode_change(value)
    topic = "shop.public.schema_envelope"
    decode_change(with_schema(envelope("c", None, ORDER)), None, topic=topic)  # now known
    value = with_schema({**envelope("c", None, ORDER), **envelope_fields})
    assert project_with_schema(value, None, topic, 0, 1) is None
    with pytest.raises(ChangeDecodeError, match=reason):
        decode_change(value, None, topic=topic)


@pytest.mark.parametrize("key", [None, b"", b'{"id":1}', b' {"id":"\\u00e9","k":[1]} '])
def test_keys_without_a_schema(project: Projector, key: bytes | None) -> None:
    value = orjson.dumps(envelope("c", None, {"id": 1}))
    change = project(value, key, "t", 1, 2)
    assert change is not None and same(change, expected(value, key))


def test_another_set_of_columns_is_taken_as_given() -> None:
    first, second = change_projector(frozenset({"a"})), change_projector(frozenset({"b"}))
    assert first is not None and second is not None
    value = b'{"op":"c","after":{"a":1,"b":2}}'
    for _ in range(2):  # the compiled set is rebuilt on each change of columns
        assert first(value, None, None, None, None).after == {"a": 1}  # type: ignore[union-attr]
        assert second(value, None, None, None, None).after == {"b": 2}  # type: ignore[union-attr]


# --- generated envelopes ----------------------------------------------------------------

NAMES = st.sampled_from(sorted(COLUMNS | {"note", "other", "a\u00e9", "x\"y", ""}))
SCALARS = (
    st.none() | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from([TEXT, base64.b64encode(TEXT.encode()).decode(), "", "paid"])
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
ROWS = st.none() | st.dictionaries(NAMES, VALUES, max_size=8)


def _dumps(document: Any, style: int) -> bytes:
    if style == 0:
        return orjson.dumps(document)
    if style == 1:
        return json.dumps(document, ensure_ascii=True).encode()
    return json.dumps(document, ensure_ascii=False, indent=1).encode()


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(["c", "u", "d", "r", "t"]), before=ROWS, after=ROWS,
       style=st.integers(0, 2), key=st.sampled_from([None, b'{"id":1}', b'{"k":"\\u00e9"}']))
def test_generated_envelopes_decode_as_the_general_decoder_does(
    op: str, before: Any, after: Any, style: int, key: bytes | None
) -> None:
    project = change_projector(COLUMNS)
    assert project is not None
    value = _dumps(envelope(op, before, after), style)
    change = project(value, key, "t", 1, 2)
    assert change is not None  # 64-bit numbers, plain JSON: never left to the general path
    assert same(change, expected(value, key))


@settings(max_examples=600, deadline=None)
@given(data=st.data(), before=ROWS, after=ROWS)
def test_damaged_envelopes_are_refused_or_decoded_alike(data: st.DataObject, before: Any,
                                                        after: Any) -> None:
    project = change_projector(COLUMNS)
    assert project is not None
    value = bytearray(orjson.dumps(envelope("u", before, after)))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for _ in range(data.draw(st.integers(1, 3))):
        if not value:  # cut down to nothing: the empty record is refused below
            break
        at = rng.randrange(len(value))
        action = rng.randrange(3)
        if action == 0:
            value[at] = rng.randrange(256)
        elif action == 1:
            del value[at:]
        else:
            value[at:at] = bytes([rng.choice(b'"\\{}[],:0-eE.ntf\x80\xff \x01u')])
    raw = bytes(value)
    change = project(raw, None, "t", 1, 2)
    try:
        orjson.loads(raw)
    except ValueError:
        assert change is None  # never accepts what orjson rejects
        return
    if change is not None:
        assert same(change, expected(raw, None))


# --- values with a schema (schemas.enable=true) ---------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "debezium"


def _column(name: str, kind: str, logical: str | None = None, **parameters: str) -> dict[str, Any]:
    column: dict[str, Any] = {"type": kind, "optional": True, "field": name}
    if logical:
        column["name"] = logical
    if parameters:
        column["parameters"] = parameters
    return column


ROW_SCHEMA = {"type": "struct", "optional": True, "name": "shop.public.orders.Value", "fields": [
    _column("id", "int32"),
    _column("status", "string"),
    _column("total", "bytes", "org.apache.kafka.connect.data.Decimal", scale="2"),
    _column("placed_at", "string", "io.debezium.time.ZonedTimestamp"),
    _column("note", "bytes", "org.apache.kafka.connect.data.Decimal", scale="2"),
]}
VALUE_SCHEMA = {"type": "struct", "optional": False, "name": "shop.public.orders.Envelope",
                "fields": [{**ROW_SCHEMA, "field": "before"}, {**ROW_SCHEMA, "field": "after"},
                           {"type": "struct", "optional": False, "field": "source",
                            "fields": [_column(n, "string") for n in SOURCE]},
                           _column("op", "string"), _column("ts_ms", "int64")]}
WITH_SCHEMA_COLUMNS = frozenset({"id", "status", "total", "placed_at"})  # not "note"
CENTS = base64.b64encode((1250).to_bytes(2, "big")).decode()


def with_schema(payload: dict[str, Any], schema: dict[str, Any] = VALUE_SCHEMA) -> bytes:
    return orjson.dumps({"schema": schema, "payload": payload})


def key_with_schema(id_: int, logical: str | None = None) -> bytes:
    schema = {"type": "struct", "optional": False, "fields": [_column("id", "int32", logical)]}
    return orjson.dumps({"schema": schema, "payload": {"id": id_}})


def cut(change: Change | None, columns: frozenset[str]) -> Change | None:
    if change is None:
        return None

    def rows(row: Any) -> Any:
        return {c: v for c, v in row.items() if c in columns} if isinstance(row, dict) else row

    return Change(change.op, rows(change.before), rows(change.after), change.source,
                  change.ts_ms, change.key, change.transaction, change.topic, change.partition,
                  change.offset)


@pytest.fixture(scope="module")
def project_with_schema() -> Projector:
    plain = change_projector(WITH_SCHEMA_COLUMNS)
    assert plain is not None
    return schema_change_projector(plain, WITH_SCHEMA_COLUMNS)


ORDER = {"id": 7, "status": "paid", "total": CENTS, "placed_at": "2024-05-01T10:00:00+02:00",
         "note": CENTS}


def test_a_value_with_a_known_schema_keeps_and_decodes_only_the_columns_asked_for(
    project_with_schema: Projector,
) -> None:
    topic = "shop.public.schema_kept"
    first = with_schema(envelope("u", ORDER, {**ORDER, "status": "shipped"}))
    assert project_with_schema(first, key_with_schema(7), topic, 0, 1) is None  # not seen yet
    general = decode_change(first, key_with_schema(7), topic=topic, partition=0, offset=1)
    value = with_schema(envelope("u", {**ORDER, "id": 8}, {**ORDER, "id": 8, "status": "x"}))
    change = project_with_schema(value, key_with_schema(8), topic, 0, 2)
    assert change is not None and general is not None
    assert change.after == {"id": 8, "status": "x", "total": Decimal("12.50"),
                            "placed_at": datetime(2024, 5, 1, 8, tzinfo=UTC)}
    assert change.key == {"id": 8} and change.source == SOURCE
    assert same(change, cut(decode_change(value, key_with_schema(8), topic=topic,
                                          partition=0, offset=2), WITH_SCHEMA_COLUMNS))


def test_a_key_with_a_logical_type_is_decoded(project_with_schema: Projector) -> None:
    topic = "shop.public.schema_dated_keys"
    value = with_schema(envelope("c", None, ORDER))
    key = key_with_schema(19844, "io.debezium.time.Date")
    decode_change(value, key, topic=topic)
    change = project_with_schema(value, key, topic, 0, 1)
    assert change is not None and change.key == {"id": date(2024, 5, 1)}


def test_a_placeholder_with_a_schema_is_unknown_not_decoded(
    project_with_schema: Projector,
) -> None:
    topic = "shop.public.schema_toast"
    placeholder = base64.b64encode(TEXT.encode()).decode()
    value = with_schema(envelope("u", None, {**ORDER, "total": placeholder, "status": TEXT}))
    decode_change(value, None, topic=topic)
    change = project_with_schema(value, None, topic, 0, 1)
    assert change is not None and change.after is not None
    assert change.after["total"] is UNKNOWN and change.after["status"] is UNKNOWN
    assert same(change, cut(decode_change(value, None, topic=topic, partition=0, offset=1),
                            WITH_SCHEMA_COLUMNS))


def test_a_value_that_does_not_match_its_schema_is_left_to_the_general_decoder(
    project_with_schema: Projector,
) -> None:
    topic = "shop.public.schema_mismatch"
    decode_change(with_schema(envelope("c", None, ORDER)), None, topic=topic)
    bad = with_schema(envelope("c", None, {**ORDER, "placed_at": "yesterday"}))
    assert project_with_schema(bad, None, topic, 0, 1) is None
    with pytest.raises(ChangeDecodeError, match=r"after\.placed_at"):
        decode_change(bad, None, topic=topic)


def test_a_column_no_rule_reads_is_not_decoded(project_with_schema: Projector) -> None:
    """The documented difference: the general decoder checks every column against the
    schema, the projection only the columns it keeps (JSON is checked in full)."""
    topic = "shop.public.schema_unread"
    decode_change(with_schema(envelope("c", None, ORDER)), None, topic=topic)
    value = with_schema(envelope("c", None, {**ORDER, "note": "not base64!"}))
    change = project_with_schema(value, None, topic, 0, 1)
    assert change is not None and change.after is not None and "note" not in change.after
    with pytest.raises(ChangeDecodeError, match=r"after\.note"):
        decode_change(value, None, topic=topic)


def test_another_schema_on_the_topic_is_decoded_in_full_then_projected(
    project_with_schema: Projector,
) -> None:
    topic = "shop.public.schema_changed"
    decode_change(with_schema(envelope("c", None, ORDER)), None, topic=topic)
    wider = {**VALUE_SCHEMA, "name": "shop.public.orders.Envelope2"}
    value = with_schema(envelope("c", None, ORDER), wider)
    assert project_with_schema(value, None, topic, 0, 1) is None  # another schema's text
    decode_change(value, None, topic=topic)
    assert project_with_schema(value, None, topic, 0, 2) is not None


@pytest.mark.parametrize("damage", [b"]", b'"', b"{", b"\xff"])
def test_damaged_payloads_with_a_known_schema_are_refused(project_with_schema: Projector,
                                                          damage: bytes) -> None:
    topic = "shop.public.schema_damaged"
    value = with_schema(envelope("c", None, ORDER))
    decode_change(value, None, topic=topic)
    at = value.index(b'"status"')
    damaged = value[:at] + damage + value[at:]
    assert project_with_schema(damaged, None, topic, 0, 1) is None
    with pytest.raises(ChangeDecodeError):
        decode_change(damaged, None, topic=topic)


@pytest.mark.parametrize("name", ["postgres-schemas-on", "mariadb-schemas-on"])
def test_captured_values_with_a_schema_decode_as_the_general_decoder_does(name: str) -> None:
    """Every change record captured from the real connector, every column kept but every
    third, decodes as the general decoder decodes it, once its topic's schema is known."""
    records = [json.loads(line) for line in (FIXTURES / f"{name}.jsonl").read_text().splitlines()
               if line.strip()]
    names: set[str] = set()
    for record in records:
        payload = json.loads(record["value"] or "null")
        for image in ("before", "after"):
            row = ((payload or {}).get("payload") or {}).get(image)
            names.update(row or ())
    columns = frozenset(sorted(names)[::3]) ^ frozenset(names)
    plain = change_projector(columns)
    assert plain is not None
    project_schema = schema_change_projector(plain, columns)
    projected = 0
    for record in records:
        value = record["value"].encode() if record["value"] else None
        key = record["key"].encode() if record["key"] else None
        topic, partition, offset = record["topic"], record["partition"], record["offset"]
        general = decode_change(value, key, topic=topic, partition=partition, offset=offset)
        if value is None or topic.startswith("__debezium-heartbeat"):
            continue
        change = project_schema(value, key, topic, partition, offset)
        if general is None:
            assert change is None
            continue
        assert change is not None, record
        assert same(change, cut(general, columns))
        projected += 1
    assert projected >= 5  # every change record of the fixture, asserted one by one above


def _unscaled(number: int) -> str:
    """Base64 of the big-endian two's-complement bytes of ``number``, as Connect writes a
    ``Decimal``."""
    size = max(1, (number + (number < 0)).bit_length() // 8 + 1)
    return base64.b64encode(number.to_bytes(size, "big", signed=True)).decode()


TYPED_COLUMNS = [
    _column("id", "int32"),
    _column("amount", "bytes", "org.apache.kafka.connect.data.Decimal", scale="2"),
    {"type": "struct", "optional": True, "field": "ratio",
     "name": "io.debezium.data.VariableScaleDecimal",
     "fields": [_column("scale", "int32"), _column("value", "bytes")]},
    _column("day", "int32", "io.debezium.time.Date"),
    _column("at", "int64", "io.debezium.time.MicroTimestamp"),
    _column("zoned", "string", "io.debezium.time.ZonedTimestamp"),
    _column("clock", "int64", "io.debezium.time.MicroTime"),
    _column("doc", "string", "io.debezium.data.Json"),
    _column("uid", "string", "io.debezium.data.Uuid"),
    _column("blob", "bytes"),
    _column("score", "double"),
    _column("flag", "boolean"),
    {"type": "array", "optional": True, "field": "tags", "items": {"type": "string"}},
    _column("name", "string"),
]
TYPED_ROW_SCHEMA = {"type": "struct", "optional": True, "name": "shop.public.typed.Value",
                    "fields": TYPED_COLUMNS}
TYPED_SCHEMA = {**VALUE_SCHEMA, "name": "shop.public.typed.Envelope",
                "fields": [{**TYPED_ROW_SCHEMA, "field": "before"},
                           {**TYPED_ROW_SCHEMA, "field": "after"}, *VALUE_SCHEMA["fields"][2:]]}
#: The placeholder as Debezium writes it into a text column and into a bytes column: valid
#: values of those columns whatever the operation (only updates and deletes make it unknown).
TEXT_PLACEHOLDER = st.just(TEXT)
BYTES_PLACEHOLDER = st.just(base64.b64encode(TEXT.encode()).decode())
TYPED_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.integers(-(2**31), 2**31 - 1),
    "amount": st.integers(-(10**30), 10**30).map(_unscaled) | BYTES_PLACEHOLDER,
    "ratio": st.builds(lambda scale, value: {"scale": scale, "value": _unscaled(value)},
                       st.integers(0, 12), st.integers(-(10**20), 10**20)),
    "day": st.integers(-700_000, 2_900_000),
    "at": st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999),
    "zoned": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    "clock": st.integers(0, 86_399_999_999),
    "doc": st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                        lambda inner: st.lists(inner, max_size=3), max_leaves=5).map(json.dumps),
    "uid": st.uuids().map(str),
    "blob": st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode())
    | BYTES_PLACEHOLDER,
    "score": st.floats(allow_nan=False, allow_infinity=False),
    "flag": st.booleans(),
    "tags": st.lists(st.text(max_size=5), max_size=3) | st.just([TEXT]),
    "name": st.text(max_size=12) | TEXT_PLACEHOLDER,
}
TYPED_ROWS = st.none() | st.fixed_dictionaries(
    {}, optional={name: st.none() | values for name, values in TYPED_VALUES.items()})
TYPED_NAMES = sorted(TYPED_VALUES)


def _typed_projector(kept: list[str]) -> tuple[Projector, frozenset[str]]:
    columns = frozenset(kept)
    plain = change_projector(columns)
    assert plain is not None
    return schema_change_projector(plain, columns), columns


def _typed_topic() -> str:
    topic = "shop.public.typed"
    decode_change(with_schema(envelope("c", None, {"id": 1}), TYPED_SCHEMA), None, topic=topic)
    return topic  # its schema is now known byte for byte


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(["c", "u", "d", "r"]), before=TYPED_ROWS, after=TYPED_ROWS,
       kept=st.lists(st.sampled_from(TYPED_NAMES), unique=True), key=st.integers(0, 2**31))
def test_generated_values_with_a_schema_decode_as_the_general_decoder_does(
    op: str, before: Any, after: Any, kept: list[str], key: int
) -> None:
    project, columns = _typed_projector(kept)
    topic = _typed_topic()
    value = with_schema(envelope(op, before, after), TYPED_SCHEMA)
    key_bytes = key_with_schema(key)
    general = decode_change(value, key_bytes, topic=topic, partition=1, offset=2)
    change = project(value, key_bytes, topic, 1, 2)
    assert change is not None  # every value valid: never left to the general decoder
    assert same(change, cut(general, columns))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), after=TYPED_ROWS, kept=st.lists(st.sampled_from(TYPED_NAMES),
                                                       unique=True))
def test_damaged_values_with_a_schema_are_refused_or_decoded_alike(
    data: st.DataObject, after: Any, kept: list[str]
) -> None:
    """A damaged payload (its schema intact) gives no change where the general decoder
    fails, except when only a column no rule reads breaks its schema (documented)."""
    project, columns = _typed_projector(kept)
    topic = _typed_topic()
    value = bytearray(with_schema(envelope("u", None, after), TYPED_SCHEMA))
    start = value.index(b',"payload":') + 11
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for _ in range(data.draw(st.integers(1, 3))):
        at = rng.randrange(start, len(value))
        value[at:at + rng.randrange(2)] = bytes([rng.choice(b'"\\{}[],:0-eE.nt\x80 AZ=+/')])
    raw = bytes(value)
    change = project(raw, None, topic, 1, 2)
    try:
        general = decode_change(raw, None, topic=topic, partition=1, offset=2)
    except ChangeDecodeError as exc:
        if change is not None:  # only an unread column may break its schema unseen
            broken = re.search(r"cannot decode `(?:before|after)\.([^.`]+)", exc.message)
            assert broken is not None and broken.group(1) not in columns, exc.message
        return
    if change is not None:
        assert same(change, cut(general, columns))


KEY_SCHEMA_TEXT = b'{"type":"struct","optional":false,"fields":[{"type":"int32","optional":false,"field":"id"}]}'  # noqa: E501


@pytest.mark.parametrize("key", [
    b'{"schemX":' + KEY_SCHEMA_TEXT + b',"payload":{"id":7}}',  # JSON, but no schema+payload
    b"@@@@@@@@@@" + KEY_SCHEMA_TEXT + b',"payload":{"id":7}}',  # not JSON at all
    b'{"schema":' + KEY_SCHEMA_TEXT + b',"payload":}',  # no payload
    b'{"schema":' + KEY_SCHEMA_TEXT + b',"payload":7}',  # a payload that is no object
])
def test_a_key_that_only_looks_like_one_with_a_known_schema_is_decoded_as_a_whole(
    project_with_schema: Projector, key: bytes
) -> None:
    topic = "shop.public.schema_odd_keys"
    value = with_schema(envelope("c", None, ORDER))
    decode_change(value, b'{"schema":' + KEY_SCHEMA_TEXT + b',"payload":{"id":7}}',
                  topic=topic)  # the topic's key schema is now known
    change = project_with_schema(value, key, topic, 0, 1)
    try:
        general = decode_change(value, key, topic=topic, partition=0, offset=1)
    except ChangeDecodeError:
        assert change is None
        return
    assert change is None or same(change, cut(general, WITH_SCHEMA_COLUMNS))


@pytest.mark.parametrize("row", [
    {**ROW_SCHEMA, "name": "io.debezium.data.Json"},  # a row that is a logical type
    {**ROW_SCHEMA, "fields": [*ROW_SCHEMA["fields"], ROW_SCHEMA["fields"][2]]},  # total twice
])
def test_rows_the_column_decoders_cannot_describe_are_left_to_the_general_decoder(
    project_with_schema: Projector, row: dict[str, Any]
) -> None:
    schema = {**VALUE_SCHEMA, "fields": [{**row, "field": "before"}, {**row, "field": "after"},
                                         *VALUE_SCHEMA["fields"][2:]]}
    topic = "shop.public.schema_odd_rows"
    value = with_schema(envelope("c", None, ORDER), schema)
    try:
        decode_change(value, None, topic=topic)  # remembers the schema, whatever it says
    except ChangeDecodeError as exc:  # a named problem (a dead letter), never a crash
        assert "after" in exc.message
    assert project_with_schema(value, None, topic, 0, 1) is None
