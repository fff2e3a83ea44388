"""The translator: which facts a change makes, and how each goes wrong."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from cdc_facts.changes import Change
from cdc_facts.envelope.projection import compiled
from cdc_facts.errors import (
    ChangeDecodeError,
    ContractViolationError,
    EvaluationError,
    UnknownTableError,
    UnknownValueError,
)
from cdc_facts.facts import fact_id
from cdc_facts.rules import load_mappings
from cdc_facts.translator import Translator
from cdc_facts.types import UNKNOWN

HEADER = """\
domain: sales
owner: sales-data-team
source:
  connector: legacy-shop
  table: public.orders
{source_extra}facts:
"""

SHIPPED = """\
  - name: OrderShipped
    version: 1
    when: op = 'u' AND before.status IS DISTINCT FROM 'shipped' AND after.status = 'shipped'
    key: after.id
    on_unknown: {on_unknown}
    data:
      order_id: {{expr: after.id, type: integer}}
      old_status: before.status
      total: {{expr: after.total, type: decimal, nullable: false}}
"""

COMMIT_MS = 1714557600000  # 2024-05-01T10:00:00Z


def translator(tmp_path: Path, *facts: str, source_extra: str = "", name: str = "m.yaml",
               extra_files: dict[str, str] | None = None) -> Translator:
    text = HEADER.format(source_extra=source_extra) + "".join(facts)
    (tmp_path / name).write_text(text)
    for other, body in (extra_files or {}).items():
        (tmp_path / other).write_text(textwrap.dedent(body))
    return Translator(load_mappings([tmp_path]))


def change(op: str, before: dict[str, object] | None, after: dict[str, object] | None,
           **source: object) -> Change:
    src: dict[str, object] = {"name": "legacy-shop", "schema": "public", "table": "orders",
                              "ts_ms": COMMIT_MS, "lsn": 42}
    src.update(source)
    return Change(op=op, before=before, after=after, source=src, key={"id": 7})


TXID_NUMBER = 743
TXID = "743"
PAID = {"id": 7, "status": "paid", "total": "12.50"}
SHIPPED_ROW = {"id": 7, "status": "shipped", "total": "12.50"}


def test_a_transition_makes_one_fact(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    (fact,) = t.translate(change("u", PAID, SHIPPED_ROW, txId=TXID_NUMBER))
    assert fact.type == "sales.OrderShipped.v1" and fact.rule == "sales.OrderShipped.v1"
    assert fact.subject == "7" and fact.topic == "facts.sales.OrderShipped.v1"
    assert fact.source == "/cdc-facts/legacy-shop/public.orders"
    assert fact.time == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert fact.data == {"order_id": 7, "old_status": "paid", "total": Decimal("12.50")}
    assert fact.id == fact_id("legacy-shop", "public.orders", "lsn:42:id=7", "sales.OrderShipped",
                              1)
    assert fact.extensions == {"cdcop": "u", "cdcposition": "lsn:42",
                               "cdcrule": "sales.OrderShipped.v1", "cdctxid": TXID}


def test_no_transition_no_fact(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    assert t.translate(change("u", SHIPPED_ROW, SHIPPED_ROW)) == []
    assert t.translate(change("c", None, SHIPPED_ROW)) == []


def test_a_null_before_status_still_counts_as_not_shipped(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    (fact,) = t.translate(change("u", {**PAID, "status": None}, SHIPPED_ROW))
    assert fact.data["old_status"] is None


def test_a_table_no_mapping_covers_is_an_error(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    with pytest.raises(UnknownTableError, match="public.customers"):
        t.translate(change("u", PAID, SHIPPED_ROW, table="customers"))
    with pytest.raises(UnknownTableError):
        t.translate(change("u", PAID, SHIPPED_ROW, name="other-connector"))
    assert t.tables() == {("legacy-shop", "public.orders")}


def test_missing_before_image_is_unknown_not_null(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    with pytest.raises(UnknownValueError) as caught:
        t.translate(change("u", None, SHIPPED_ROW))
    assert caught.value.rule == "sales.OrderShipped.v1"
    assert "before.status" in caught.value.message and "`when`" in caught.value.message


def test_on_unknown_skip_makes_no_fact(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="skip"))
    assert t.translate(change("u", None, SHIPPED_ROW)) == []


def test_on_unknown_null_reads_unknown_as_null(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="null"))
    (fact,) = t.translate(change("u", None, SHIPPED_ROW))
    assert fact.data == {"order_id": 7, "old_status": None, "total": Decimal("12.50")}


def test_an_unknown_data_value_follows_on_unknown(tmp_path: Path) -> None:
    toasted = {**SHIPPED_ROW, "total": UNKNOWN}
    for mode in ("error", "skip", "null"):
        (tmp_path / mode).mkdir()
    error = translator(tmp_path / "error", SHIPPED.format(on_unknown="error"))
    with pytest.raises(UnknownValueError, match="after.total"):
        error.translate(change("u", PAID, toasted))
    skip = translator(tmp_path / "skip", SHIPPED.format(on_unknown="skip"))
    assert skip.translate(change("u", PAID, toasted)) == []
    null = translator(tmp_path / "null", SHIPPED.format(on_unknown="null"))
    with pytest.raises(ContractViolationError, match="nullable: false"):
        null.translate(change("u", PAID, toasted))


def test_a_column_missing_from_an_image_is_named_as_unknown(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    with pytest.raises(UnknownValueError, match="`total` depends on after.total, which"):
        t.translate(change("u", PAID, {"id": 7, "status": "shipped"}))


TOUCHED = """\
  - name: OrderTouched
    version: 1
    when: op = 'u' AND after.status IS NOT NULL
    key: {key}
    data:
      old_status: before.status
      note: after.note
"""


@pytest.mark.parametrize(("key", "row", "message"), [
    ("after.id", {"id": 7, "status": "x", "note": UNKNOWN},
     "data field `old_status` depends on before.status, which"),
    ("after.code", {"id": 7, "status": "x", "note": "n", "code": UNKNOWN},
     "`key` depends on after.code, which"),
])
def test_an_unknown_value_names_only_the_columns_its_expression_reads(
    tmp_path: Path, key: str, row: dict[str, object], message: str
) -> None:
    """Not every unknown column the rule reads: the before image is missing (every
    `before.*` unknown) and `after.note` is unknown too, but the key reads neither."""
    t = translator(tmp_path, TOUCHED.format(key=key))
    with pytest.raises(UnknownValueError) as caught:
        t.translate(change("u", None, row))
    assert message in caught.value.message


KEYS_ONLY = """\
  - name: OrderDeleted
    version: 1
    when: op = 'd' AND row.status IS DISTINCT FROM 'archived'
    key: row.id
    on_unknown: {on_unknown}
"""


def test_keys_only_before_image_makes_non_key_columns_unknown(tmp_path: Path) -> None:
    # `row.*` of a delete is its before image: under `before_image: keys` only the key
    # columns there are known. No key is declared, so the record key names them.
    t = translator(tmp_path, KEYS_ONLY.format(on_unknown="error"),
                   source_extra="  before_image: keys\n")
    with pytest.raises(UnknownValueError, match="depends on row.status"):
        t.translate(change("d", {"id": 7, "status": None}, None))
    skipping = translator(tmp_path, KEYS_ONLY.format(on_unknown="skip"),
                          source_extra="  before_image: keys\n")
    assert skipping.translate(change("d", {"id": 7, "status": None}, None)) == []
    nulls = translator(tmp_path, KEYS_ONLY.format(on_unknown="null"),
                       source_extra="  before_image: keys\n")
    (fact,) = nulls.translate(change("d", {"id": 7, "status": None}, None))
    assert fact.subject == "7"


def test_several_rules_make_several_facts_in_file_order(tmp_path: Path) -> None:
    changed = """\
  - name: OrderChanged
    version: 1
    when: op = 'u'
    key: after.id
"""
    t = translator(tmp_path, changed, SHIPPED.format(on_unknown="error"))
    facts = t.translate(change("u", PAID, SHIPPED_ROW))
    assert [f.type for f in facts] == ["sales.OrderChanged.v1", "sales.OrderShipped.v1"]
    assert len({f.id for f in facts}) == 2


def test_several_files_over_one_table_all_apply(tmp_path: Path) -> None:
    logistics = """\
        domain: logistics
        owner: warehouse-team
        source: {connector: legacy-shop, table: public.orders}
        facts:
          - name: ParcelHandedOver
            version: 2
            when: after.status = 'shipped'
            key: after.id
    """
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"), name="a.yaml",
                   extra_files={"b.yaml": logistics})
    facts = t.translate(change("u", PAID, SHIPPED_ROW))
    assert [f.type for f in facts] == ["sales.OrderShipped.v1", "logistics.ParcelHandedOver.v2"]
    assert facts[1].topic == "facts.logistics.ParcelHandedOver.v2"


def test_the_key_a_file_declares_reads_the_before_image_of_every_file(tmp_path: Path) -> None:
    """Files over one table agree on a declared key (validated); one that leaves `key` out
    takes the others': under `before_image: keys` the declared key columns are known."""
    keyed = """\
        domain: logistics
        owner: warehouse-team
        source: {connector: legacy-shop, table: public.orders, before_image: keys,
                 key: [id, region]}
        facts:
          - name: OrderGone
            version: 1
            when: op = 'd'
            key: before.id || '/' || before.region
    """
    gone = """\
  - name: OrderDeleted
    version: 1
    when: op = 'd'
    key: row.region
"""
    t = translator(tmp_path, gone, source_extra="  before_image: keys\n", name="a.yaml",
                   extra_files={"b.yaml": keyed})
    deleted = Change(op="d", before={"id": 7, "region": "eu", "status": "paid"}, after=None,
                     source=change("d", None, None).source, key={"id": 7})
    facts = t.translate(deleted)
    assert [(f.type, f.subject) for f in facts] == [
        ("sales.OrderDeleted.v1", "eu"), ("logistics.OrderGone.v1", "7/eu")]


SNAPSHOT = """\
  - name: OrderKnown
    version: 1
    when: op IN ('c', 'r')
    key: after.id
    snapshot: {snapshot}
"""


def test_snapshot_reads_reach_only_emit_rules_and_are_marked(tmp_path: Path) -> None:
    t = translator(tmp_path, SNAPSHOT.format(snapshot="emit"),
                   SNAPSHOT.format(snapshot="skip").replace("OrderKnown", "OrderSeen"))
    (fact,) = t.translate(change("r", None, SHIPPED_ROW, snapshot="true"))
    assert fact.type == "sales.OrderKnown.v1"
    assert fact.extensions["cdcop"] == "r" and fact.extensions["cdcsnapshot"] == "true"
    assert fact.extensions["cdcposition"].startswith("lsn:42:")  # snapshot rows add their key
    assert [f.type for f in t.translate(change("c", None, SHIPPED_ROW))] == [
        "sales.OrderKnown.v1", "sales.OrderSeen.v1"]


def test_snapshot_fact_ids_differ_per_row(tmp_path: Path) -> None:
    t = translator(tmp_path, SNAPSHOT.format(snapshot="emit"))
    one = change("r", None, SHIPPED_ROW)
    two = Change(op="r", before=None, after={**SHIPPED_ROW, "id": 8}, source=one.source,
                 key={"id": 8})
    assert t.translate(one)[0].id != t.translate(two)[0].id


ROW_CHANGED = """\
  - name: OrderRowChanged
    version: 1
    when: op IN ('c', 'd')
    key: row.id
"""


@pytest.mark.parametrize("source", [
    {"lsn": 5000},  # PostgreSQL: a COPY's rows, or a key update's delete and create
    {"lsn": None, "file": "binlog.000003", "pos": 4410, "row": 0},  # MySQL: a key update
    {"lsn": None, "gtid": "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", "pos": 4410, "row": 0},
])
def test_changes_of_different_rows_at_one_source_position_get_different_fact_ids(
        tmp_path: Path, source: dict[str, object]) -> None:
    t = translator(tmp_path, ROW_CHANGED)
    at_one_place = [
        Change(op="d", before={"id": 1}, after=None, source={**change("d", None, None).source,
               **source}, key={"id": 1}),
        Change(op="c", before=None, after={"id": 2}, source={**change("c", None, None).source,
               **source}, key={"id": 2}),
        Change(op="c", before=None, after={"id": 3}, source={**change("c", None, None).source,
               **source}, key={"id": 3}),
    ]
    facts = [t.translate(c)[0] for c in at_one_place]
    assert len({f.id for f in facts}) == 3
    assert len({f.extensions["cdcposition"] for f in facts}) == 1  # the source position
    assert [t.translate(c)[0].id for c in at_one_place] == [f.id for f in facts]  # a replay


def test_a_fact_id_names_the_position_the_row_the_rule_and_its_version(tmp_path: Path) -> None:
    t = translator(tmp_path, ROW_CHANGED)
    (fact,) = t.translate(change("c", None, {"id": 7}))
    assert fact.id == fact_id("legacy-shop", "public.orders", "lsn:42:id=7",
                              "sales.OrderRowChanged", 1)


def test_truncate_reaches_only_rules_that_ask_for_it(tmp_path: Path) -> None:
    truncated = """\
  - name: OrdersPurged
    version: 1
    when: op = 't'
    key: source.table
"""
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"), truncated)
    (fact,) = t.translate(change("t", None, None))
    assert fact.type == "sales.OrdersPurged.v1" and fact.subject == "orders"


OCCURRED = """\
  - name: OrderShipped
    version: 1
    when: after.status = 'shipped'
    key: after.id
    occurred_at: after.shipped_at
"""


def test_occurred_at_is_converted_to_utc(tmp_path: Path) -> None:
    t = translator(tmp_path, OCCURRED)
    row = {**SHIPPED_ROW, "shipped_at": "2024-05-02T10:30:00+02:00"}
    (fact,) = t.translate(change("u", PAID, row))
    assert fact.time == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)


def test_null_occurred_at_is_an_evaluation_error(tmp_path: Path) -> None:
    t = translator(tmp_path, OCCURRED)
    with pytest.raises(EvaluationError, match="occurred_at is NULL") as caught:
        t.translate(change("u", PAID, {**SHIPPED_ROW, "shipped_at": None}))
    assert caught.value.rule == "sales.OrderShipped.v1"


def test_an_occurred_at_that_is_no_time_is_named_as_occurred_at(tmp_path: Path) -> None:
    t = translator(tmp_path, OCCURRED)
    with pytest.raises(ContractViolationError) as caught:
        t.translate(change("u", PAID, {**SHIPPED_ROW, "shipped_at": "yesterday"}))
    assert "`occurred_at` = 'yesterday' does not fit a timestamp" in caught.value.message
    assert "data field" not in caught.value.message


def test_null_key_is_an_evaluation_error(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    with pytest.raises(EvaluationError, match="key is NULL"):
        t.translate(change("u", PAID, {**SHIPPED_ROW, "id": None}))


def test_a_failing_expression_names_its_rule(tmp_path: Path) -> None:
    ratio = """\
  - name: OrderRatio
    version: 1
    when: after.total / after.id > 1
    key: after.id
"""
    t = translator(tmp_path, ratio)
    with pytest.raises(EvaluationError) as caught:
        t.translate(change("u", PAID, {**SHIPPED_ROW, "total": 5, "id": 0}))
    assert caught.value.rule == "sales.OrderRatio.v1"
    assert caught.value.message.startswith("rule sales.OrderRatio.v1: ")


def test_a_value_that_does_not_fit_its_type_is_a_contract_violation(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    with pytest.raises(ContractViolationError, match="`total`") as caught:
        t.translate(change("u", PAID, {**SHIPPED_ROW, "total": "AJg="}))
    assert caught.value.hint is not None and "decimal.handling.mode" in caught.value.hint


def test_translate_record_decodes_then_translates(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    value = {"op": "u", "before": PAID, "after": SHIPPED_ROW, "ts_ms": COMMIT_MS,
             "source": change("u", None, None).source}
    result = t.translate_record(json.dumps(value).encode(), json.dumps({"id": 7}).encode(),
                                "legacy-shop.public.orders", 0, 5)
    assert result.change is not None and result.change.offset == 5
    assert [f.type for f in result.facts] == ["sales.OrderShipped.v1"]


@pytest.mark.skipif(not compiled(), reason="the C decoder is not built: every member is kept")
def test_a_source_member_is_left_out_unless_a_rule_reads_it(tmp_path: Path) -> None:
    source = {**change("u", None, None).source, "version": "3.5.0.Final", "ts_us": 1,
              "connector": "postgresql"}
    value = json.dumps({"op": "u", "before": PAID, "after": SHIPPED_ROW, "ts_ms": COMMIT_MS,
                        "source": source}).encode()
    (tmp_path / "plain").mkdir()
    (tmp_path / "reading").mkdir()
    plain = translator(tmp_path / "plain", SHIPPED.format(on_unknown="error"))
    assert plain.unread_source == {"version", "connector", "ts_us", "ts_ns", "xmin", "thread",
                                   "query"}
    decoded = plain.decode(value, b'{"id":7}', "legacy-shop.public.orders", 0, 5)
    assert decoded is not None
    assert decoded.source == {k: v for k, v in source.items()
                              if k not in ("version", "ts_us", "connector")}
    reading = translator(tmp_path / "reading", SHIPPED.format(on_unknown="error").replace(
        "      old_status: before.status\n",
        "      old_status: before.status\n      release: source.version\n"))
    assert reading.unread_source == {"connector", "ts_us", "ts_ns", "xmin", "thread", "query"}
    result = reading.translate_record(value, b'{"id":7}', "legacy-shop.public.orders", 0, 5)
    assert result.change is not None and result.change.source["version"] == "3.5.0.Final"
    assert [f.data["release"] for f in result.facts] == ["3.5.0.Final"]


def test_a_subclass_of_bytes_is_decoded_by_the_general_decoder(tmp_path: Path) -> None:
    class Raw(bytes):
        pass

    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    value = {"op": "u", "before": PAID, "after": SHIPPED_ROW, "ts_ms": COMMIT_MS,
             "source": change("u", None, None).source}
    result = t.translate_record(Raw(json.dumps(value).encode()), b'{"id":7}',
                                "legacy-shop.public.orders", 0, 5)
    assert [f.type for f in result.facts] == ["sales.OrderShipped.v1"]
    assert result.change is not None and result.change.after == SHIPPED_ROW  # every column


def test_translate_record_skips_tombstones_and_rejects_garbage(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    assert t.translate_record(None, b'{"id": 7}', "legacy-shop.public.orders").facts == []
    with pytest.raises(ChangeDecodeError):
        t.translate_record(b"not json", None, "legacy-shop.public.orders")


@pytest.mark.parametrize(("envelope", "reason"), [
    ({"source": "x"}, "`source` is a JSON string, not an object"),
    ({"source": {"name": ["legacy-shop"], "schema": "public", "table": "orders"}},
     "`source.name` is a JSON array"),
    ({"source": {"name": "legacy-shop", "schema": "public", "table": {"t": "orders"}}},
     "`source.table` is a JSON object"),
    ({"ts_ms": "yesterday"}, "`ts_ms` is a JSON string"),
    ({"transaction": "x"}, "`transaction` is a JSON string"),
])
def test_a_record_whose_envelope_is_not_what_debezium_writes_is_undecodable(
    tmp_path: Path, envelope: dict[str, object], reason: str
) -> None:
    """Not an AttributeError or TypeError while finding the table's rules: a dead letter,
    whichever decoder (compiled or general) reads the record."""
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    value = {"op": "u", "before": PAID, "after": SHIPPED_ROW, "ts_ms": COMMIT_MS,
             "source": change("u", None, None).source, **envelope}
    for raw in (json.dumps(value, separators=(",", ":")).encode(), json.dumps(value)):
        with pytest.raises(ChangeDecodeError, match=reason) as caught:
            t.translate_record(raw, b'{"id":7}', "legacy-shop.public.orders", 0, 5)
        assert caught.value.reason == "undecodable"
    good = {**value, "source": change("u", None, None).source, "ts_ms": 1, "transaction": None}
    assert len(t.translate_record(json.dumps(good).encode()).facts) == 1  # and goes on


def test_translate_record_honours_the_unavailable_value_placeholder(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(HEADER.format(source_extra="")
                                     + SHIPPED.format(on_unknown="error"))
    t = Translator(load_mappings([tmp_path]), unavailable_value="??")
    value = {"op": "u", "before": PAID, "after": {**SHIPPED_ROW, "total": "??"},
             "source": change("u", None, None).source}
    with pytest.raises(UnknownValueError, match="after.total"):
        t.translate_record(json.dumps(value))


def test_prepare_shows_the_change_as_rules_read_it(tmp_path: Path) -> None:
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    seen = t.prepare(change("u", None, SHIPPED_ROW))
    assert seen.before == {"status": UNKNOWN}


def test_an_error_after_reading_unknown_as_null_names_the_rule(tmp_path: Path) -> None:
    ratio = """\
  - name: OrderRatio
    version: 1
    when: op = 'u' AND before.total IS DISTINCT FROM after.total
    key: after.id
    on_unknown: null
    data:
      ratio: CAST(after.total AS numeric) / after.items
"""
    t = translator(tmp_path, ratio)
    with pytest.raises(EvaluationError) as caught:
        t.translate(change("u", None, {"id": 7, "total": "5", "items": 0}))
    assert caught.value.rule == "sales.OrderRatio.v1"


ROWS_READ = """\
  - name: OrderRepriced
    version: 1
    when: op = 'u' AND before.total <> after.total AND source.db = 'shop'
    key: row.id
    occurred_at: COALESCE(after.updated_at, source.ts_ms)
    data:
      note: upper(after.note)
"""


def test_the_translator_keeps_the_image_columns_its_rules_read(tmp_path: Path) -> None:
    """Every `before.*`, `after.*` and `row.*` column of `when`, `key`, `occurred_at` and
    `data`, and nothing from `source`: decoded changes keep these and may drop the rest."""
    found = translator(tmp_path, ROWS_READ)
    assert found.read_columns == frozenset({"total", "id", "updated_at", "note"})
    value = json.dumps({"op": "u", "before": {"id": 7, "total": "1", "other": 1},
                        "after": {"id": 7, "total": "2", "other": 2, "note": "x",
                                  "updated_at": None},
                        "source": {"name": "legacy-shop", "schema": "public", "db": "shop",
                                   "table": "orders", "ts_ms": COMMIT_MS, "lsn": 42}})
    decoded = found.decode(value.encode(), b'{"id":7}', "legacy-shop.public.orders", 0, 1)
    assert decoded is not None and decoded.source["db"] == "shop"
    assert decoded.after is not None and decoded.after["note"] == "x"
    # whichever decoder ran (the C one drops `other`), the facts are the same
    assert [f.data for f in found.translate(decoded)] == [{"note": "X"}]


@pytest.mark.skipif(not compiled(), reason="the C decoder is not built (no C compiler)")
def test_values_with_a_known_schema_are_decoded_with_only_the_columns_read(
    tmp_path: Path,
) -> None:
    found = translator(tmp_path, ROWS_READ)
    row = {"type": "struct", "optional": True, "fields": [
        {"type": "int32", "optional": False, "field": "id"},
        {"type": "string", "optional": True, "field": "total"},
        {"type": "string", "optional": True, "field": "note"},
        {"type": "int64", "optional": True, "field": "other"},
        {"type": "int64", "optional": True, "field": "updated_at",
         "name": "io.debezium.time.MicroTimestamp"}]}
    schema = {"type": "struct", "optional": False, "fields": [
        {**row, "field": "before"}, {**row, "field": "after"},
        {"type": "struct", "optional": False, "field": "source", "fields": [
            {"type": "string", "optional": False, "field": n}
            for n in ("name", "schema", "db", "table")]},
        {"type": "string", "optional": False, "field": "op"}]}
    payload = {"op": "u", "before": {"id": 7, "total": "1", "note": None, "other": 1,
                                     "updated_at": None},
               "after": {"id": 7, "total": "2", "note": "x", "other": 2,
                         "updated_at": 1714557600000000},
               "source": {"name": "legacy-shop", "schema": "public", "db": "shop",
                          "table": "orders"}}
    value = json.dumps({"schema": schema, "payload": payload}, separators=(",", ":")).encode()
    topic = "legacy-shop.public.orders"
    first = found.decode(value, None, topic, 0, 1)  # a new schema: decoded in full
    again = found.decode(value, None, topic, 0, 2)  # its schema known: projected
    assert first is not None and again is not None
    assert first.after is not None and "other" in first.after
    assert again.after == {"id": 7, "total": "2", "note": "x",
                           "updated_at": datetime(2024, 5, 1, 10, 0)}
    assert [f.data for f in found.translate(again)] == [{"note": "X"}]


PRICED = """\
  - name: OrderPriced
    version: 1
    when: op = 'c'
    key: after.price
    data:
      price: {expr: after.price, type: string}
"""


@pytest.mark.parametrize(("price", "text"), [(Decimal("5E-7"), "0.0000005"),
                                             (Decimal("0E-8"), "0.00000000"),
                                             (Decimal("1.5E+3"), "1500")])
def test_a_decimal_key_and_string_field_are_written_without_exponent(
    tmp_path: Path, price: Decimal, text: str
) -> None:
    """As ``::text`` writes a numeric: a zero numeric(18,8) decoded with its scale is
    ``0.00000000``, never ``0E-8``."""
    t = translator(tmp_path, PRICED)
    (fact,) = t.translate(change("c", None, {"id": 7, "price": price}))
    assert fact.subject == text and fact.data == {"price": text}


@pytest.mark.parametrize(("price", "text"), [
    (b"\x12\x34\xab", "\\x1234ab"),  # bytes (schemas on): not b'...'
    ({"sku": "A-1", "n": [1, 2]}, '{"sku": "A-1", "n": [1, 2]}'),  # JSON: not a dict's repr
    (["a", None], '["a", null]'),
    (datetime(2024, 5, 2, 8, 30, tzinfo=UTC), "2024-05-02 08:30:00+00"),  # not isoformat
    (datetime(2024, 5, 2, 8, 30, 0, 500000), "2024-05-02 08:30:00.5"),
    (date(2024, 5, 2), "2024-05-02"),
    (True, "true"),
    (1.5, "1.5"),
    (UUID(int=1), "00000000-0000-0000-0000-000000000001"),
])
def test_a_key_is_its_value_as_text_writes_it(tmp_path: Path, price: object,
                                              text: str) -> None:
    """The subject (and Kafka key) is the key's ``::text``: never Python's repr or
    isoformat, so that `key: after.x` and `key: after.x::text` name the same subject."""
    keyed = PRICED.split("    data:")[0]
    t = translator(tmp_path, keyed, keyed.replace("OrderPriced", "OrderPricedText").replace(
        "key: after.price", "key: after.price::text"))
    facts = t.translate(change("c", None, {"id": 7, "price": price}))
    assert [fact.subject for fact in facts] == [text, text]


ACTIVE = """\
  - name: OrderActive
    version: 1
    when: {when}
    key: after.id
    on_unknown: null
"""


@pytest.mark.parametrize("when", ["after.active", "COALESCE(before.active, after.active)"])
def test_a_when_that_is_not_boolean_is_an_evaluation_error(tmp_path: Path, when: str) -> None:
    """PostgreSQL refuses a WHERE that is not boolean; a rule must not silently never fire."""
    t = translator(tmp_path, ACTIVE.format(when=when))
    with pytest.raises(EvaluationError, match="argument of WHEN must be boolean, not integer 1"
                       ) as caught:
        t.translate(change("u", None, {"id": 7, "active": 1}))
    assert caught.value.rule == "sales.OrderActive.v1"
    assert caught.value.hint is not None and "::boolean" in caught.value.hint
    for active, subjects in ((True, ["7"]), (False, []), (None, [])):
        row = {"id": 7, "active": active}
        assert [f.subject for f in t.translate(change("u", row, row))] == subjects


@pytest.mark.parametrize("topic", ["legacy-shop.public.orders", "__debezium-heartbeat.shop"])
@pytest.mark.parametrize("with_schema", [False, True])
def test_a_record_translates_as_decode_then_translate(tmp_path: Path, topic: str,
                                                      with_schema: bool) -> None:
    """translate_record runs decode and translate inline: it gives what they give, for a
    change with and without a schema, and for a heartbeat topic (no change, whatever the
    value holds)."""
    t = translator(tmp_path, SHIPPED.format(on_unknown="error"))
    payload = {"op": "u", "before": PAID, "after": SHIPPED_ROW,
               "source": {"name": "legacy-shop", "schema": "public", "table": "orders",
                          "ts_ms": COMMIT_MS, "lsn": 42}}
    schema = {"type": "struct", "fields": [{"type": "string", "optional": False,
                                            "field": "op"}]}
    value = json.dumps({"schema": schema, "payload": payload} if with_schema else payload,
                       separators=(",", ":")).encode()
    result = t.translate_record(value, b'{"id":7}', topic, 0, 9)
    decoded = t.decode(value, b'{"id":7}', topic, 0, 9)
    assert repr(result.change) == repr(decoded)
    assert repr(result.facts) == repr([] if decoded is None else t.translate(decoded))
    assert (decoded is None) is topic.startswith("__debezium-heartbeat")
    assert len(result.facts) == (0 if decoded is None else 1)
