"""Three-valued-logic traps in `when` conditions (cdc_facts.expressions.traps): where, what,
and the fix; and what is not a trap."""

from __future__ import annotations

import pytest

from cdc_facts.expressions.traps import null_traps


@pytest.mark.parametrize(("sql", "fragment", "suggestion"), [
    ("op = 'u' AND before.status <> 'shipped'", "before.status <> 'shipped'",
     "before.status IS DISTINCT FROM 'shipped'"),
    ("before.status != after.status", "before.status != after.status",
     "before.status IS DISTINCT FROM after.status"),
    ("'x' <> row.kind OR op = 'd'", "'x' <> row.kind", "'x' IS DISTINCT FROM row.kind"),
    ("(op = 'u' AND (after.total <> before.total))", "after.total <> before.total",
     "after.total IS DISTINCT FROM before.total"),
])
def test_an_inequality_that_decides_the_rule_over_a_nullable_column_is_a_trap(
        sql: str, fragment: str, suggestion: str) -> None:
    [trap] = null_traps(sql)
    assert trap.fragment == fragment
    assert trap.suggestion == suggestion
    assert f"`{fragment}` is NULL, not TRUE, when " in trap.message
    assert sql[trap.col - 1:].startswith(fragment)


@pytest.mark.parametrize("sql", [
    "before.status IS DISTINCT FROM 'shipped'",
    "COALESCE(before.status <> 'shipped', TRUE)",  # NULL handled
    "(before.status <> 'shipped') IS TRUE",  # NULL means no fact, said so
    "CASE WHEN before.status <> 'x' THEN TRUE ELSE FALSE END",
    "NOT (before.status <> 'x')",  # an equality, in effect: NULL is no match there either
    "after.status = 'shipped'",  # NULL is no match, as meant
    "source.db <> 'test'",  # not a row column
    "op <> 'r'",
    "after.status NOT IN ('cancelled', 'lost')",
    "after.total > (",  # does not parse: the compiler reports it
])
def test_what_is_not_a_trap(sql: str) -> None:
    assert null_traps(sql) == []


def test_a_key_column_is_never_null() -> None:
    assert null_traps("before.id <> after.id", never_null={"id"}) == []
    assert [t.fragment for t in null_traps("before.id <> after.id", never_null={"sku"})] == [
        "before.id <> after.id"]


def test_not_in_a_list_with_null_is_never_true() -> None:
    [trap] = null_traps("op = 'u' AND after.status NOT IN ('cancelled', NULL)")
    assert trap.fragment == "after.status NOT IN ('cancelled', NULL)"
    assert trap.suggestion == "after.status NOT IN ('cancelled')"
    assert (trap.line, trap.col) == (1, 14)
    [alone] = null_traps("after.status NOT IN (NULL)")
    assert (alone.fragment, alone.suggestion) == ("after.status NOT IN (NULL)", None)


def test_traps_come_in_text_order_with_their_line_and_column() -> None:
    sql = "op = 'u'\n  AND after.b NOT IN (NULL)\n  AND before.a <> 'x'"
    assert [(t.line, t.col, t.fragment) for t in null_traps(sql)] == [
        (2, 7, "after.b NOT IN (NULL)"), (3, 7, "before.a <> 'x'")]


def test_not_over_a_nullable_column_that_decides_the_rule_is_a_trap() -> None:
    [trap] = null_traps("op = 'u' AND NOT after.vip")
    assert (trap.fragment, trap.suggestion) == ("NOT after.vip", "after.vip IS NOT TRUE")
    assert trap.message.startswith("`NOT after.vip` is NULL, not TRUE, when after.vip is NULL")
    assert [t.fragment for t in null_traps("NOT ( after.vip ) AND op = 'u'")] == [
        "NOT ( after.vip )"]
    assert null_traps("NOT after.vip", never_null={"vip"}) == []
    assert null_traps("COALESCE(NOT after.vip, TRUE)") == []
    assert null_traps("after.vip IS NOT TRUE") == []
