"""Running mapping examples: the change an example stands for, and how facts compare."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cdc_facts.rules import load_mappings
from cdc_facts.rules.model import Example, ExpectedFact, Mapping, RuleSet
from cdc_facts.rules.testing import (
    EXAMPLE_TS_MS,
    Mismatch,
    example_change,
    run_example,
    run_examples,
)
from cdc_facts.translator import Translator
from cdc_facts.types import UNKNOWN

MAPPING = """\
domain: sales
owner: sales-data-team
source: {connector: legacy-shop, table: public.orders, key: [id]}
facts:
  - name: OrderShipped
    version: 1
    when: op = 'u' AND after.status = 'shipped'
    key: after.id
    data:
      order_id: {expr: after.id, type: integer}
      carrier: after.carrier
      total: {expr: after.total, type: decimal}
"""


def mapping(tmp_path: Path, examples: str = "") -> Mapping:
    (tmp_path / "m.yaml").write_text(MAPPING + examples)
    (loaded,) = load_mappings([tmp_path]).mappings
    return loaded


def test_an_example_change_gets_source_defaults_and_nulls(tmp_path: Path) -> None:
    m = mapping(tmp_path)
    example = Example("x", {"op": "u", "before": {"id": 1, "note": "__debezium_unavailable_value"},
                            "after": {"id": 1}}, ())
    change = example_change(m, example, 3)
    assert (change.connector, change.table, change.position) == (
        "legacy-shop", "public.orders", "lsn:1003")
    assert change.source["ts_ms"] == EXAMPLE_TS_MS
    assert (change.source["schema"], change.source["db"]) == ("public", "public")
    assert change.after == {"id": 1, "status": None, "carrier": None, "total": None}
    assert change.before == {"id": 1, "note": UNKNOWN}
    assert change.key == {"id": 1}


def test_an_example_may_set_commit_time_source_and_key(tmp_path: Path) -> None:
    m = mapping(tmp_path)
    example = Example("x", {"op": "c", "after": {"id": 2}, "ts_ms": 5,
                            "source": {"lsn": 77}, "key": {"id": 9}}, ())
    change = example_change(m, example, 0)
    assert change.source["ts_ms"] == 5 and change.position == "lsn:77"
    assert change.key == {"id": 9} and change.before is None


def _result(tmp_path: Path, expect: str) -> list[Mismatch]:
    m = mapping(tmp_path, f"""\
examples:
  - description: ships
    change: {{op: u, after: {{id: 7, status: shipped, carrier: DHL, total: "1.50"}}}}
    expect: {expect}
""")
    (result,) = run_examples([m])
    assert result.error is None
    return result.mismatches


def test_matching_facts_compare_values_by_their_declared_type(tmp_path: Path) -> None:
    expect = ('[{type: sales.OrderShipped.v1, key: 7, '
              'data: {order_id: "7", carrier: DHL, total: 1.5}}]')
    assert _result(tmp_path, expect) == []


def test_each_differing_data_field_is_one_mismatch(tmp_path: Path) -> None:
    expect = "[{data: {order_id: 7, carrier: UPS, total: 1.5}}]"
    assert _result(tmp_path, expect) == [Mismatch(0, "data.carrier", "UPS", "DHL")]


def test_missing_facts_and_wrong_attributes_are_mismatches(tmp_path: Path) -> None:
    mismatches = _result(tmp_path, "[{key: '8', topic: x}, {type: sales.OrderShipped.v1}]")
    assert mismatches == [
        Mismatch(-1, "count", [None, "sales.OrderShipped.v1"], ["sales.OrderShipped.v1"]),
        Mismatch(0, "key", "8", "7"),
        Mismatch(0, "topic", "x", "facts.sales.OrderShipped.v1"),
    ]


def test_no_expected_facts_means_none_may_be_made(tmp_path: Path) -> None:
    assert _result(tmp_path, "[]")[0].attribute == "count"
    assert ExpectedFact({}).attributes == {}


UNTYPED = """\
domain: sales
owner: sales-data-team
source: {connector: legacy-shop, table: public.orders, key: [id]}
facts:
  - name: OrderSeen
    version: 1
    when: op = 'c'
    key: after.id
    data:
      value: after.value
      doc: {expr: after.value, type: json}
"""


@pytest.mark.parametrize(("actual", "expected", "same"), [
    ("true", "true", True),
    ("true", True, False),  # a string is not a boolean
    (True, "true", False),
    (True, True, True),
    ("7", 7, False),  # nor a number
    (7, "7", False),
    (7, 7.0, True),  # numbers compare by value, as JSON has them
    ("null", None, False),
    ("DHL ", "DHL", False),
    (Decimal("12.50"), "12.50", True),  # as the fact's JSON writes it
    (Decimal("12.50"), 12.5, False),
    ({"a": [1, "x"]}, {"a": [1, "x"]}, True),
    ({"a": [1, "x"]}, {"a": ["1", "x"]}, False),
    ([True], [1], False),
])
def test_untyped_and_json_fields_compare_their_json_forms_exactly(
    tmp_path: Path, actual: object, expected: object, same: bool
) -> None:
    (tmp_path / "m.yaml").write_text(UNTYPED)
    (m,) = load_mappings([tmp_path]).mappings
    example = Example("x", {"op": "c", "after": {"id": 1, "value": actual}},
                      (ExpectedFact({"data": {"value": expected, "doc": expected}}),))
    result = run_example(Translator(RuleSet((m,))), m, example, example_change(m, example, 0))
    assert result.error is None
    assert [x.attribute for x in result.mismatches] == ([] if same else ["data.value",
                                                                          "data.doc"])


MYSQL = """\
domain: sales
owner: sales-data-team
source: {connector: legacy, table: shop.orders, key: [id]}
facts:
  - name: OrderPlaced
    version: 1
    when: op = 'c' AND source.db = 'shop'
    key: after.id
    data:
      db: source.db
      tbl: source.table
examples:
  - description: a MySQL table is db.table
    change: {op: c, after: {id: 1}}
    expect:
      - {type: sales.OrderPlaced.v1, data: {db: shop, tbl: orders}}
  - description: the example states what MySQL leaves out
    change: {op: c, after: {id: 2}, source: {schema: null}}
    expect:
      - {type: sales.OrderPlaced.v1, data: {db: shop, tbl: orders}}
"""


def test_a_mysql_rule_reading_source_db_runs_in_its_examples(tmp_path: Path) -> None:
    """Debezium's MySQL and MariaDB connectors write `source.db` (and no schema): the
    first part of `db.table` is `source.db` in an example, as it is `source.schema`."""
    (tmp_path / "m.yaml").write_text(MYSQL)
    results = run_examples(load_mappings([tmp_path]).mappings)
    assert [(r.passed, r.error, r.mismatches) for r in results] == [(True, None, [])] * 2
    second = example_change(results[1].mapping, results[1].example, 1)
    assert (second.source["db"], second.source["schema"], second.table) == (
        "shop", None, "shop.orders")
