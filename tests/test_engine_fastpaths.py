"""The engine's fast paths give exactly what the plain paths give.

Each shortcut on the hot path (schemas found by topic, keys parsed directly, fact ids from
pre-hashed parts, dataclasses built slot by slot, values kept when already of their
declared type, conditions compiled per operation, two image columns compared in one
closure, decimals written by orjson) is checked here against the general path or an
independent reference.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_facts import envelope
from cdc_facts import facts as facts_module
from cdc_facts.changes import Change
from cdc_facts.contracts import FactContract, converter
from cdc_facts.envelope import decode_change
from cdc_facts.envelope.projection import compiled
from cdc_facts.errors import ChangeDecodeError, ContractViolationError, RecordError
from cdc_facts.facts import FACT_ID_NAMESPACE, Fact, encode_fact, fact_id, fact_ids, to_cloudevent
from cdc_facts.rules import load_mappings
from cdc_facts.translator import TranslationResult, Translator
from tests.test_golden import case_records

FIXTURES = Path(__file__).parent / "fixtures" / "debezium"
TOPIC = "shop.public.orders"
SOURCE = {"name": "shop", "schema": "public", "table": "orders", "lsn": 42, "ts_ms": 7}


def compact(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def with_schema(after: dict[str, Any], logical: str | None, kind: str = "int32") -> bytes:
    """A compact JsonConverter document whose column ``v`` has the given type."""
    column: dict[str, Any] = {"type": kind, "optional": True, "field": "v"}
    if logical:
        column["name"] = logical
    row = {"type": "struct", "optional": True, "fields": [
        {"type": "int32", "optional": False, "field": "id"}, column]}
    schema = {"type": "struct", "fields": [{**row, "field": "before"}, {**row, "field": "after"},
                                           {"type": "string", "optional": False, "field": "op"}]}
    payload = {"before": None, "after": after, "source": SOURCE, "op": "c"}
    return compact({"schema": schema, "payload": payload})


# --- decoding ----------------------------------------------------------------------------


def test_a_topics_schema_is_reused_and_a_new_one_is_compiled() -> None:
    as_date = with_schema({"id": 1, "v": 1}, "io.debezium.time.Date")
    as_int = with_schema({"id": 2, "v": 1}, None)
    first = decode_change(as_date, topic=TOPIC)
    again = decode_change(with_schema({"id": 3, "v": 2}, "io.debezium.time.Date"), topic=TOPIC)
    changed = decode_change(as_int, topic=TOPIC)
    assert first is not None and first.after == {"id": 1, "v": date(1970, 1, 2)}
    assert again is not None and again.after == {"id": 3, "v": date(1970, 1, 3)}
    assert changed is not None and changed.after == {"id": 2, "v": 1}


def test_a_topic_may_switch_between_bytes_and_text() -> None:
    value = with_schema({"id": 1, "v": 19844}, "io.debezium.time.Date")
    as_bytes = decode_change(value, topic="shop.public.switching")
    as_text = decode_change(value.decode(), topic="shop.public.switching")
    assert as_bytes == as_text
    assert as_text is not None and as_text.after == {"id": 1, "v": date(2024, 5, 1)}


def test_a_known_schema_with_a_broken_payload_is_still_an_error() -> None:
    good = with_schema({"id": 1, "v": 1}, "io.debezium.time.Date")
    decode_change(good, topic="shop.public.broken")
    broken = good.replace(b'"op":"c"', b'"op":"c",')
    with pytest.raises(ChangeDecodeError, match=r"^shop\.public\.broken: .*not JSON"):
        decode_change(broken, topic="shop.public.broken")


def test_a_record_with_more_than_schema_and_payload_is_parsed_whole() -> None:
    good = with_schema({"id": 1, "v": 1}, "io.debezium.time.Date")
    decode_change(good, topic="shop.public.extra")
    extra = good[:-1] + b',"extra":1}'
    for topic in ("shop.public.extra", None):
        with pytest.raises(ChangeDecodeError, match="keys: extra, payload, schema"):
            decode_change(extra, topic=topic)


@pytest.mark.parametrize("name", ["postgres-schemas-on", "postgres-schemas-off",
                                  "mariadb-schemas-on", "mariadb-schemas-off"])
def test_captured_records_decode_the_same_with_and_without_topics(name: str) -> None:
    lines = (FIXTURES / f"{name}.jsonl").read_text().splitlines()
    for line in lines * 2:  # the second round hits the schemas cached by topic
        record = json.loads(line)
        if record["topic"].startswith("__debezium-heartbeat"):
            continue
        value = record["value"].encode() if record["value"] is not None else None
        key = record["key"].encode() if record["key"] is not None else None
        by_topic = decode_change(value, key, topic=record["topic"], partition=0, offset=1)
        plain = decode_change(value, key)
        parsed = decode_change(json.loads(value) if value else None,
                               json.loads(key) if key else None)
        if plain is None:
            assert by_topic is None and parsed is None
            continue
        assert repr(by_topic) == repr(dataclasses.replace(plain, topic=record["topic"],
                                                          partition=0, offset=1))
        assert repr(parsed) == repr(plain)  # repr: NaN never equals itself


CASES = Path(__file__).parent / "cases"


def _as_bytes(part: object) -> bytes | None:
    if part is None or isinstance(part, bytes):
        return part
    return part.encode() if isinstance(part, str) else compact(part)


def _outcomes(translator: Translator, records: list[dict[str, Any]]) -> list[str]:
    """Every record's facts (encoded) or failure, as text, in order."""
    found = []
    for offset, record in enumerate(records):
        try:
            result = translator.translate_record(
                _as_bytes(record["value"]), _as_bytes(record.get("key")), record.get("topic"),
                0, offset)
            found.append(repr([encode_fact(fact) for fact in result.facts]))
        except RecordError as exc:
            found.append(f"{type(exc).__name__}: {exc}")
    return found


@pytest.mark.skipif(not compiled(), reason="the C decoder is not built (no C compiler)")
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()
                                        if (p / "changes.jsonl").exists()))
def test_records_as_bytes_make_the_same_facts_with_only_the_read_columns(case: str) -> None:
    """The translator decodes schemaless bytes keeping only the columns its rules read
    (in C); every golden case, its values given as bytes, makes the same facts and the same
    failures as with the general decoder."""
    records = [record for _, record in case_records(CASES / case)]
    projecting = Translator(load_mappings([CASES / case]))
    general = Translator(load_mappings([CASES / case]))
    general._projectors = None
    assert projecting._projectors is not None
    assert _outcomes(projecting, records) == _outcomes(general, records)


@pytest.mark.parametrize("key", [
    b'{"id":7}',
    b'{"schema":{"type":"struct","fields":[{"type":"int32","field":"id"}]},"payload":{"id":7}}',
    b'{"payload":{"id":7},"schema":null}',
    b'{"payload":3,"other":4}',
    b'null',
])
def test_keys_decode_as_their_parsed_form_does(key: bytes) -> None:
    value = compact({"before": None, "after": {"id": 7}, "source": SOURCE, "op": "c"})
    from_bytes = decode_change(value, key)
    from_parsed = decode_change(value, json.loads(key))
    assert from_bytes == from_parsed


def test_a_topics_key_schema_is_reused_and_a_new_one_is_compiled() -> None:
    value = compact({"before": None, "after": {"id": 7}, "source": SOURCE, "op": "c"})

    def key(logical: str | None, id_: int) -> bytes:
        column: dict[str, Any] = {"type": "int32", "optional": False, "field": "id"}
        if logical:
            column["name"] = logical
        return compact({"schema": {"type": "struct", "fields": [column]}, "payload": {"id": id_}})

    topic = "shop.public.keys"
    first = decode_change(value, key("io.debezium.time.Date", 1), topic=topic)
    again = decode_change(value, key("io.debezium.time.Date", 2), topic=topic)
    changed = decode_change(value, key(None, 3), topic=topic)
    assert first is not None and first.key == {"id": date(1970, 1, 2)}
    assert again is not None and again.key == {"id": date(1970, 1, 3)}
    assert changed is not None and changed.key == {"id": 3}


@pytest.mark.parametrize(("value", "reason"), [
    ("yesterday", "Invalid isoformat string: 'yesterday'"),
    (5, "argument must be str"),
    ([1], "unhashable type"),
])
def test_a_zoned_timestamp_that_is_no_time_names_the_column(value: object, reason: str) -> None:
    record = with_schema({"id": 1, "v": value}, "io.debezium.time.ZonedTimestamp", "string")
    with pytest.raises(ChangeDecodeError, match=f"`after.v`: .*{reason}"):
        decode_change(record, topic="shop.public.zoned")
    for text, moment in [("infinity", datetime.max), ("-infinity", datetime.min)]:
        record = with_schema({"id": 1, "v": text}, "io.debezium.time.ZonedTimestamp", "string")
        change = decode_change(record, topic="shop.public.zoned")
        assert change is not None and change.after == {"id": 1, "v": moment.replace(tzinfo=UTC)}


@pytest.mark.parametrize("key", [b"[1]", b"not json", b'"text"', b'{"payload":1,"schema":null}'])
def test_keys_that_are_no_objects_are_errors(key: bytes) -> None:
    value = compact({"before": None, "after": {"id": 7}, "source": SOURCE, "op": "c"})
    with pytest.raises(ChangeDecodeError, match="record key"):
        decode_change(value, key)


def test_other_envelope_settings_are_honoured_after_the_default_ones() -> None:
    value = compact({"before": {"id": 1, "v": "gone"}, "after": {"id": 1, "v": "gone"},
                     "source": SOURCE, "op": "u"})
    plain = decode_change(value)
    marked = decode_change(value, settings=envelope.EnvelopeSettings(unavailable_value="gone"))
    again = decode_change(value)
    assert plain is not None and plain.after == {"id": 1, "v": "gone"}
    assert marked is not None and marked.after is not None
    assert marked.after["v"] is envelope.UNKNOWN
    assert again == plain


# --- plain data --------------------------------------------------------------------------


def test_change_is_frozen_and_defaults_like_a_dataclass() -> None:
    change = Change("u", {"id": 1}, {"id": 1})
    assert change.source == {} and change.key is None and change.offset is None
    assert change == Change(op="u", before={"id": 1}, after={"id": 1}, source={})
    assert Change("c", None, {}).source is not Change("c", None, {}).source
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.op = "d"  # type: ignore[misc]
    assert dataclasses.replace(change, op="d").op == "d"
    assert [f.name for f in dataclasses.fields(Change)] == [
        "op", "before", "after", "source", "ts_ms", "key", "transaction", "topic",
        "partition", "offset"]


def test_fact_is_frozen_and_defaults_like_a_dataclass() -> None:
    fact = Fact("f-1", "t", "/s", "7", datetime(2024, 5, 1, tzinfo=UTC), {}, "facts", "r")
    assert fact.extensions == {} and fact.dataschema is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        fact.id = "f-2"  # type: ignore[misc]
    assert dataclasses.replace(fact, dataschema="urn:x").dataschema == "urn:x"
    result = TranslationResult(None, [fact])
    assert result.facts == [fact] and result.change is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.facts = []  # type: ignore[misc]


@settings(deadline=None)  # a busy machine must not fail it: speed is the benchmarks' job
@given(connector=st.text(), table=st.text(), position=st.text(), rule=st.text(),
       version=st.integers(min_value=0))
def test_fact_ids_are_uuid5_of_the_length_prefixed_parts(
    connector: str, table: str, position: str, rule: str, version: int
) -> None:
    name = (f"{len(connector)}:{connector}|{len(table)}:{table}|{len(position)}:{position}|"
            f"{len(rule)}:{rule}|{version}")
    try:
        expected = str(uuid.uuid5(FACT_ID_NAMESPACE, name))
    except UnicodeEncodeError:  # lone surrogates: no UTF-8 form, for either
        with pytest.raises(UnicodeEncodeError):
            fact_id(connector, table, position, rule, version)
        return
    assert fact_ids(connector, table, rule, version)(position) == expected
    assert fact_id(connector, table, position, rule, version) == expected


# --- translating -------------------------------------------------------------------------

MAPPING = """\
domain: sales
owner: sales-team
source: {connector: shop, table: public.orders, before_image: full, key: [id]}
facts:
  - name: Typed
    version: 1
    when: op = 'c'
    key: after.id
    data:
      text: {expr: after.text, type: string}
      whole: {expr: after.whole, type: integer}
      number: {expr: after.number, type: number}
      flag: {expr: after.flag, type: boolean}
      day: {expr: after.day, type: date}
      amount: {expr: after.amount, type: decimal}
      doc: {expr: after.doc, type: json}
      any: {expr: after.any}
  - name: Timed
    version: 1
    when: op = 'u'
    key: after.id
    occurred_at: after.at
    data:
      id: {expr: after.id, type: integer}
"""


@pytest.fixture
def translator(tmp_path: Path) -> Translator:
    (tmp_path / "orders.yaml").write_text(MAPPING)
    return Translator(load_mappings([tmp_path]))


ROW = {"id": 7, "text": "x", "whole": 3, "number": 2.5, "flag": True, "day": date(2024, 5, 1),
       "amount": Decimal("1.50"), "doc": {"a": [1]}, "any": [1, "b"]}
DATA = {name: value for name, value in ROW.items() if name != "id"}


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("text", 12, "12"), ("text", True, "true"), ("whole", "42", 42), ("whole", Decimal("4"), 4),
    ("number", 3, 3), ("number", "2.5", 2.5), ("flag", "yes", True), ("flag", 0, False),
    ("day", "2024-05-02", date(2024, 5, 2)),
    ("day", datetime(2024, 5, 2, 23, 0, tzinfo=UTC), date(2024, 5, 2)),
    ("amount", "2.50", Decimal("2.50")), ("amount", 2, Decimal("2")),
    ("doc", "text", "text"), ("any", Decimal("1"), Decimal("1")),
])
def test_values_are_converted_to_their_declared_type(
    translator: Translator, column: str, value: object, expected: object
) -> None:
    change = Change("c", None, {**ROW, column: value}, SOURCE)
    [fact] = translator.translate(change)
    assert fact.data[column] == expected
    assert type(fact.data[column]) is type(expected)
    assert fact.data == {**DATA, column: expected}
    assert fact.extensions == {"cdcop": "c", "cdcposition": change.position,
                               "cdcrule": "sales.Typed.v1"} and fact.subject == "7"


@pytest.mark.parametrize(("column", "value"), [
    ("whole", True), ("whole", 2.5), ("number", True), ("number", float("nan")),
    ("flag", 2), ("amount", Decimal("NaN")), ("day", "May"),
])
def test_values_that_do_not_fit_their_type_break_the_contract(
    translator: Translator, column: str, value: object
) -> None:
    change = Change("c", None, {**ROW, column: value}, SOURCE)
    with pytest.raises(ContractViolationError, match=f"`{column}`"):
        translator.translate(change)


@pytest.mark.parametrize(("at", "expected"), [
    (datetime(2024, 5, 1, 10, 0, tzinfo=UTC), datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    (datetime(2024, 5, 1, 10, 0), datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    (1714557600000, datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
])
def test_occurred_at_is_a_utc_timestamp(translator: Translator, at: object,
                                        expected: datetime) -> None:
    change = Change("u", {"id": 7}, {"id": 7, "at": at}, SOURCE)
    [fact] = translator.translate(change)
    assert fact.time == expected and fact.time.tzinfo is UTC


def test_snapshot_and_commit_time_extensions(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(MAPPING.replace("when: op = 'c'", "when: op = 'r'")
                                          .replace("version: 1\n    when: op = 'r'",
                                                   "version: 1\n    snapshot: emit\n"
                                                   "    when: op = 'r'", 1))
    change = Change("r", None, ROW, SOURCE, key={"id": 7})
    [fact] = Translator(load_mappings([tmp_path])).translate(change)
    assert fact.extensions == {"cdcop": "r", "cdcsnapshot": "true", "cdcrule": "sales.Typed.v1",
                               "cdcposition": change.position}
    assert fact.time == datetime(1970, 1, 1, 0, 0, 0, 7000, tzinfo=UTC)
    assert fact.id == fact_id("shop", "public.orders", change.position, "sales.Typed", 1)


# --- conversions and contracts -----------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    (" 2024-05-01T10:00:00Z ", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    (datetime(2024, 5, 1, 10, 0, tzinfo=UTC), datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
])
def test_timestamps_convert_to_utc(value: object, expected: datetime) -> None:
    converted = converter("timestamp")(value)
    assert converted == expected
    assert isinstance(converted, datetime) and converted.tzinfo is UTC


@pytest.mark.parametrize(("value", "expected"), [
    (" 1.50 ", Decimal("1.50")), (Decimal("-0.00"), Decimal("-0.00")), (3, Decimal("3")),
])
def test_decimals_keep_their_digits(value: object, expected: Decimal) -> None:
    converted = converter("decimal")(value)
    assert isinstance(converted, Decimal) and converted.as_tuple() == expected.as_tuple()


@pytest.mark.parametrize(("value", "reason"), [
    (Decimal("NaN"), "not a finite decimal"), ("Infinity", "not a finite decimal"),
    ("abc", "not a decimal number"), (True, "a boolean is not a decimal"),
])
def test_decimals_that_are_not_numbers_are_refused(value: object, reason: str) -> None:
    with pytest.raises((ValueError, TypeError), match=reason):
        converter("decimal")(value)


def test_the_contract_accepts_exact_classes_and_refuses_look_alikes(
    translator: Translator,
) -> None:
    rule = next(r for r in translator.ruleset.rules if r.name == "Typed")
    contract = FactContract(rule)
    good = Fact("f", rule.fact_type, "/s", "7", datetime(2024, 5, 1, tzinfo=UTC), DATA, "t", "r")
    contract.check(good)
    for column, value in [("whole", True), ("number", float("inf")), ("day", datetime.now(UTC)),
                          ("text", b"x"), ("amount", Decimal("NaN"))]:
        bad = dataclasses.replace(good, data={**DATA, column: value})
        with pytest.raises(ContractViolationError, match=f"`{column}`"):
            contract.check(bad)


# --- encoding ----------------------------------------------------------------------------

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False), st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, None])),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(), st.text(), max_size=2),
)


def general_encoding(fact: Fact) -> bytes:
    """What encode_fact wrote before its fast path: the CloudEvent dict, dumped."""
    return facts_module._dumps(to_cloudevent(fact))


@settings(deadline=None)  # a busy machine must not fail it: speed is the benchmarks' job
@given(data=st.dictionaries(st.text(), VALUES, max_size=5),
       time=st.datetimes(timezones=st.sampled_from([UTC, None])),
       subject=st.text(max_size=3), snapshot=st.booleans())
def test_encoding_a_fact_writes_what_the_general_path_writes(
    data: dict[str, object], time: datetime, subject: str, snapshot: bool
) -> None:
    extensions = {"cdcop": "r", "cdcsnapshot": "true"} if snapshot else {"cdcop": "u"}
    fact = Fact("f-1", "shop.t", "/cdc-facts/shop/t", subject, time, data, "facts", "r",
                extensions)
    assert encode_fact(fact) == general_encoding(fact)


@pytest.mark.parametrize("value", [float("nan"), Decimal("Infinity"), envelope.UNKNOWN,
                                   object(), {1: "a"}])
def test_encoding_a_fact_refuses_values_without_json_form(value: object) -> None:
    fact = Fact("f-1", "shop.t", "/s", "7", datetime(2024, 5, 1, tzinfo=UTC), {"v": value},
                "facts", "r", {"cdcop": "c"})
    with pytest.raises(RecordError) as fast:
        encode_fact(fact)
    with pytest.raises(RecordError) as general:
        general_encoding(fact)
    assert type(fast.value) is type(general.value) and fast.value.message == general.value.message


def test_encoding_a_fact_with_a_dataschema_or_an_odd_extension_takes_the_general_path() -> None:
    fact = Fact("f-1", "shop.t", "/s", "7", datetime(2024, 5, 1, tzinfo=UTC), {"n": 2**70},
                "facts", "r", {"cdcop": "c", "tenant": "a"}, dataschema="urn:x")
    assert encode_fact(fact) == general_encoding(fact)
    assert json.loads(encode_fact(fact))["dataschema"] == "urn:x"
    with pytest.raises(RecordError, match="cannot name a CloudEvents extension"):
        encode_fact(dataclasses.replace(fact, extensions={"Bad_Name": "x"}))


# --- conditions compiled for one operation -----------------------------------------------

CONDITIONS = [
    "op = 'u' AND after.n > before.n",
    "op = 'u' AND before.n > 0 AND after.n = 0",
    "op IN ('c', 'u') AND after.n / before.n > 1",
    "op = 'c' OR after.n IS DISTINCT FROM before.n",
    "NOT op = 'd' AND (op = 'u' OR after.n = 1)",
    "op = 'u' AND after.s",  # an operand that may not be boolean keeps its check
    "op = 'u' AND TRUE",
    "op = 'd' OR FALSE",
    "CASE WHEN op = 'u' THEN after.n > 1 ELSE after.n < 1 END",
]
CELLS = st.one_of(st.none(), st.just(envelope.UNKNOWN), st.integers(-2, 2),
                  st.sampled_from(["x", "true"]))
IMAGES = st.one_of(st.none(), st.fixed_dictionaries({"n": CELLS, "s": CELLS}),
                   st.fixed_dictionaries({}, optional={"n": CELLS}))


def outcome(evaluate: Any, change: Change) -> object:
    try:
        return evaluate(change)
    except RecordError as exc:
        return (type(exc), exc.message)


@settings(deadline=None)
@given(op=st.sampled_from(["c", "u", "d", "r"]), before=IMAGES, after=IMAGES)
def test_a_condition_compiled_for_an_op_gives_what_the_general_one_gives(
    op: str, before: dict[str, object] | None, after: dict[str, object] | None
) -> None:
    from cdc_facts.expressions import compile_expression

    change = Change(op, before, after, SOURCE)
    for sql in CONDITIONS:
        general = compile_expression(sql).evaluate
        folded = compile_expression(sql, op=op).evaluate
        assert outcome(folded, change) == outcome(general, change), sql


def test_a_condition_compiled_for_an_op_drops_what_the_op_decides() -> None:
    from cdc_facts.expressions import compile_expression

    update = compile_expression("op = 'u' AND after.n > 1", op="u")
    assert update._root.sql == "after.n > 1"
    assert compile_expression("op = 'c' AND after.n > 1", op="u")._root.const is False
    assert compile_expression("op = 'u' AND after.n > 1")._root.sql.startswith("op = 'u'")


INLINE = [  # comparisons of image columns with constants, read inline
    "before.s IS DISTINCT FROM 'x' AND after.s = 'x'",
    "before.n > 0 AND after.n = 0",
    "after.n = 1 OR before.n <> 2",
    "before.s IS NOT DISTINCT FROM 'true' OR after.n >= 1",
    "after.s = 'x' AND after.n < 2 AND before.n > -1",
    "'x' IS DISTINCT FROM after.s",
    "1 IS NOT DISTINCT FROM before.n",
    "after.n > 1.5 AND before.n <= 2.0",
    "after.n = 'NaN'::numeric OR before.n < 0",
    "after.n > before.n",
]


def general_evaluators() -> list[Any]:
    """INLINE compiled with the shortcuts off: each comparison and connective in full."""
    from cdc_facts.expressions import compare, compile_expression

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compare, "_image_against", lambda name, plain, const, general: general)
        patch.setattr(compare, "_tested", lambda fn, test: fn)
        return [compile_expression(sql).evaluate for sql in INLINE]


NUMBER_CELLS = st.one_of(CELLS, st.sampled_from([Decimal("NaN"), float("nan"), Decimal("0.5"),
                                                  2.0, -1.0]))
INLINE_IMAGES = st.one_of(st.none(), st.fixed_dictionaries({"n": NUMBER_CELLS, "s": CELLS}),
                          st.fixed_dictionaries({}, optional={"n": NUMBER_CELLS}))


@settings(deadline=None)
@given(op=st.sampled_from(["c", "u", "d", "r"]), before=INLINE_IMAGES, after=INLINE_IMAGES)
def test_comparisons_with_constants_read_inline_give_what_the_general_path_gives(
    op: str, before: dict[str, object] | None, after: dict[str, object] | None
) -> None:
    from cdc_facts.expressions import compile_expression

    change = Change(op, before, after, SOURCE)
    for sql, general in zip(INLINE, general_evaluators(), strict=True):
        assert outcome(compile_expression(sql).evaluate, change) == outcome(general, change), sql


def test_two_comparisons_with_constants_are_read_in_one_closure() -> None:
    from cdc_facts.expressions import compile_expression

    fused = compile_expression("before.n > 0 AND after.s = 'x'").evaluate
    assert fused.__qualname__.startswith("_two_tests")
    change = Change("u", {"n": 1}, {"s": "x"}, SOURCE)
    assert fused(change) is True
    assert fused(dataclasses.replace(change, before={"n": 0})) is False
    assert fused(dataclasses.replace(change, after=None)) is None  # the general path: NULL
    with pytest.raises(RecordError, match="invalid input syntax for type integer"):
        fused(dataclasses.replace(change, after={"s": 1}))
    mixed = compile_expression("before.n > 0 AND after.n > before.n").evaluate
    assert not mixed.__qualname__.startswith("_two_tests")  # a column on each side: general


@pytest.mark.parametrize("nan", [Decimal("NaN"), float("nan")])
def test_nan_is_equal_to_itself_and_above_every_number_on_every_path(nan: object) -> None:
    from cdc_facts.expressions import compile_expression

    change = Change("u", {"n": 5, "s": "x"}, {"n": nan, "m": nan}, SOURCE)
    for sql, expected in [("after.n > 5", True), ("after.n < 5.5", False),
                          ("after.n > before.n", True), ("after.n = after.m", True),
                          ("after.n IS DISTINCT FROM after.m", False),
                          ("after.n <> 1.5 AND before.s = 'x'", True),
                          ("after.n + 0 > 1e300::float8", True)]:
        assert compile_expression(sql).evaluate(change) is expected, sql


def test_an_expression_that_is_just_an_after_column_names_it() -> None:
    from cdc_facts.expressions import compile_expression

    assert compile_expression("after.id").after_column == "id"
    assert compile_expression('after."Order Id"').after_column == "Order Id"
    for sql in ("before.id", "row.id", "after.id + 1", "source.table", "op", "'x'"):
        assert compile_expression(sql).after_column is None, sql


PAIRS = st.one_of(st.none(), st.just(envelope.UNKNOWN), st.integers(-2, 2), st.booleans(),
                  st.sampled_from(["a", "b", "2", "true"]), st.decimals(-2, 2, places=1),
                  st.floats(-2, 2), st.sampled_from([Decimal("NaN"), float("nan")]))


@settings(deadline=None)
@given(before=st.fixed_dictionaries({}, optional={"n": PAIRS}),
       after=st.fixed_dictionaries({}, optional={"n": PAIRS}),
       symbol=st.sampled_from(["=", "<>", "<", "<=", ">", ">="]))
def test_two_image_columns_compare_as_the_general_comparison_does(
    before: dict[str, object], after: dict[str, object], symbol: str
) -> None:
    from cdc_facts.expressions import compile_expression
    from cdc_facts.expressions.compare import compare, is_distinct

    change = Change("u", before, after, SOURCE)
    a, b = before.get("n", envelope.UNKNOWN), after.get("n", envelope.UNKNOWN)
    for sql, reference in [
        (f"before.n {symbol} after.n", lambda: compare(symbol, a, b)),
        ("before.n IS DISTINCT FROM after.n", lambda: is_distinct(a, b)),
        ("after.n IS NOT DISTINCT FROM before.n", lambda: _negated(is_distinct(b, a))),
    ]:
        try:
            expected: object = reference()
        except (ValueError, TypeError, ArithmeticError):
            expected = RecordError
        got = outcome(compile_expression(sql).evaluate, change)
        if expected is RecordError:
            assert isinstance(got, tuple) and issubclass(got[0], RecordError), sql
        else:
            assert got == expected and type(got) is type(expected), sql


def _negated(value: object) -> object:
    return value if value is envelope.UNKNOWN else not value


# --- the contract checked while the data is built ----------------------------------------

STRICT_MAPPING = MAPPING.replace("text: {expr: after.text, type: string}",
                                 "text: {expr: after.text, type: string, nullable: false}")
CELL_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "2", "yes", "x", "1.5"]),
    st.decimals(-2, 2, places=2), st.floats(allow_nan=True, allow_infinity=True),
    st.dates(), st.just([1]), st.just({"a": 1}),
)


@functools.cache
def strict_translator() -> Translator:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "orders.yaml").write_text(STRICT_MAPPING)
        return Translator(load_mappings([Path(directory)]))


def reference_outcome(contract: FactContract, fields: list[tuple[str, str | None]],
                      row: dict[str, object]) -> object:
    """What the translator gave before the contract was checked value by value: every value
    converted to its declared type, then the whole fact checked."""
    data = {}
    for name, field_type in fields:
        value = row[name]
        if value is not None and field_type is not None:
            try:
                value = converter(field_type)(value)  # type: ignore[arg-type]
            except (ValueError, TypeError, ArithmeticError):
                return ContractViolationError
        data[name] = value
    fact = Fact("f", contract.fact_type, "/s", "7", datetime(2024, 5, 1, tzinfo=UTC), data,
                "t", "r")
    try:
        contract.check(fact)
    except ContractViolationError as exc:
        return exc.message
    return data


@settings(deadline=None, max_examples=300)
@given(row=st.fixed_dictionaries({name: CELL_VALUES for name in DATA}))
def test_the_contract_checked_value_by_value_agrees_with_the_whole_check(
    row: dict[str, object]
) -> None:
    translator = strict_translator()
    rule = next(r for r in translator.ruleset.rules if r.name == "Typed")
    fields = [(spec.name, spec.type) for spec in rule.fields]
    expected = reference_outcome(FactContract(rule), fields, row)
    try:
        [fact] = translator.translate(Change("c", None, {"id": 7, **row}, SOURCE))
        got: object = fact.data
    except ContractViolationError as exc:
        got = ContractViolationError if expected is ContractViolationError else exc.message
    assert repr(got) == repr(expected)
