"""Running mapping examples: the change an example stands for, and how facts compare."""

from __future__ import annotations

from pathlib import Path

from cdc_facts.rules import load_mappings
from cdc_facts.rules.model import Example, ExpectedFact, Mapping
from cdc_facts.rules.testing import EXAMPLE_TS_MS, Mismatch, example_change, run_examples
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
