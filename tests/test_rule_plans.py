"""Rule plans: the ops a condition requires, and conditions compiled per operation."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdc_facts.changes import Change
from cdc_facts.rule_plans import RulePlan, required_ops
from cdc_facts.rules import load_mappings


@pytest.mark.parametrize(("sql", "ops"), [
    ("op = 'u' AND after.status = 'paid'", {"u"}),
    ("op IN ('c', 'r')", {"c", "r"}),
    ("'d' = op", {"d"}),
    ("(op = 'u' OR op = 'd') AND after.n > 1", {"u", "d"}),
    ("op IN ('c', 'u') AND op = 'u'", {"u"}),
    ("after.n > 1 AND op = 'c'", {"c"}),
    ("NOT op = 'u'", None),
    ("op = 'u' OR after.n > 1", None),
    ("after.n > 1", None),
    ("op = after.kind", None),
    ("not valid sql (", None),
])
def test_the_ops_a_condition_requires(sql: str, ops: set[str] | None) -> None:
    found = required_ops(sql)
    assert (None if found is None else set(found)) == ops



MAPPING = """\
domain: sales
owner: sales-team
source: {connector: shop, table: public.orders, before_image: full, key: [id]}
facts:
  - name: Paid
    version: 1
    when: op IN ('u', 'c') AND after.status = 'paid'
    key: after.id
    data:
      id: {expr: after.id, type: integer}
"""


def test_a_rules_condition_is_compiled_for_each_op_it_runs_on(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(MAPPING)
    rule = load_mappings([tmp_path]).rules[0]
    plan = RulePlan(load_mappings([tmp_path]).mappings[0], rule)
    for op in ("u", "c"):
        when = plan.when_for(op)
        assert when is not plan.when
        for after in ({"id": 1, "status": "paid"}, {"id": 1, "status": None}, {"id": 1}):
            change = Change(op, None, after, {"name": "shop"})
            assert when(change) is plan.when(change)
