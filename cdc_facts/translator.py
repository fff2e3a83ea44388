"""The translator: the whole business logic, from one change to the facts it makes.

:class:`Translator` precomputes, per ``(connector, table)``, the rules that apply, how
the table's before image is read, and each fact type's contract. ``translate`` is then
a loop over plain closures. It does no I/O.

>>> from cdc_facts.rules import RuleSet
>>> Translator(RuleSet(())).tables()
set()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from cdc_facts.changes import OPS, Change
from cdc_facts.envelope import (
    DEFAULT_UNAVAILABLE_VALUE,
    HEARTBEAT_TOPIC_PREFIX,
    EnvelopeSettings,
    RawRecord,
    decode_change,
)
from cdc_facts.envelope.projection import (
    UNREAD_SOURCE_FIELDS,
    change_projector,
    schema_change_projector,
)
from cdc_facts.errors import EvaluationError, UnknownTableError
from cdc_facts.facts import Fact, compiled_rule_runner
from cdc_facts.rule_plans import UNSETTLED, RulePlan
from cdc_facts.rule_plans import required_ops as required_ops
from cdc_facts.rules.model import Mapping, RuleSet
from cdc_facts.types import UNKNOWN, Row


@dataclass(frozen=True, slots=True, init=False)
class TranslationResult:
    """What one Kafka record became: its change (``None`` if not a row change) and facts."""

    change: Change | None
    facts: list[Fact]

    def __init__(self, change: Change | None, facts: list[Fact]) -> None:
        _set_change(self, change)  # the slots set directly: faster than a frozen __init__
        _set_facts(self, facts)


_set_change: Final[Callable[[TranslationResult, Any], None]] = vars(TranslationResult)[
    "change"
].__set__
_set_facts: Final[Callable[[TranslationResult, Any], None]] = vars(TranslationResult)[
    "facts"
].__set__
#: A result with no slot set yet: with the two setters above, made without a Python frame.
_bare_result: Final[Callable[[type[TranslationResult]], TranslationResult]] = object.__new__



class Translator:
    """Turns changes into facts with a :class:`RuleSet`.

    Args:
        ruleset: the loaded mappings.
        unavailable_value: the connectors' ``unavailable.value.placeholder``: a column
            holding it is unknown (a TOAST value the database did not send).
    """

    def __init__(
        self, ruleset: RuleSet, *, unavailable_value: str = DEFAULT_UNAVAILABLE_VALUE
    ) -> None:
        self.ruleset = ruleset
        self.envelope_settings = EnvelopeSettings(unavailable_value=unavailable_value)
        self._tables: dict[tuple[str, str], _TablePlan] = {
            table: _TablePlan(ruleset.mappings_for(*table)) for table in ruleset.tables()
        }
        #: ``(source.name, schema or db, table)`` -> plan: looked up without building text.
        self._by_source: dict[tuple[object, ...], _TablePlan] = {
            (connector, *table.split(".", 1)): plan
            for (connector, table), plan in self._tables.items()
        }
        #: The row columns any rule reads: a decoded change keeps these, and may leave out
        #: the others.
        self.read_columns = frozenset(
            column for table in self._tables.values() for plan in table.rules
            for column in (*plan.before_columns, *plan.after_columns)
        )
        #: Members of the source block no rule reads, nor anything else: left out.
        self.unread_source = UNREAD_SOURCE_FIELDS - {
            ref.column for table in self._tables.values() for plan in table.rules
            for ref in plan.references if ref.scope == "source"}
        plain = change_projector(self.read_columns, self.envelope_settings, self.unread_source)
        #: Decoders of schemaless values and of values with a schema (None: not compiled).
        self._projectors = None if plain is None else (
            plain, schema_change_projector(plain, self.read_columns))

    def tables(self) -> set[tuple[str, str]]:
        """Every ``(connector, table)`` this translator has mappings for."""
        return set(self._tables)

    def translate(self, change: Change) -> list[Fact]:
        """The facts ``change`` makes: one per matching rule, in file order.

        Raises:
            UnknownTableError: no mapping covers the change's table.
            EvaluationError: an expression failed (division by zero, bad cast...).
            UnknownValueError: a rule with ``on_unknown: error`` depends on an unknown value.
            ContractViolationError: a fact does not satisfy its contract.
        """
        source = change.source  # as _plan, inline: this runs for every change
        plan = self._by_source.get(
            (source.get("name"), source.get("schema") or source.get("db"), source.get("table")))
        return (plan or self._plan(change)).translate(change)

    def _plan(self, change: Change) -> _TablePlan:
        source = change.source
        schema = source.get("schema") or source.get("db")
        plan = self._by_source.get((source.get("name"), schema, source.get("table")))
        if plan is None:
            table = change.table
            raise UnknownTableError(
                f"no mapping covers table {table} of connector {change.connector!r}",
                hint="add a mapping file with this `source`, or leave the table out of "
                "the connector's table.include.list",
            )
        return plan

    def rule_plans(self, change: Change) -> tuple[RulePlan, ...]:
        """The rules of the change's table, ready to run, in file order.

        Raises:
            UnknownTableError: no mapping covers the change's table.
        """
        return self._plan(change).rules

    def prepare(self, change: Change) -> Change:
        """The change as its table's rules read it: what the database did not deliver
        (a missing or keys-only before image) is marked unknown."""
        plan = self._plan(change)
        if plan.before_columns and change.op in ("u", "d"):
            return plan.read_before(change)
        return change

    def decode(self, value: RawRecord, key: RawRecord = None, topic: str | None = None,
               partition: int | None = None, offset: int | None = None) -> Change | None:
        """Decode one Kafka record as the rules read it: its rows may lack the columns no
        rule reads, and its source block the members in :attr:`unread_source`
        (:mod:`cdc_facts.envelope.projection`); else as
        :func:`~cdc_facts.envelope.decode_change` does.

        Raises:
            ChangeDecodeError: the record is not a Debezium change.
        """
        projectors = self._projectors
        if projectors is not None and type(value) is bytes:  # (a subclass of bytes: not here)
            change = projectors[0](value, key, topic, partition, offset)
            if change is not None:
                return change
        return self._decode_other(value, key, topic, partition, offset)

    def _decode_other(self, value: RawRecord, key: RawRecord, topic: str | None,
                      partition: int | None, offset: int | None) -> Change | None:
        """Decode a record the schemaless decoder did not: a value with a schema by the
        decoder of those, else (and all the rest) as decode_change does. The schemaless
        decoder refuses every record of a heartbeat topic and every value with a schema:
        the common record is tested for neither before it."""
        projectors = self._projectors
        if projectors is not None and type(value) is bytes and value.startswith(
            b'{"schema":') and (topic is None or not topic.startswith(HEARTBEAT_TOPIC_PREFIX)):
            change = projectors[1](value, key, topic, partition, offset)
            if change is not None:
                return change
        return decode_change(  # all else: the same change with every column, or the problem
            value, key, topic=topic, partition=partition, offset=offset,
            settings=self.envelope_settings,
        )

    def translate_record(self, value: RawRecord, key: RawRecord = None, topic: str | None = None,
                         partition: int | None = None,
                         offset: int | None = None) -> TranslationResult:
        """Decode one Kafka record and translate it; non-change records make no facts.

        Raises:
            ChangeDecodeError: the record is not a Debezium change.
            RecordError: as :meth:`translate`.
        """
        # decode and translate, inline: two calls fewer for every record
        projectors = self._projectors
        change = projectors[0](value, key, topic, partition, offset) if (
            projectors is not None and type(value) is bytes) else None
        if change is None:
            change = self._decode_other(value, key, topic, partition, offset)
        result = _bare_result(TranslationResult)
        _set_change(result, change)
        if change is None:
            _set_facts(result, [])
            return result
        source = change.source
        plan = self._by_source.get(
            (source.get("name"), source.get("schema") or source.get("db"), source.get("table")))
        _set_facts(result, (plan or self._plan(change)).translate(change))
        return result


#: One rule as a table runs it: the plan, its ``when`` for the change's op, and its
#: builder (:attr:`RulePlan.compiled_build`: None from it hands the change to Python).
_RuleStep = tuple[RulePlan, Callable[[Change], object], Callable[[Change], Fact | None]]


def _compiled_loop(rules: tuple[_RuleStep, ...]) -> Callable[[Change], list[Fact] | None] | None:
    """The rule loop in C over ``rules``, if every rule has a compiled builder."""
    steps = tuple((when, plan.build_plan) for plan, when, _ in rules
                  if plan.build_plan is not None)
    return compiled_rule_runner(steps) if len(steps) == len(rules) else None


class _TablePlan:
    """Everything precomputed for one table: its rules and how to read its before image."""

    def __init__(self, mappings: Iterable[Mapping]) -> None:
        mappings = tuple(mappings)
        self.rules = tuple(RulePlan(m, rule) for m in mappings for rule in m.rules)
        self.by_op = {op: self._rules_for(op) for op in OPS}
        #: the loop over each op's rules in C, where every rule has a compiled builder
        self.compiled_by_op = {op: run for op, rules in self.by_op.items()
                               if rules and (run := _compiled_loop(rules)) is not None}
        # the files over a table agree on these (validated); a file may leave `key` out
        self.keys_only = mappings[0].source.before_image == "keys"
        self.key_columns = frozenset(next(
            (m.source.key_columns for m in mappings if m.source.key_columns), ()))
        self.before_columns = frozenset(c for plan in self.rules for c in plan.before_columns)

    def _rules_for(self, op: str) -> tuple[_RuleStep, ...]:
        """The rules that can match ``op``, each with its ``when`` compiled for ``op`` and
        its compiled builder: snapshot reads reach only ``snapshot: emit`` rules, and a
        rule whose ``when`` requires other ops is left out."""
        return tuple(
            (plan, plan.when_for(op), plan.compiled_build) for plan in self.rules
            if (op != "r" or plan.rule.snapshot == "emit")
            and (plan.ops is None or op in plan.ops)
        )

    def translate(self, change: Change) -> list[Fact]:
        op = change.op
        rules = self.by_op.get(op, ())
        if not rules:
            return []
        if self.before_columns and op in ("u", "d") and (
            change.before is None or self.keys_only
        ):
            change = self.read_before(change)
        run = self.compiled_by_op.get(op)
        if run is not None:
            facts = run(change)  # None: a change the compiled loop hands back
            if facts is not None:
                return facts
        return self.run_rules(change, rules)

    def run_rules(self, change: Change, rules: tuple[_RuleStep, ...]) -> list[Fact]:
        """The facts of ``change``, read as its rules read it, by the Python loop over
        ``rules``: where the C loop is not built, and for every change it hands back (the
        rules are pure: running them again changes nothing)."""
        facts = []
        for plan, when, build in rules:
            try:
                matched = when(change)
            except EvaluationError as exc:
                raise plan.evaluation_error(exc) from None
            if matched is False:  # most rules stop here
                continue
            if matched is True:  # as plan.apply, inline: a call fewer per fact
                try:  # plan.build, inline: the compiled builder first
                    fact = build(change)
                    facts.append(plan.build_in_python(change) if fact is None else fact)
                except UNSETTLED as problem:
                    fact = plan.settle(change, problem)
                    if fact is not None:
                        facts.append(fact)
            elif matched is UNKNOWN:
                fact = plan.apply(change, matched)
                if fact is not None:
                    facts.append(fact)
            elif matched is not None:
                raise plan.not_a_condition(matched)  # `when: after.active` on an integer
        return facts

    def read_before(self, change: Change) -> Change:
        """Mark what the before image lacks as unknown, never as NULL."""
        before = change.before
        if before is None:
            return dataclasses.replace(change, before=dict.fromkeys(self.before_columns, UNKNOWN))
        if not self.keys_only:
            return change
        keys = self.key_columns or frozenset(change.key or ())
        image: Row = dict.fromkeys(self.before_columns, UNKNOWN)
        image.update((c, v if c in keys else UNKNOWN) for c, v in before.items())
        return dataclasses.replace(change, before=image)


