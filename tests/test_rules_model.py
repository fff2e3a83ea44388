"""The rule model: fact types, which rules cover a table, which columns rules read."""

from __future__ import annotations

from pathlib import Path

from cdc_facts.rules import ColumnsRead, RuleSet, load_mappings

ORDERS = """\
domain: {domain}
owner: team
source: {{connector: legacy-shop, table: public.orders}}
facts:
  - name: {name}
    version: 2
    when: op = 'u' AND before.status IS DISTINCT FROM after.status
    key: row.id
    data:
      total: after.total
"""


def ruleset(tmp_path: Path) -> RuleSet:
    (tmp_path / "a.yaml").write_text(ORDERS.format(domain="sales", name="OrderChanged"))
    (tmp_path / "b.yaml").write_text(ORDERS.format(domain="logistics", name="ParcelChanged"))
    (tmp_path / "c.yaml").write_text(ORDERS.format(domain="sales", name="LineChanged")
                                     .replace("public.orders", "public.order_lines"))
    return load_mappings([tmp_path])


def test_rules_for_a_table_come_from_every_file_in_order(tmp_path: Path) -> None:
    rules = ruleset(tmp_path).rules_for("legacy-shop", "public.orders")
    assert [r.fact_type for r in rules] == ["sales.OrderChanged.v2", "logistics.ParcelChanged.v2"]
    assert ruleset(tmp_path).rules_for("legacy-shop", "public.nothing") == ()
    assert [m.file for m in ruleset(tmp_path).mappings_for("legacy-shop", "public.orders")] == [
        str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]


def test_tables_are_what_the_service_subscribes_to(tmp_path: Path) -> None:
    assert ruleset(tmp_path).tables() == {("legacy-shop", "public.orders"),
                                          ("legacy-shop", "public.order_lines")}


def test_references_say_which_columns_each_rule_reads(tmp_path: Path) -> None:
    first = ruleset(tmp_path).references()[0]
    assert first == ColumnsRead(
        connector="legacy-shop", table="public.orders", fact_type="sales.OrderChanged.v2",
        before=frozenset({"status"}), after=frozenset({"status", "total"}),
        row=frozenset({"id"}),
    )


def test_expressions_are_listed_under_their_keys(tmp_path: Path) -> None:
    rule = ruleset(tmp_path).rules[0]
    assert [name for name, _ in rule.expressions()] == ["when", "key", "data.total"]
    assert rule.expressions().__next__()[1].sql.startswith("op = 'u'")
