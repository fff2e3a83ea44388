"""The compiled fact ids and encoder (``cdc_facts/_facts.c``) give exactly what the Python
code of :mod:`cdc_facts.facts` gives: the same ids, the same bytes, the same errors.

Each test runs the public functions twice, with the compiled module and without it (as on a
machine where it could not be built), and compares the two.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import platform
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cdc_facts import facts as facts_module
from cdc_facts.changes import Change, with_key
from cdc_facts.errors import RecordError
from cdc_facts.facts import (
    FACT_ID_NAMESPACE,
    Fact,
    compiled,
    encode_fact,
    fact_id,
    fact_ids,
    row_fact_ids,
)
from cdc_facts.rule_plans import RulePlan
from cdc_facts.rules import load_mappings
from cdc_facts.translator import Translator
from tests.test_golden import case_records

pytestmark = pytest.mark.skipif(
    not compiled(), reason="the C fact encoder is not built (installed without a C compiler)"
)


def without_c(function: Callable[[], Any]) -> Any:
    """Run ``function`` as it runs where the C module is missing."""
    saved = facts_module._compiled
    setattr(facts_module, "_compiled", None)  # noqa: B010 - a Final, swapped for the test
    try:
        return function()
    finally:
        setattr(facts_module, "_compiled", saved)  # noqa: B010


def portable_sha1(function: Callable[[], Any]) -> Any:
    """Run ``function`` with ids hashed by the portable SHA-1, not the CPU's instructions."""
    from cdc_facts import _facts

    saved = _facts.sha_instructions(None)
    _facts.sha_instructions(False)
    try:
        return function()
    finally:
        _facts.sha_instructions(saved)


def outcome(function: Callable[[], Any]) -> tuple[str, Any]:
    """What a call gives: its value, or its error's class and message."""
    try:
        return ("value", function())
    except Exception as exc:  # noqa: BLE001 - compared, never swallowed
        return ("error", (type(exc).__name__, str(exc)))


# --- fact ids ----------------------------------------------------------------------------

TEXTS = st.text(alphabet=st.characters(codec="utf-8"), max_size=150)


@settings(deadline=None, max_examples=300)
@given(connector=TEXTS, table=TEXTS, position=st.text(max_size=300), rule=TEXTS,
       version=st.integers(min_value=0, max_value=10**6))
@example(connector="", table="", position="", rule="", version=0)
@example(connector="s" * 40, table="t" * 40, position="p" * 55, rule="r", version=1)
def test_compiled_fact_ids_are_the_python_ones(
    connector: str, table: str, position: str,
    rule: str, version: int,
) -> None:
    compiled_id = outcome(lambda: fact_ids(connector, table, rule, version)(position))
    python_id = without_c(lambda: outcome(lambda: fact_ids(connector, table, rule, version)(
        position)))
    assert compiled_id == python_id
    assert portable_sha1(lambda: outcome(
        lambda: fact_ids(connector, table, rule, version)(position))) == compiled_id
    if compiled_id[0] == "value":  # and both are the UUID v5 of the length-prefixed parts
        name = (f"{len(connector)}:{connector}|{len(table)}:{table}|{len(position)}:"
                f"{position}|{len(rule)}:{rule}|{version}")
        assert compiled_id[1] == str(uuid.uuid5(FACT_ID_NAMESPACE, name))


@pytest.mark.parametrize("portable", [False, True], ids=["cpu-sha", "portable-sha"])
@pytest.mark.parametrize("size", [0, 1, 18, 19, 55, 56, 63, 64, 65, 119, 120, 200, 10_000])
def test_compiled_fact_ids_cover_every_sha1_padding_case(size: int, portable: bool) -> None:
    """Messages around the 55- and 64-byte edges of SHA-1 padding, against hashlib, hashed
    with the CPU's SHA instructions (where it has them) and without."""
    position = "x" * size
    raw = hashlib.sha1(  # noqa: S324 - UUID version 5 is SHA-1
        FACT_ID_NAMESPACE.bytes + b"1:c|1:t|" + f"{size}:{position}|".encode() + b"1:r|1"
    ).digest()
    make = functools.partial(fact_ids("c", "t", "r", 1), position)
    made = portable_sha1(make) if portable else make()
    assert made == str(uuid.UUID(bytes=raw[:16], version=5))


def test_ids_use_the_cpus_sha_instructions_where_it_has_them() -> None:
    from cdc_facts import _facts

    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), "") if Path("/proc/cpuinfo").exists() else ""
    has_sha = platform.machine() in ("x86_64", "AMD64") and all(
        flag in flags.split() for flag in ("sha_ni", "ssse3", "sse4_1"))
    assert _facts.sha_instructions(None) is has_sha
    assert portable_sha1(lambda: _facts.sha_instructions(None)) is False
    assert _facts.sha_instructions(None) is has_sha  # restored


def test_a_position_that_is_not_utf8_raises_as_in_python(
) -> None:
    with pytest.raises(UnicodeEncodeError):
        fact_ids("c", "t", "r", 1)("lsn:\ud800")
    with pytest.raises(UnicodeEncodeError):
        without_c(lambda: fact_ids("c", "t", "r", 1)("lsn:\ud800"))


# --- the CloudEvent ----------------------------------------------------------------------

#: Text with what JSON must escape, what it must not, and what UTF-8 cannot hold.
TRICKY_TEXT = st.text(
    alphabet=st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\b", "\t", "\n", "\f", "\r",
                              "é", "\u2028", "😀", "\ud800", "a", "/", "<"]),
    max_size=40,
) | st.text(max_size=40)

VALUES = st.one_of(
    st.none(), st.booleans(), TRICKY_TEXT,
    st.integers(), st.sampled_from([2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**63) - 1]),
    st.decimals(), st.sampled_from([Decimal("0E-8"), Decimal("-0"), Decimal("1E+2"),
                                    Decimal("1E+200"), Decimal("sNaN"), Decimal("-Infinity")]),
    st.dates(), st.datetimes(timezones=st.sampled_from([UTC, None, timezone(timedelta(hours=2))])),
    st.floats(), st.lists(st.integers(), max_size=2), st.binary(max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

EXTENSIONS = st.dictionaries(
    st.sampled_from(["cdcop", "cdcposition", "cdcrule", "cdcsnapshot", "cdctxid", "tenant",
                     "Bad_Name", "id"]),
    TRICKY_TEXT | st.integers(), max_size=4,
)


@settings(deadline=None, max_examples=600)
@given(data=st.dictionaries(TRICKY_TEXT, VALUES, max_size=5), extensions=EXTENSIONS,
       subject=TRICKY_TEXT, id_=st.sampled_from(["f-1", ""]), dataschema=st.sampled_from(
           [None, "urn:x"]),
       time=st.datetimes(timezones=st.sampled_from([UTC, None,
                                                    timezone(timedelta(hours=-5))])))
@example(data={}, extensions={}, subject="7", id_="f-1", dataschema=None,
         time=datetime(2024, 5, 1, tzinfo=UTC))
@example(data={"t": datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC), "d": date(9999, 12, 31)},
         extensions={"cdcop": "u"}, subject="7", id_="f-1", dataschema=None,
         time=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
def test_compiled_encoding_writes_what_python_writes(
    data: dict[str, object],
    extensions: dict[str, Any], subject: str, id_: str, dataschema: str | None,
    time: datetime,
) -> None:
    fact = Fact(id_, "shop.OrderPlaced.v1", "/cdc-facts/shop/public.orders", subject, time,
                data, "facts", "shop.OrderPlaced.v1", extensions, dataschema)
    assert outcome(lambda: encode_fact(fact)) == without_c(lambda: outcome(
        lambda: encode_fact(fact)))


def test_compiled_encoding_handles_the_facts_the_translator_makes() -> None:
    """A plain fact is written in C, not handed back to the Python path."""
    fact = Fact("f-1", "shop.OrderPlaced.v1", "/cdc-facts/shop/public.orders", "7",
                datetime(2024, 5, 1, 10, 0, 0, 1000, tzinfo=UTC),
                {"id": 7, "total": Decimal("12.30"), "currency": "EUR", "paid": True,
                 "note": None, "on": date(2024, 5, 1),
                 "at": datetime(2024, 5, 1, tzinfo=UTC)},
                "facts", "shop.OrderPlaced.v1", {"cdcop": "c", "cdcposition": "lsn:42"})
    written = facts_module._compiled.encode(fact)  # type: ignore[union-attr]
    assert written == (
        b'{"specversion":"1.0","id":"f-1","source":"/cdc-facts/shop/public.orders",'
        b'"type":"shop.OrderPlaced.v1","subject":"7","time":"2024-05-01T10:00:00.001000Z",'
        b'"datacontenttype":"application/json","cdcop":"c","cdcposition":"lsn:42",'
        b'"data":{"id":7,"total":"12.30","currency":"EUR","paid":true,"note":null,'
        b'"on":"2024-05-01","at":"2024-05-01T00:00:00Z"}}'
    )


class _OwnFact(Fact):
    __slots__ = ()


def test_facts_the_c_code_does_not_know_take_the_python_path(
) -> None:
    fact = Fact("f-1", "t", "/s", "7", datetime(2024, 5, 1, tzinfo=UTC), {"n": 1}, "facts",
                "r", {"cdcop": "c"})
    own = _OwnFact("f-1", "t", "/s", "7", datetime(2024, 5, 1, tzinfo=UTC), {"n": 1},
                   "facts", "r", {"cdcop": "c"})
    encode = facts_module._compiled.encode  # type: ignore[union-attr]
    assert encode(own) is None  # a subclass: refused, written by Python
    assert encode_fact(own) == encode_fact(fact) == without_c(lambda: encode_fact(fact))
    unset = object.__new__(Fact)  # slots never set: refused, and Python names the problem
    assert encode(unset) is None
    assert outcome(lambda: encode_fact(unset)) == without_c(lambda: outcome(
        lambda: encode_fact(unset)))
    grown = dataclasses.replace(fact, data={"n": 1, "text": "x" * 5000})  # past the stack
    assert encode_fact(grown) == without_c(lambda: encode_fact(grown))


PLAIN_VALUES = st.one_of(
    st.none(), st.booleans(), st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=3), st.dates(),
    st.datetimes(timezones=st.just(UTC)),
)


@settings(deadline=None, max_examples=300)
@given(data=st.dictionaries(st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
                            PLAIN_VALUES, max_size=6),
       subject=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20),
       time=st.datetimes(timezones=st.just(UTC)), snapshot=st.booleans())
def test_plain_facts_are_written_in_c_as_python_writes_them(
    data: dict[str, object], subject: str, time: datetime, snapshot: bool,
) -> None:
    extensions = {"cdcop": "r", "cdcsnapshot": "true"} if snapshot else {"cdcop": "u"}
    fact = Fact("f-1", "shop.t", "/cdc-facts/shop/t", subject, time, data, "facts", "r",
                extensions)
    written = facts_module._compiled.encode(fact)  # type: ignore[union-attr]
    assert written is not None
    assert written == without_c(lambda: encode_fact(fact))


KEY_VALUES = st.one_of(
    st.integers(), st.text(max_size=10), st.decimals(), st.floats(), st.booleans(), st.none(),
    st.dates(), st.lists(st.integers(), max_size=2),
)


@settings(deadline=None, max_examples=300)
@given(position=st.text(max_size=40),
       key=st.none() | st.dictionaries(st.text(max_size=8), KEY_VALUES, max_size=4))
@example(position="lsn:42", key={"id": 7})
@example(position="lsn:42", key={})
@example(position="lsn:42", key={"b": 2, "a": "x,y", "é": Decimal("1E+2")})
def test_compiled_row_fact_ids_are_the_ids_of_the_position_with_the_key(
    position: str, key: dict[str, object] | None,
) -> None:
    compiled_id = outcome(lambda: row_fact_ids("shop", "public.orders", "r", 1)(position, key))
    python_id = without_c(lambda: outcome(
        lambda: row_fact_ids("shop", "public.orders", "r", 1)(position, key)))
    assert compiled_id == python_id
    assert portable_sha1(lambda: outcome(
        lambda: row_fact_ids("shop", "public.orders", "r", 1)(position, key))) == compiled_id
    change = Change(op="u", before=None, after=None, key=key, source={})
    reference = outcome(lambda: fact_id("shop", "public.orders", with_key(position, change),
                                        "r", 1))
    assert compiled_id == reference


# --- what the Python code does that a plain dict and str do not show ---------------------


def in_detail(function: Callable[[], Any]) -> tuple[str, Any]:
    """:func:`outcome`, with an error's arguments in full (``str(KeyError((1, 2)))`` is
    ``str(KeyError(1, 2))``; a UnicodeEncodeError's ``object`` is not in its message)."""
    try:
        return ("value", function())
    except Exception as exc:  # noqa: BLE001 - compared, never swallowed
        return ("error", (type(exc).__name__, repr(exc.args)))


def both_ids(position: str, make_key: Callable[[], dict[Any, Any] | None]) -> None:
    """The C and Python row ids agree, each made from a fresh key (making one may change it)."""
    def row_id() -> str:
        return row_fact_ids("c", "t", "r", 1)(position, make_key())

    assert in_detail(row_id) == without_c(lambda: in_detail(row_id))


@pytest.mark.parametrize(("position", "key"), [
    ("lsn:\ud800", None),
    ("lsn:\ud800", {"id": 7}),
    ("\udfff\ud800x", {}),
    ("lsn:1", {"a\ud800": 1}),
    ("lsn:1", {"a": "x\udfff", "b": "\ud83d", "c": "\ude00"}),
])
def test_an_unencodable_position_raises_the_error_python_raises(
    position: str, key: dict[str, object] | None,
) -> None:
    """The error names the surrogate at its place in the whole text hashed, `<len>:` first."""
    both_ids(position, lambda: key)


class _Name:
    """A key column whose formatting changes the key it is in."""

    def __init__(self, key: dict[Any, Any], change: Callable[[dict[Any, Any]], object]) -> None:
        self.key = key
        self.change = change

    def __repr__(self) -> str:
        return "_Name"

    def __lt__(self, other: object) -> bool:
        return True  # first in name order

    def __gt__(self, other: object) -> bool:
        return False

    def __format__(self, spec: str) -> str:
        self.change(self.key)
        return "n"


def _key_changed_by_its_name(change: Callable[[dict[Any, Any]], object],
                             rest: dict[Any, Any]) -> Callable[[], dict[Any, Any]]:
    def make() -> dict[Any, Any]:
        key: dict[Any, Any] = {}
        key[_Name(key, change)] = "old"
        key.update(rest)
        return key

    return make


@pytest.mark.parametrize(("change", "rest"), [
    (lambda key: key.update({name: "new" for name in key}), {"z": 0}),  # read after
    (lambda key: key.clear(), {"z": 0}),  # KeyError for its own value
    (lambda key: key.pop((1, 2)), {(1, 2): 0}),  # KeyError((1, 2)), not KeyError(1, 2)
    (lambda key: key.update({name: "new" for name in key}), {}),  # one column: read before
])
def test_a_key_changed_while_written_gives_the_python_id_or_error(
    change: Callable[[dict[Any, Any]], object], rest: dict[Any, Any],
) -> None:
    both_ids("lsn:1", _key_changed_by_its_name(change, rest))


class _Key(dict):  # type: ignore[type-arg]
    """A dict answering [] and items() its own way."""

    def __getitem__(self, name: object) -> str:
        return f"<{name}>"

    def items(self) -> Any:
        return [("only", "one")]


class _Position(str):
    __slots__ = ()

    def __len__(self) -> int:
        return 99

    def __format__(self, spec: str) -> str:
        return "formatted"


@pytest.mark.parametrize(("position", "key"), [
    ("lsn:1", _Key(a=1, b=2)),
    ("lsn:1", _Key(a=1)),
    (_Position("lsn:1"), None),
    (_Position("lsn:1"), {"id": 7}),
])
def test_subclasses_of_dict_and_str_are_read_through_their_methods_as_in_python(
    position: str, key: dict[str, object] | None,
) -> None:
    both_ids(position, lambda: key)


class _Plain:
    """A class with no slots: the C encoder reads its attributes with getattr."""


def test_an_attribute_unset_is_refused_when_read_by_getattr_too() -> None:
    module: Any = facts_module._compiled
    try:
        module.configure(Decimal, UTC, facts_module._VALID_EXTENSIONS,
                         facts_module.DATA_CONTENT_TYPE, _Plain)
        assert module.encode(_Plain()) is None  # as for a Fact with an unset slot
    finally:
        module.configure(Decimal, UTC, facts_module._VALID_EXTENSIONS,
                         facts_module.DATA_CONTENT_TYPE, Fact)
    fact = Fact("f-1", "t", "/s", "7", datetime(2024, 5, 1, tzinfo=UTC), {}, "facts", "r")
    assert module.encode(fact) is not None  # configured for Fact again


# --- the fact itself ---------------------------------------------------------------------

PLAN_MAPPING = """\
domain: sales
owner: sales-team
source: {connector: legacy-shop, table: public.orders, key: [id]}
facts:
  - name: OrderSeen
    version: 3
    when: "true"
    key: row.id
    snapshot: emit
    data:
      id: row.id
"""


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> RulePlan:
    folder = tmp_path_factory.mktemp("mappings")
    (folder / "orders.yaml").write_text(PLAN_MAPPING)
    loaded = load_mappings([folder])
    return RulePlan(loaded.mappings[0], loaded.rules[0])


SOURCE_VALUES = st.one_of(st.none(), st.integers(min_value=-5, max_value=2**70),
                          st.sampled_from(["", "0", "x", "3:1-5", "mysql-bin.000003"]),
                          st.booleans())
SOURCES = st.fixed_dictionaries({}, optional={
    name: SOURCE_VALUES for name in ("lsn", "txId", "gtid", "file", "pos", "row", "snapshot")})
TRANSACTIONS = st.none() | st.just({}) | st.fixed_dictionaries(
    {}, optional={"id": SOURCE_VALUES, "total_order": SOURCE_VALUES}) | st.just([1])
KEYS = st.none() | st.just({}) | st.dictionaries(
    st.sampled_from(["id", "line", "é"]), st.integers() | st.text(max_size=5), max_size=3)


@settings(deadline=None, max_examples=400)
@given(op=st.sampled_from(["c", "u", "d", "r", "t"]), source=SOURCES,
       transaction=TRANSACTIONS, key=KEYS, subject=st.text(max_size=5),
       data=st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
@example(op="u", source={"lsn": 24023928, "txId": 743}, transaction=None, key={"id": 7},
         subject="7", data={"id": 7})
@example(op="r", source={"lsn": 5, "snapshot": "true"}, transaction=None, key={"id": 7},
         subject="7", data={})
@example(op="u", source={"txId": 0, "gtid": "", "file": "b.1", "pos": 4},
         transaction={"id": "tx-9", "total_order": 2}, key=None, subject="k", data={})
def test_compiled_facts_are_the_python_ones(
    plan: RulePlan, op: str, source: dict[str, object], transaction: Any, key: Any,
    subject: str, data: dict[str, object],
) -> None:
    change = Change(op=op, before=None, after=None, source=source, key=key,
                    transaction=transaction)
    time = datetime(2024, 5, 1, tzinfo=UTC)
    make = plan._make_fact
    assert make is not None
    compiled_fact = outcome(lambda: make(change, subject, time, data))
    python_fact = outcome(lambda: plan._fact(change, subject, time, data))
    if compiled_fact == ("value", None):  # handed back: only for shapes Python must judge
        assert not isinstance(transaction, dict | None)
        return
    assert compiled_fact == python_fact


def test_a_fact_made_in_c_is_made_slot_by_slot_as_a_real_fact(plan: RulePlan) -> None:
    change = Change(op="c", before=None, after={"id": 7}, key={"id": 7},
                    source={"lsn": 42, "txId": 743})
    made = plan._make_fact(change, "7", datetime(2024, 5, 1, tzinfo=UTC),  # type: ignore[misc]
                           {"id": 7})
    assert type(made) is Fact
    assert made == plan._fact(change, "7", datetime(2024, 5, 1, tzinfo=UTC), {"id": 7})
    assert made.extensions == {"cdcop": "c", "cdcposition": "lsn:42",
                               "cdcrule": "sales.OrderSeen.v3", "cdctxid": "743"}
    assert made.dataschema is None and made.topic == "facts.sales.OrderSeen.v3"


class _OwnChange:
    """Not a Change: its attributes are read with getattr, as Python reads them."""

    op = "u"
    source = {"lsn": 42}  # noqa: RUF012
    key = {"id": 7}  # noqa: RUF012
    transaction = None
    position = "p"


class _LaterChange(Change):
    """A subclass: its slots are the base's, read with getattr too."""

    __slots__ = ()


def test_a_change_is_read_slot_by_slot_only_as_a_change(plan: RulePlan) -> None:
    """make_fact reads a Change's attributes from its slots, and anything else's, or an
    unset slot's, with getattr: the same fact, or the same AttributeError, as in Python."""
    time = datetime(2024, 5, 1, tzinfo=UTC)
    make = plan._make_fact
    assert make is not None
    real = Change(op="u", before=None, after=None, source={"lsn": 42}, key={"id": 7})
    later = _LaterChange(op="u", before=None, after=None, source={"lsn": 42}, key={"id": 7})
    unset = object.__new__(Change)  # its key left unset
    object.__setattr__(unset, "op", "u")
    object.__setattr__(unset, "source", {"lsn": 42})
    for change in (real, _OwnChange(), later, unset, real, unset, later):
        assert outcome(lambda: make(change, "7", time, {})) == outcome(  # noqa: B023
            lambda: plan._fact(change, "7", time, {}))  # type: ignore[arg-type]  # noqa: B023


class _ClearsItsSource:
    """A transaction id whose truth test empties the source block that holds it."""

    def __init__(self, source: dict[str, object]) -> None:
        self.source = source

    def __bool__(self) -> bool:
        self.source.clear()
        return False

    def __str__(self) -> str:
        return "cleared"


def test_a_source_changed_while_a_fact_is_made_is_read_as_python_reads_it(
    plan: RulePlan,
) -> None:
    made = []
    for make in (plan._make_fact, None):
        source: dict[str, object] = {"lsn": 42, "gtid": "g-1"}
        source["txId"] = _ClearsItsSource(source)
        change = Change(op="u", before=None, after=None, key={"id": 1}, source=source)
        time = datetime(2024, 5, 1, tzinfo=UTC)
        made.append(make(change, "1", time, {}) if make else plan._fact(change, "1", time, {}))
    assert made[0] == made[1]
    assert "cdctxid" not in made[0].extensions  # gtid was gone when it was read


# --- every golden case, with and without the C module --------------------------------------

CASES = Path(__file__).parent / "cases"


def _golden_outcomes(translator: Translator, case: str) -> list[str]:
    """Every record's facts (repr and encoded bytes) or failure, in order."""
    found = []
    for offset, record in case_records(CASES / case):
        try:
            result = translator.translate_record(
                record["value"], record.get("key"), record.get("topic"), 0, offset)
            found.append(repr([(fact, encode_fact(fact)) for fact in result.facts]))
        except RecordError as exc:
            found.append(f"{type(exc).__name__}: {exc}")
    return found


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()
                                        if (p / "changes.jsonl").exists()))
def test_every_golden_case_makes_the_same_facts_without_the_c_module(case: str) -> None:
    """The facts, their ids and their bytes, and the failures, are those of the Python
    code: the translator built and run as where the C module is missing."""
    compiled_outcomes = _golden_outcomes(Translator(load_mappings([CASES / case])), case)
    python_outcomes = without_c(lambda: _golden_outcomes(
        Translator(load_mappings([CASES / case])), case))
    assert compiled_outcomes == python_outcomes
    assert any("Fact(" in outcome for outcome in compiled_outcomes)
