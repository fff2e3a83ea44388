"""The compiled builder (``build_fact`` in ``cdc_facts/_facts.c``) makes exactly the fact
:meth:`RulePlan.build_in_python` makes, or hands the change back to it.

Whatever the compiled builder refuses, the Python code does again from the start; so the
test is that ``build`` (compiled first) and ``build_in_python`` give the same outcome for
every change: the same fact, or the same error with the same message. Separate tests check
that the common changes are in fact built in C, and which ones are handed back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cdc_facts.changes import Change
from cdc_facts.facts import compiled
from cdc_facts.rule_plans import RulePlan
from cdc_facts.rules import RuleSet, load_mappings
from cdc_facts.translator import Translator
from cdc_facts.types import UNKNOWN
from tests.test_engine_fastpaths import CASES, _outcomes
from tests.test_facts_compiled import outcome
from tests.test_golden import case_records

pytestmark = pytest.mark.skipif(
    not compiled(), reason="the C fact encoder is not built (installed without a C compiler)"
)

MAPPING = """
domain: sales
owner: sales-data-team
source: {connector: shop, table: public.orders}
facts:
  - name: OrderPlaced
    version: 1
    when: op = 'c'
    key: after.id
    data:
      order_id: {expr: after.id, type: integer, nullable: false}
      total: {expr: after.total, type: decimal}
      placed_at: {expr: after.placed_at, type: timestamp}
      note: {expr: after.note, type: string}
      paid: {expr: after.paid, type: boolean}
      due: {expr: after.due, type: date}
      raw: after.raw
  - name: OrderRepriced
    version: 2
    when: op = 'u'
    key: after.id
    occurred_at: after.updated_at
    data:
      old_total: {expr: before.total, type: decimal}
      new_total: {expr: after.total, type: decimal, nullable: false}
  - name: OrderDelayed
    version: 1
    when: op = 'u'
    key: COALESCE(after.code, after.id::text)
    occurred_at: COALESCE(after.updated_at, after.placed_at)
    data:
      days: {expr: after.days * 2, type: integer}
      share: {expr: 100 / after.days, type: number}
"""


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> list[RulePlan]:
    folder = tmp_path_factory.mktemp("mappings")
    (folder / "orders.yaml").write_text(MAPPING)
    loaded = load_mappings([folder])
    return [RulePlan(loaded.mappings[0], rule) for rule in loaded.rules]


def change(after: dict[str, object] | None, *, before: dict[str, object] | None = None,
           source: dict[str, object] | None = None) -> Change:
    return Change(op="u", before=before, after=after,
                  source={"lsn": 42, "ts_ms": 1714557600000, "txId": 9} if source is None
                  else source, key={"id": 7})


def assert_same(plan: RulePlan, made: Change) -> tuple[str, Any]:
    built = outcome(lambda: plan.build(made))
    assert built == outcome(lambda: plan.build_in_python(made))
    return built


#: Values of every class a decoded row holds, and the texts that sit at the edges of the
#: two conversions done in C: padded, exponents, NaN and infinities, offsets, no zone.
VALUES = st.one_of(
    st.none(), st.just(UNKNOWN), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True), st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([
        "", " ", "7", "49.90", " 49.90", "49.90\n", "1E+3", "-0.00", "NaN", "sNaN", "NaN12",
        "Infinity", "-inf", "x", "\u00a049.90", "49.90\u2003",
        "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123456Z", "2024-05-01T10:00:00+00:00",
        "2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00", "2024-05-01", " 2024-05-01T10:00:00Z",
        "2024-13-01T10:00:00Z",
    ]),
    st.text(max_size=12),
    st.sampled_from([
        datetime(2024, 5, 1, 10, tzinfo=UTC), datetime(2024, 5, 1, 12,
                                                       tzinfo=timezone(timedelta(hours=2))),
        datetime(2024, 5, 1, 10), date(2024, 5, 1), {"a": [1, 2]}, [1], b"\x00",
    ]),
)
COLUMNS = ("id", "total", "placed_at", "note", "paid", "due", "raw", "updated_at", "code",
           "days")
ROWS = st.dictionaries(st.sampled_from(COLUMNS), VALUES, max_size=len(COLUMNS))
SOURCES = st.fixed_dictionaries({"lsn": st.just(42)}, optional={
    "ts_ms": st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**62, max_value=2**62),
                       st.just(1.5), st.just("1714557600000")),
    "txId": st.one_of(st.none(), st.integers(0, 10), st.just("")),
})


@settings(max_examples=400, deadline=None)
@given(after=st.none() | ROWS, before=st.none() | ROWS, source=SOURCES)
@example(after={"id": 7, "total": " 49.90"}, before=None, source={"lsn": 42, "ts_ms": 1})
@example(after={"id": 7, "total": "NaN12", "updated_at": "2024-05-01T10:00:00Z"}, before=None,
         source={"lsn": 42})
@example(after={"id": 7, "total": "1.5", "updated_at": "2024-05-01T12:00:00+02:00"},
         before={"total": "x"}, source={"lsn": 42})
@example(after={"id": 7, "days": 0}, before=None, source={"lsn": 42, "ts_ms": 5})
@example(after={"id": True, "total": "2"}, before=None, source={"lsn": 42, "ts_ms": 5})
@example(after={"id": "", "total": "2"}, before=None, source={"lsn": 42, "ts_ms": 5})
def test_the_compiled_builder_gives_what_python_gives(
        plans: list[RulePlan], after: dict[str, object] | None,
        before: dict[str, object] | None, source: dict[str, object]) -> None:
    made = change(after, before=before, source=source)
    for plan in plans:
        assert_same(plan, made)


LOOP_VALUES = st.one_of(st.none(), st.just(UNKNOWN), st.integers(-3, 30),
                       st.sampled_from(["x", "y", "5", "20", "1E+3", "NaN", " 12", "q"]))
LOOP_ROWS = st.fixed_dictionaries({"id": st.integers(1, 9)}, optional={
    column: LOOP_VALUES for column in ("note", "total", "days")})


@settings(max_examples=500, deadline=None)
@given(op=st.sampled_from("cud"), after=st.none() | LOOP_ROWS, before=st.none() | LOOP_ROWS)
def test_the_compiled_rule_loop_gives_what_python_gives(
        translators: tuple[Translator, Translator], op: str, after: dict[str, object] | None,
        before: dict[str, object] | None) -> None:
    """The whole loop over a table's rules (conditions TRUE, FALSE, NULL, unknown or
    failing; builders and hand-backs) in C against the Python loop: the same facts, or the
    same error."""
    fast, slow = translators
    made = Change(op=op, before=before, after=after, key={"id": 7},
                  source={"name": "shop", "schema": "public", "table": "orders", "lsn": 42,
                          "ts_ms": 1714557600000})
    assert outcome(lambda: fast.translate(made)) == outcome(lambda: slow.translate(made))


@pytest.fixture(scope="module")
def translators(tmp_path_factory: pytest.TempPathFactory) -> tuple[Translator, Translator]:
    folder = tmp_path_factory.mktemp("loop")
    (folder / "orders.yaml").write_text(LOOP_MAPPING)
    fast = Translator(load_mappings([folder]))
    assert all(table.compiled_by_op for table in fast._tables.values())
    return fast, python_only(load_mappings([folder]))


#: Conditions that are TRUE, FALSE, NULL, unknown or failing for the generated rows.
LOOP_MAPPING = """
domain: sales
owner: sales-data-team
source: {connector: shop, table: public.orders}
facts:
  - name: OrderNoted
    version: 1
    when: after.note = 'x' OR after.note = 'y'
    key: after.id
    data:
      note: {expr: after.note, type: string}
  - name: OrderTotalled
    version: 1
    when: after.total::numeric > 10 AND before.total IS DISTINCT FROM after.total
    key: after.id
    on_unknown: skip
    data:
      total: {expr: after.total, type: decimal}
  - name: OrderDivided
    version: 1
    when: 10 / after.days > 1
    key: after.id
    on_unknown: "null"
    data:
      days: {expr: after.days, type: integer}
"""


def test_the_loop_covers_every_outcome_of_a_condition(
        translators: tuple[Translator, Translator]) -> None:
    """The loop property above meets facts made in C, NULL conditions that make none, and
    hand-backs: checked here on one change of each."""
    fast, _ = translators
    table = next(iter(fast._tables.values()))
    run = table.compiled_by_op["u"]
    source = {"name": "shop", "schema": "public", "table": "orders", "lsn": 42, "ts_ms": 1}

    def made(after: dict[str, object]) -> Change:
        return Change(op="u", before={"id": 1, "note": None, "total": None, "days": None},
                      after=after, key={"id": 1}, source=source)

    facts = run(made({"id": 1, "note": "x", "total": "20", "days": 2}))
    assert facts is not None
    assert [f.type for f in facts] == ["sales.OrderNoted.v1", "sales.OrderTotalled.v1",
                                       "sales.OrderDivided.v1"]
    assert run(made({"id": 1, "note": None, "total": None, "days": None})) == []  # NULLs
    assert run(made({"id": 1, "note": "q", "total": "5", "days": 0})) is None  # 10 / 0
    assert run(made({"id": 1, "note": "q", "total": UNKNOWN, "days": 50})) is None


def test_the_common_changes_are_built_in_c(plans: list[RulePlan]) -> None:
    """Text decimals and timestamps (schemas off), decoded ones (schemas on), NULL in a
    nullable field, an expression's key and time: all made in C, as Python makes them."""
    placed, repriced, delayed = plans
    cases = [
        (placed, change({"id": 7, "total": "49.90", "placed_at": "2024-05-01T10:00:00Z",
                         "note": None, "paid": True, "due": date(2024, 6, 1), "raw": None})),
        (placed, change({"id": 7, "total": Decimal("49.90"), "note": "rush", "paid": None,
                         "due": None, "raw": None,
                         "placed_at": datetime(2024, 5, 1, 10, tzinfo=UTC)})),
        (repriced, change({"id": "A-7", "total": "12.00", "updated_at": "2024-05-01T10:00:00Z"},
                          before={"total": "10.00"})),
        (delayed, change({"id": 7, "code": None, "days": 3, "updated_at": None,
                          "placed_at": "2024-05-01T10:00:00.5Z"})),
    ]
    for plan, made in cases:
        fact = plan.compiled_build(made)
        assert fact is not None, made
        assert fact == plan.build_in_python(made)
    fact = placed.compiled_build(cases[0][1])
    assert fact is not None
    assert fact.subject == "7"
    assert fact.time == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert fact.data == {"order_id": 7, "total": Decimal("49.90"),
                         "placed_at": datetime(2024, 5, 1, 10, tzinfo=UTC), "note": None,
                         "paid": True, "due": date(2024, 6, 1), "raw": None}


@pytest.mark.parametrize(("after", "why"), [
    ({"id": 7, "total": " 49.90"}, "padded text: str.strip() first"),
    ({"id": 7, "total": "NaN"}, "not finite: the contract's error"),
    ({"id": 7, "total": "4x"}, "not a decimal: the contract's error"),
    ({"id": 7, "total": 49}, "an int for a decimal: converted in Python"),
    ({"id": 7, "placed_at": "2024-05-01T12:00:00+02:00"}, "another offset: to UTC in Python"),
    ({"id": 7, "placed_at": "2024-05-01T10:00:00"}, "no zone: read as UTC in Python"),
    ({"id": 7, "note": 5}, "a number for a string"),
    ({"id": None}, "a NULL key: an error"),
    ({"id": True}, "a boolean key: written as SQL writes it"),
    ({"id": ""}, "an empty key: the contract's error"),
    ({"id": 7, "total": UNKNOWN}, "unknown: on_unknown decides"),
    ({"id": 7, "raw": {"a": 1}}, "an untyped value: the contract's predicate decides"),
])
def test_what_the_compiled_builder_hands_back(plans: list[RulePlan], after: dict[str, object],
                                              why: str) -> None:
    """Each change differs from one built in C by one value: that value is handed back."""
    placed = plans[0]
    assert placed.compiled_build(change(BUILT)) is not None
    made = change({**BUILT, **after})
    assert placed.compiled_build(made) is None, why
    assert_same(placed, made)


#: An after image OrderPlaced is built from in C.
BUILT: dict[str, object] = {"id": 7, "total": "49.90", "placed_at": "2024-05-01T10:00:00Z",
                            "note": "rush", "paid": False, "due": None, "raw": None}


def test_a_missing_column_is_handed_back(plans: list[RulePlan]) -> None:
    """A column the image lacks is unknown: Python raises it for on_unknown to decide."""
    for column in BUILT:
        made = change({c: v for c, v in BUILT.items() if c != column})
        assert plans[0].compiled_build(made) is None, column
        assert assert_same(plans[0], made) == ("error", ("_Unknown", _where(column)))


def _where(column: str) -> str:
    return "key" if column == "id" else f"data.{column}"


@pytest.mark.parametrize("source", [{"lsn": 42}, {"lsn": 42, "ts_ms": "1714557600000"},
                                    {"lsn": 42, "ts_ms": True}])
def test_a_commit_time_that_is_not_an_int_is_handed_back(plans: list[RulePlan],
                                                         source: dict[str, object]) -> None:
    made = change({"id": 7}, source=source)
    assert plans[0].compiled_build(made) is None
    assert_same(plans[0], made)


def test_an_evaluation_error_is_raised_as_python_raises_it(plans: list[RulePlan]) -> None:
    delayed = plans[2]
    made = change({"id": 7, "code": None, "days": 0, "updated_at": "2024-05-01T10:00:00Z"})
    kind, (name, message) = assert_same(delayed, made)
    assert (kind, name) == ("error", "EvaluationError")
    assert "division by zero" in message


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()
                                        if (p / "changes.jsonl").exists()))
def test_every_golden_case_makes_the_same_facts_both_ways(case: str) -> None:
    """A golden case's records through a translator whose rule loops and builders are
    compiled, and one that runs them in Python only: the same facts and failures."""
    records = [record for _, record in case_records(CASES / case)]
    fast = Translator(load_mappings([CASES / case]))
    assert any(table.compiled_by_op for table in fast._tables.values())
    assert _outcomes(fast, records) == _outcomes(python_only(load_mappings([CASES / case])),
                                                 records)


def python_only(ruleset: RuleSet) -> Translator:
    """A translator that makes every fact in Python, as where the C module is not built."""
    translator = Translator(ruleset)
    for table in translator._tables.values():
        for plan in table.rules:
            plan.compiled_build = _hand_back
        table.by_op = {op: table._rules_for(op) for op in table.by_op}
        table.compiled_by_op = {}
    return translator


def _hand_back(_change: Change) -> None:
    return None
