"""One rule, ready to run on changes of its table: its compiled expressions, conversions,
contract and fact id, and how it makes a fact from a change.

The translator (:mod:`cdc_facts.translator`) holds one :class:`RulePlan` per rule and
table. It does no I/O.

>>> sorted(required_ops("op IN ('c', 'r') AND after.total > 0"))
['c', 'r']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from cdc_facts.changes import Change
from cdc_facts.contracts import Converter, FactContract, Never, converted_class, converter
from cdc_facts.errors import (
    ContractViolationError,
    EvaluationError,
    ExpressionError,
    UnknownValueError,
)
from cdc_facts.expressions import compile_expression
from cdc_facts.expressions.casts import to_text
from cdc_facts.expressions.logic import not_boolean
from cdc_facts.expressions.names import evaluator
from cdc_facts.facts import (
    BUILD_CONVERSIONS,
    Fact,
    compiled_build_plan,
    compiled_fact_builder,
    compiled_fact_maker,
    row_fact_ids,
)
from cdc_facts.rules.model import ColumnReference, FieldType, Mapping, Rule
from cdc_facts.types import UNKNOWN, Row

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: ``_EPOCH + _MILLISECOND * n``: exact, and faster than ``timedelta(milliseconds=n)``.
_MILLISECOND: Final = timedelta(milliseconds=1)

#: The class of the values a declared type takes as they are, without conversion.
_EXACT: Final[dict[str | None, type]] = {
    "string": str, "integer": int, "number": int, "boolean": bool, "date": date,
}
_TO_TIMESTAMP: Final = converter("timestamp")


def _conversion(field_type: FieldType | None) -> Converter | None:
    """The conversion to ``field_type``; None when every value is kept as it is."""
    convert = converter(field_type)
    return None if convert is converter(None) else convert




class _Unknown(Exception):
    """A value the rule depends on is unknown (internal: handled by ``on_unknown``).

    ``where`` names the expression as :meth:`Rule.expressions` does: ``when``, ``key``,
    ``occurred_at`` or ``data.<field>``."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


#: What :meth:`RulePlan.build` raises that :meth:`RulePlan.settle` deals with: an unknown
#: value the rule depends on, and an expression that cannot be evaluated.
UNSETTLED: Final = (_Unknown, EvaluationError)


def _not_compiled(_change: Change) -> None:
    """The compiled builder where the C module is not built: every change to Python."""
    return None


def _label(where: str) -> str:
    """How a message names an expression of a rule: `` `key` ``, ``data field `total` ``."""
    return f"data field `{where[5:]}`" if where.startswith("data.") else f"`{where}`"



class RulePlan:
    """One rule, ready to run: its expressions, conversions and contract."""

    def __init__(self, mapping: Mapping, rule: Rule) -> None:
        self.rule = rule
        self.fact_type = rule.fact_type
        self.connector = mapping.source.connector
        self.table = mapping.source.table
        self.source = f"/cdc-facts/{self.connector}/{self.table}"
        self.id_rule = f"{rule.domain}.{rule.name}"
        #: ``(position, key) -> id``: the id of the position with the row's key appended
        self.fact_id = row_fact_ids(self.connector, self.table, self.id_rule, rule.version)
        #: the same fact as :meth:`_fact` makes, made in C (None where it is not built)
        self._make_fact = compiled_fact_maker(self.connector, self.table, self.id_rule,
                                              rule.version, self.fact_type, self.source,
                                              rule.topic)
        self.topic = rule.topic
        self.on_unknown = rule.on_unknown
        self.when = rule.when.evaluate
        self.key = rule.key.evaluate
        #: the column of a key that is just ``after.<column>``: read without a call
        self.key_column = rule.key.after_column
        self.occurred_at = rule.occurred_at.evaluate if rule.occurred_at is not None else None
        #: the column of an ``occurred_at`` that is just ``after.<column>``: read without a call
        self.occurred_at_column = (
            rule.occurred_at.after_column if rule.occurred_at is not None else None)
        self.contract = FactContract(rule)
        self.check = self.contract.check
        #: ``(name, where, evaluate, after column, exact class, conversion, converted
        #: class, accepts, nullable)``: ``where`` names the field in messages
        #: (``data.total``); a field that is just ``after.<column>`` is read from the image
        #: without a call; a value of the exact class is already of the declared type and
        #: keeps the contract; no conversion means any value is (untyped, json); a value the
        #: conversion makes of the converted class keeps the contract too; ``accepts`` is
        #: the contract's predicate, for all other values.
        self.fields = tuple(
            (spec.name, f"data.{spec.name}", spec.expr.evaluate, spec.expr.after_column,
             _EXACT.get(spec.type, Never), _conversion(spec.type), converted_class(spec.type),
             accepts, nullable)
            for spec, (accepts, nullable) in zip(
                rule.fields, self.contract.field_checks(), strict=True)
        )
        #: what the C code needs to make this rule's facts (None: the module is not built)
        self.build_plan = compiled_build_plan(
            self.connector, self.table, self.id_rule, rule.version, self.fact_type,
            self.source, rule.topic, self._reading(rule))
        #: all of :meth:`build` in C for the common changes, None from it for the others
        #: (which :meth:`build_in_python` then makes); without the C module, always None
        self.compiled_build: Callable[[Change], Fact | None] = (
            _not_compiled if self.build_plan is None else compiled_fact_builder(self.build_plan))
        #: each expression by where it stands (``when``, ``key``, ``data.total``...)
        self.expressions = dict(rule.expressions())
        self.references = tuple(
            ref for expr in self.expressions.values() for ref in expr.references)
        #: the columns of each image the rule reads (``row.x`` reads either image)
        self.before_columns = _columns_read(self.references, ("before", "row"))
        self.after_columns = _columns_read(self.references, ("after", "row"))
        self.ops = required_ops(rule.when.sql)

    def _reading(self, rule: Rule) -> tuple[object, ...]:
        """How :meth:`build` reads the key, the time and the data, for the compiled builder:
        each field as ``(name, after column, evaluate, exact class, conversion, nullable)``,
        its conversion one of :data:`~cdc_facts.facts.BUILD_CONVERSIONS` (0: none)."""
        fields = tuple(
            (name, column, evaluate, exact, BUILD_CONVERSIONS.get(spec.type or "", 0),
             bool(nullable))
            for spec, (name, _, evaluate, column, exact, *_, nullable) in zip(
                rule.fields, self.fields, strict=True))
        return (self.key_column, self.key, self.occurred_at_column, self.occurred_at,
                _EPOCH, _MILLISECOND, UNKNOWN, fields)

    def when_for(self, op: str) -> Callable[[Change], object]:
        """``when``, compiled for changes whose operation is ``op``: what ``op`` decides is
        folded away (``op = 'u' AND x`` is ``x`` for updates)."""
        if not any(ref.scope == "op" for ref in self.rule.when.references):
            return self.when
        try:
            return compile_expression(self.rule.when.sql, op=op).evaluate
        except ExpressionError:  # compiled once already: kept general if it ever differs
            return self.when

    def apply(self, change: Change, matched: object) -> Fact | None:
        """The fact of this rule, given what ``when`` evaluated to (true or unknown)."""
        try:
            if matched is UNKNOWN:
                raise _Unknown("when")
            return self.build(change)
        except UNSETTLED as problem:
            return self.settle(change, problem)

    def settle(self, change: Change, problem: Exception) -> Fact | None:
        """What :meth:`apply` makes of ``problem``, which :meth:`build` raised (one of
        :data:`UNSETTLED`): ``on_unknown`` decides over an unknown value; an evaluation
        error is raised with the rule named in it."""
        try:
            if isinstance(problem, _Unknown):
                return self._on_unknown(change, problem.where)
            raise problem
        except EvaluationError as exc:
            raise self.evaluation_error(exc) from None

    def _on_unknown(self, change: Change, where: str) -> Fact | None:
        if self.on_unknown == "skip":
            return None
        if self.on_unknown != "null":
            raise self._unknown_error(change, where) from None
        # on_unknown: null: the rule again, unknown read as NULL, and so is a column it
        # reads that the image lacks (schema drift)
        nulled = _nulled(change, self.before_columns, self.after_columns)
        try:
            matched = self.when(nulled)
            if matched is True:
                return self.build(nulled)
            if matched is not False and matched is not None:
                raise self.not_a_condition(matched)
            return None
        except _Unknown as unknown:  # cannot happen: a last guard against a crash
            raise self._unknown_error(change, unknown.where) from None

    def build(self, change: Change) -> Fact:
        """The fact of ``change``, ``when`` being true. Raises one of :data:`UNSETTLED`
        where :meth:`apply` would settle the problem: the caller hands it to
        :meth:`settle`."""
        fact = self.compiled_build(change)
        return self.build_in_python(change) if fact is None else fact

    def build_in_python(self, change: Change) -> Fact:
        """:meth:`build` without the compiled builder: every change it hands back, and the
        reference the tests hold it to."""
        after, column = change.after, self.key_column  # `after.x` read inline, as it reads
        subject = self.key(change) if column is None or after is None else after.get(
            column, UNKNOWN)
        if subject is None or subject is UNKNOWN:
            self._value("key", subject)
        if subject.__class__ is not str:  # an int as ::text writes it, without a call
            subject = str(subject) if subject.__class__ is int else _subject(subject)
        data = {}
        kept = bool(subject)  # whether the fact keeps its contract, checked value by value
        for name, where, evaluate, column, exact, convert, converted, accepts, nullable in (
                self.fields):
            value = evaluate(change) if column is None or after is None else after.get(
                column, UNKNOWN)
            if value.__class__ is not exact:
                if value is None:
                    kept = kept and nullable
                elif value is UNKNOWN:
                    raise _Unknown(where)
                else:
                    if convert is not None:
                        try:
                            value = convert(value)
                        except (ValueError, TypeError, ArithmeticError):
                            value = self._convert(where, convert, value)  # raises, with its name
                    kept = kept and (value.__class__ is converted or accepts(value))
            data[name] = value
        millis = change.source.get("ts_ms") if self.occurred_at is None else None
        time = _EPOCH + _MILLISECOND * millis if millis.__class__ is int else self._time(change)
        make = self._make_fact
        fact = None if make is None else make(change, subject, time, data)
        if fact is None:
            fact = self._fact(change, subject, time, data)
        if not kept:
            self.check(fact)  # raises, naming every way the fact breaks the contract
        return fact

    def _fact(self, change: Change, subject: str, time: datetime,
              data: dict[str, object]) -> Fact:
        """The fact of ``change``: its position and id, and where it comes from."""
        lsn, op = change.source.get("lsn"), change.op
        position = f"lsn:{lsn}" if lsn is not None and op != "r" else change.position
        return Fact(  # a snapshot read's position names its row already
            self.fact_id(position, change.key if op != "r" else None), self.fact_type,
            self.source, subject, time, data, self.topic, self.fact_type,
            self._provenance(change, position), None,
        )

    def _provenance(self, change: Change, position: str) -> dict[str, str]:
        """CloudEvents extensions naming where the fact comes from: the operation, the
        source position and transaction, the rule, and whether it is a snapshot read."""
        source = change.source
        txid = source.get("txId") or (change.transaction or {}).get("id") or source.get("gtid")
        extensions = {"cdcop": change.op, "cdcposition": position, "cdcrule": self.fact_type}
        if txid is not None:
            extensions["cdctxid"] = str(txid)
        if change.op == "r":
            extensions["cdcsnapshot"] = "true"
        return extensions

    def _value(self, where: str, value: object) -> object:
        """``value``, read for ``where``: unknown raises; a NULL key or time is an error."""
        if value is UNKNOWN:
            raise _Unknown(where)
        if value is None and where == "key":
            raise EvaluationError(
                f"rule {self.fact_type}: the key is NULL", rule=self.fact_type,
                hint="a fact needs a key: make `key` read a column that is never NULL",
            )
        if value is None and where == "occurred_at":
            raise EvaluationError(
                f"rule {self.fact_type}: occurred_at is NULL", rule=self.fact_type,
                hint="make `occurred_at` read a column that is set when the rule fires, or "
                "use COALESCE(...) with a fallback",
            )
        return value

    def _convert(self, where: str, convert: Any, value: object) -> object:
        try:
            return convert(value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            what = "a timestamp" if where == "occurred_at" else "its declared type"
            raise ContractViolationError(
                f"rule {self.fact_type}: {_label(where)} = {value!r} does not fit {what}: "
                f"{exc}",
                rule=self.fact_type,
                hint=_conversion_hint(value),
            ) from None

    def _time(self, change: Change) -> datetime:
        if self.occurred_at is None:
            millis = change.source.get("ts_ms")
            if millis.__class__ is int:
                return _EPOCH + _MILLISECOND * millis
            return _commit_time(change)
        after, column = change.after, self.occurred_at_column
        value = self.occurred_at(change) if column is None or after is None else after.get(
            column, UNKNOWN)
        if value is None or value is UNKNOWN:
            self._value("occurred_at", value)
        if value.__class__ is datetime and value.tzinfo is UTC:
            return value
        try:  # _convert's conversion, without its call when it succeeds
            return _TO_TIMESTAMP(value)  # type: ignore[return-value]
        except (ValueError, TypeError, ArithmeticError):
            return self._convert("occurred_at", _TO_TIMESTAMP, value)  # type: ignore[return-value]

    def unknown_part(self, change: Change) -> tuple[str, str] | None:
        """Why this rule, its ``when`` true for ``change``, is unknown: the first of its
        ``key``, data fields and ``occurred_at`` that is (as a message names it), and the
        unknown columns that one reads; None when none is unknown.

        Raises:
            RecordError: as :meth:`apply`, when the fact fails otherwise first.
        """
        try:
            self.build(change)
        except _Unknown as unknown:
            return _label(unknown.where), self._unknown_columns(change, unknown.where)
        return None

    def _unknown_columns(self, change: Change, where: str) -> str:
        """The columns the expression at ``where`` reads that are unknown in ``change``."""
        expression = self.expressions.get(where)
        references = self.references if expression is None else expression.references
        columns = [
            f"{ref.scope}.{ref.column}" for ref in references
            if ref.column is not None and _read(change, ref.scope, ref.column) is UNKNOWN
        ]
        return ", ".join(dict.fromkeys(columns)) or "a value"

    def _unknown_error(self, change: Change, where: str) -> UnknownValueError:
        which = self._unknown_columns(change, where)
        return UnknownValueError(
            f"rule {self.fact_type}: {_label(where)} depends on {which}, which the database "
            "did not deliver (unchanged TOAST value, missing or keys-only before image)",
            rule=self.fact_type,
            hint="deliver full images (REPLICA IDENTITY FULL), or set `on_unknown: skip` or "
            "`on_unknown: null` on the rule",
        )

    def not_a_condition(self, matched: object) -> EvaluationError:
        """The error for a ``when`` that gave ``matched``, which is no condition (true,
        false, NULL or unknown): PostgreSQL refuses a WHERE that is not boolean."""
        error = self.evaluation_error(not_boolean(matched, "WHEN", self.rule.when.sql))
        error.hint = (f"make `when` a condition: compare `{self.rule.when.sql}` with a value, "
                      "or cast it with ::boolean")
        return error

    def evaluation_error(self, exc: EvaluationError) -> EvaluationError:
        """``exc`` with this rule named in it."""
        if exc.rule is None:
            exc.rule = self.fact_type
            exc.message = f"rule {self.fact_type}: {exc.message}"
            exc.args = (exc.message,)
        return exc



def required_ops(sql: str) -> frozenset[str] | None:
    """The ops a condition can hold for, when its top level says (``op = 'c' AND ...``,
    ``op IN ('c', 'r') OR ...``); ``None`` when any op may match.

    >>> sorted(required_ops("op = 'u' AND after.status = 'paid'"))
    ['u']
    >>> required_ops("NOT op = 'u'") is None
    True
    """
    try:
        return _ops(sqlglot.parse_one(sql, read="postgres"))
    except SqlglotError:
        return None


def _ops(node: exp.Expr) -> frozenset[str] | None:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And | exp.Or):
        left, right = _ops(node.this), _ops(node.expression)
        if isinstance(node, exp.Or):
            return None if left is None or right is None else left | right
        if left is None or right is None:
            return left if right is None else right
        return left & right
    if isinstance(node, exp.EQ):
        return _op_literals(node.this, [node.expression]) or _op_literals(
            node.expression, [node.this])
    if isinstance(node, exp.In) and not node.args.get("query"):
        return _op_literals(node.this, node.expressions)
    return None


def _op_literals(name: exp.Expr, values: list[exp.Expr]) -> frozenset[str] | None:
    is_op = isinstance(name, exp.Column) and not name.table and name.name.lower() == "op"
    if not is_op or not all(isinstance(v, exp.Literal) and v.is_string for v in values):
        return None
    return frozenset(str(v.this) for v in values)


def _read(change: Change, scope: str, column: str) -> object:
    """What ``scope.column`` reads as in a rule: a missing column is unknown, not NULL."""
    return evaluator(scope, column)(change) if scope in ("before", "after", "row") else None


def _columns_read(references: Iterable[ColumnReference],
                  scopes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.column for r in references
                               if r.scope in scopes and r.column is not None))


def _nulled(change: Change, before: tuple[str, ...], after: tuple[str, ...]) -> Change:
    """The change with every unknown value read as NULL (``on_unknown: null``): an unknown
    value, and a column the rule reads that a present image lacks."""
    return dataclasses.replace(change, before=_nulled_row(change.before, before),
                               after=_nulled_row(change.after, after))


def _nulled_row(row: Row | None, read: tuple[str, ...]) -> Row | None:
    if row is None:
        return None
    nulled: Row = dict.fromkeys(read)
    nulled.update((c, None if v is UNKNOWN else v) for c, v in row.items())
    return nulled


def _commit_time(change: Change) -> datetime:
    millis = change.source.get("ts_ms")
    if millis.__class__ is not int and not isinstance(millis, int):
        millis = change.ts_ms if change.ts_ms is not None else 0
    return _EPOCH + _MILLISECOND * millis


def _subject(value: object) -> str:
    """The string form of a key, as ``::text`` writes it: ``7`` -> ``"7"``, ``True`` ->
    ``"true"``, a decimal with all its digits and no exponent (``0.00000050``), a
    timestamp as ``2024-05-02 08:30:00+00``, bytes as ``\\x1234``, JSON as its text."""
    try:
        return to_text(value)
    except TypeError:  # no SQL type: not made by an expression
        return str(value)


def _conversion_hint(value: object) -> str | None:
    if isinstance(value, str) and value.endswith("=") and len(value) < 32:
        return ("this looks like a base64 decimal: with schemas off, set the connector's "
                "decimal.handling.mode to string")
    return None

