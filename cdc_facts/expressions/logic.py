"""Three-valued logic: ``AND``, ``OR``, ``NOT``, ``IS [NOT] NULL/TRUE/FALSE``, ``CASE``,
``COALESCE`` and ``NULLIF``.

``None`` is NULL and :data:`~cdc_facts.types.UNKNOWN` a value the database did not deliver.
A result is UNKNOWN only when it really depends on an unknown input: ``FALSE AND UNKNOWN``
is FALSE, ``TRUE OR UNKNOWN`` is TRUE, ``NULL AND UNKNOWN`` is UNKNOWN (it may be FALSE or
NULL). The operators that can ignore an operand evaluate lazily, left to right, and neither
an unknown nor an error in an operand that does not matter escapes.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdc_facts.errors import EvaluationError
from cdc_facts.expressions.casts import type_name
from cdc_facts.expressions.compare import ImageTest, compare, image_test
from cdc_facts.expressions.context import (
    OPERATION_ERRORS,
    EvalContext,
    Evaluator,
    evaluation_error,
)
from cdc_facts.types import UNKNOWN


def not_boolean(value: object, what: str, sql: str) -> EvaluationError:
    """The error for a value of ``sql`` that is not a condition where ``what`` (``AND``,
    ``CASE WHEN``...) needs one."""
    problem = TypeError(f"argument of {what} must be boolean, not {type_name(value)} {value!r}")
    return evaluation_error(sql, problem)


def _settle(
    change: EvalContext,
    operands: Sequence[Evaluator],
    index: int,
    first: object,
    stop: bool,
    what: str,
    sql: str,
) -> object:
    """Finish an AND (``stop=False``) or OR (``stop=True``) from ``operands[index]``, whose
    value or error is ``first``: the stop value wins over anything, then an error, then
    UNKNOWN, then NULL."""
    error: EvaluationError | None = None
    unknown = null = False
    value = first
    while True:
        if value is stop:
            return stop
        if isinstance(value, EvaluationError):
            error = error or value
        elif value is UNKNOWN:
            unknown = True
        elif value is None:
            null = True
        elif value is not (not stop):
            error = error or not_boolean(value, what, sql)
        index += 1
        if index >= len(operands):
            break
        try:
            value = operands[index](change)
        except EvaluationError as exc:
            value = exc
    if error is not None:
        raise error
    return UNKNOWN if unknown else None if null else not stop


def conjunction(operands: Sequence[Evaluator], sql: str) -> Evaluator:
    """Compile ``a AND b AND ...``: FALSE as soon as one operand is FALSE."""
    return _connective(operands, False, "AND", sql)


def disjunction(operands: Sequence[Evaluator], sql: str) -> Evaluator:
    """Compile ``a OR b OR ...``: TRUE as soon as one operand is TRUE."""
    return _connective(operands, True, "OR", sql)


def _connective(operands: Sequence[Evaluator], stop: bool, what: str, sql: str) -> Evaluator:
    if len(operands) == 2:
        return _two(operands, stop, what, sql)
    if len(operands) == 3:
        return _three(operands, stop, what, sql)
    return _many(operands, stop, what, sql)


def _two(operands: Sequence[Evaluator], stop: bool, what: str, sql: str) -> Evaluator:
    first, second = operands
    go = not stop

    def fn(change: EvalContext) -> object:
        try:
            value = first(change)
        except EvaluationError as exc:
            return _settle(change, operands, 0, exc, stop, what, sql)
        if value is not go:
            if value is stop:
                return stop
            return _settle(change, operands, 0, value, stop, what, sql)
        try:
            value = second(change)
        except EvaluationError as exc:
            return _settle(change, operands, 1, exc, stop, what, sql)
        if value is go or value is stop:
            return value
        return _settle(change, operands, 1, value, stop, what, sql)

    tests = image_test(first), image_test(second)
    if tests[0] is not None and tests[1] is not None:
        return _two_tests(tests[0], tests[1], stop, fn)
    return fn


def _two_tests(first: ImageTest, second: ImageTest, stop: bool, general: Evaluator) -> Evaluator:
    """``general``, for two comparisons of image columns with constants
    (``before.status <> 'paid' AND after.status = 'paid'``), with both read in one closure
    when both images hold values of the constants' classes: each comparison is then a
    bool, and the first decides alone when it is the stop value. Anything else (a missing
    image, NULL, unknown, another class) is left to ``general``."""
    first_after, first_column, first_cls, first_op, first_const = first
    second_after, second_column, second_cls, second_op, second_const = second

    def fn(change: EvalContext) -> object:
        image = change.after if first_after else change.before
        if image is not None:
            value = image.get(first_column, UNKNOWN)
            if value.__class__ is first_cls:
                if first_op(value, first_const) is stop:
                    return stop
                image = change.after if second_after else change.before
                if image is not None:
                    value = image.get(second_column, UNKNOWN)
                    if value.__class__ is second_cls:
                        return second_op(value, second_const)
        return general(change)

    return fn


def _three(operands: Sequence[Evaluator], stop: bool, what: str, sql: str) -> Evaluator:
    first, second, third = operands
    go = not stop
    rest = _two(operands[1:], stop, what, sql)

    def fn(change: EvalContext) -> object:
        try:
            value = first(change)
        except EvaluationError as exc:
            return _settle(change, operands, 0, exc, stop, what, sql)
        if value is go:
            return rest(change)
        if value is stop:
            return stop
        return _settle(change, operands, 0, value, stop, what, sql)

    return fn


def _many(operands: Sequence[Evaluator], stop: bool, what: str, sql: str) -> Evaluator:
    indexed = tuple(enumerate(operands))
    go = not stop

    def fn(change: EvalContext) -> object:
        for index, operand in indexed:
            try:
                value = operand(change)
            except EvaluationError as exc:
                return _settle(change, operands, index, exc, stop, what, sql)
            if value is go:
                continue
            if value is stop:
                return stop
            return _settle(change, operands, index, value, stop, what, sql)
        return go

    return fn


def negation(operand: Evaluator, sql: str) -> Evaluator:
    """Compile ``NOT a``."""

    def fn(change: EvalContext) -> object:
        value = operand(change)
        if value is True:
            return False
        if value is False:
            return True
        if value is None or value is UNKNOWN:
            return value
        raise not_boolean(value, "NOT", sql)

    return fn


def is_null(operand: Evaluator, negate: bool) -> Evaluator:
    """Compile ``a IS [NOT] NULL``; UNKNOWN stays UNKNOWN (it may or may not be NULL)."""

    def fn(change: EvalContext) -> object:
        value = operand(change)
        if value is UNKNOWN:
            return UNKNOWN
        return (value is None) is not negate

    return fn


def is_truth(operand: Evaluator, truth: bool, negate: bool, sql: str) -> Evaluator:
    """Compile ``a IS [NOT] TRUE`` / ``a IS [NOT] FALSE``; never NULL."""

    def fn(change: EvalContext) -> object:
        value = operand(change)
        if value is UNKNOWN:
            return UNKNOWN
        if value is not None and value is not True and value is not False:
            raise not_boolean(value, "IS TRUE/FALSE", sql)
        return (value is truth) is not negate

    return fn


def searched_case(
    branches: Sequence[tuple[Evaluator, Evaluator]], default: Evaluator, sql: str
) -> Evaluator:
    """Compile ``CASE WHEN c THEN r ... ELSE d END``: only the branch taken is evaluated."""

    def fn(change: EvalContext) -> object:
        for condition, result in branches:
            value = condition(change)
            if value is True:
                return result(change)
            if value is False or value is None:
                continue
            if value is UNKNOWN:
                return UNKNOWN
            raise not_boolean(value, "CASE WHEN", sql)
        return default(change)

    return fn


def simple_case(
    subject: Evaluator,
    branches: Sequence[tuple[Evaluator, Evaluator]],
    default: Evaluator,
    sql: str,
) -> Evaluator:
    """Compile ``CASE x WHEN v THEN r ... ELSE d END`` (``x = v`` in turn)."""

    def fn(change: EvalContext) -> object:
        value = subject(change)
        for candidate, result in branches:
            try:
                matched = compare("=", value, candidate(change))
            except OPERATION_ERRORS as exc:
                raise evaluation_error(sql, exc) from exc
            if matched is True:
                return result(change)
            if matched is UNKNOWN:
                return UNKNOWN
        return default(change)

    return fn


def coalesce(operands: Sequence[Evaluator]) -> Evaluator:
    """Compile ``COALESCE(a, b, ...)``: the first non-NULL value; UNKNOWN if an unknown
    comes first (it may be NULL or not). Later operands are not evaluated."""

    def fn(change: EvalContext) -> object:
        for operand in operands:
            value = operand(change)
            if value is not None:
                return value
        return None

    return fn


def nullif(first: Evaluator, second: Evaluator, sql: str) -> Evaluator:
    """Compile ``NULLIF(a, b)``: NULL if ``a = b``, else ``a``."""

    def fn(change: EvalContext) -> object:
        value = first(change)
        if value is None or value is UNKNOWN:
            return value
        other = second(change)
        if other is UNKNOWN:
            return UNKNOWN
        try:
            equal = compare("=", value, other)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc
        return None if equal is True else value

    return fn
