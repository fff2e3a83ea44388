"""Comparisons: ``=  <>  <  <=  >  >=``, ``IS [NOT] DISTINCT FROM``, ``IN``, ``LIKE`` and
``ILIKE``, with SQL's three-valued logic and cdc-facts' UNKNOWN. (``BETWEEN`` is compiled
as two comparisons joined by ``AND``, in :mod:`.syntax`.)

A comparison with NULL is NULL and a comparison with UNKNOWN is UNKNOWN (NULL wins: it is
NULL whatever the unknown value is). Values of the same plain type compare directly; text
meeting another type is read as that type, as PostgreSQL types a quoted literal.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from cdc_facts.errors import EvaluationError
from cdc_facts.expressions.casts import text_like, type_name
from cdc_facts.expressions.context import (
    OPERATION_ERRORS,
    EvalContext,
    Evaluator,
    Node,
    evaluation_error,
)
from cdc_facts.expressions.names import BEFORE_EXPECTED
from cdc_facts.expressions.patterns import like_regex
from cdc_facts.types import UNKNOWN

Compare = Callable[[Any, Any], Any]

#: SQL comparison operator -> Python operator.
OPERATORS: dict[str, Compare] = {
    "=": operator.eq, "<>": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
#: The operator that gives the same answer with the operands swapped.
SWAPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

#: What a comparison of an image's column with a constant is, when the image is present and
#: the value of class ``cls``: ``plain(value, const)``, a bool. ``(after, column, cls, plain,
#: const)``; ``after`` is False for the ``before`` image.
ImageTest = tuple[bool, str, type, Compare, object]
_image_tests: weakref.WeakKeyDictionary[Evaluator, ImageTest] = weakref.WeakKeyDictionary()


def image_test(evaluator: Evaluator) -> ImageTest | None:
    """What ``evaluator`` is, when it compares a column of an image with a constant
    (``after.status = 'paid'``): :mod:`.logic` then reads it inline in an ``AND``."""
    return _image_tests.get(evaluator)


def _tested(fn: Evaluator, test: ImageTest) -> Evaluator:
    _image_tests[fn] = test
    return fn


#: Classes whose values of the same class compare correctly with Python's operators.
_PLAIN = frozenset({str, int, Decimal, bool, float, date, UUID, timedelta})
#: Numbers of different classes compare correctly with each other too.
_NUMBERS = frozenset({int, Decimal, float})
#: The plain classes that have a NaN, which PostgreSQL makes equal to itself and greater
#: than every other number, where Python makes it unequal to everything (and Decimal
#: refuses to order it): their values are compared through :data:`_NAN_AWARE`.
_INEXACT = frozenset({float, Decimal})
#: The plain classes whose values Python's operators compare as PostgreSQL does.
_ORDERED = _PLAIN - _INEXACT


def _nan_aware(op: Compare) -> Compare:
    """``op`` for numbers, with NaN equal to NaN and above every other number."""

    def fn(a: Any, b: Any) -> Any:
        if a != a or b != b:  # noqa: PLR0124 - a NaN, and only a NaN, is unequal to itself
            return op(a != a, b != b)  # noqa: PLR0124
        return op(a, b)

    return fn


#: Each operator of :data:`OPERATORS`, NaN-aware: made once, shared by every comparison.
_NAN_AWARE: dict[Compare, Compare] = {op: _nan_aware(op) for op in OPERATORS.values()}

_FAMILIES: dict[type, str] = {
    int: "number", Decimal: "number", float: "number", str: "text", bool: "boolean",
    date: "timestamp", datetime: "timestamp", time: "time", timedelta: "interval",
    UUID: "uuid", dict: "json", list: "json", bytes: "bytea",
}  # fmt: skip


def _comparable(a: object, b: object) -> tuple[object, object]:
    """Bring two non-NULL, known values to a common type, or raise ``TypeError``."""
    if isinstance(a, str) and not isinstance(b, str):
        return text_like(a, b), b
    if isinstance(b, str) and not isinstance(a, str):
        return a, text_like(b, a)
    if _FAMILIES.get(type(a)) != _FAMILIES.get(type(b)) or type(a) not in _FAMILIES:
        raise TypeError(f"cannot compare {type_name(a)} with {type_name(b)}")
    if isinstance(a, date) and type(a) is not type(b) or isinstance(a, datetime):
        return _as_moment(a, b), _as_moment(b, a)
    if isinstance(a, time) and isinstance(b, time) and (a.tzinfo is None) != (b.tzinfo is None):
        # a time meets a time with time zone: it is read in the session's zone, UTC
        return a.replace(tzinfo=a.tzinfo or UTC), b.replace(tzinfo=b.tzinfo or UTC)
    return a, b


def _as_moment(value: object, other: object) -> object:
    """A date or timestamp as a timestamp comparable with ``other``."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)  # type: ignore[attr-defined]
    aware = isinstance(other, datetime) and other.tzinfo is not None
    if aware and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def compare(symbol: str, a: object, b: object) -> object:
    """``a <symbol> b`` with three-valued logic: True, False, None (NULL) or UNKNOWN."""
    if a is None or b is None:
        return None
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    ta, tb = type(a), type(b)
    if not (ta is tb and ta in _PLAIN or ta in _NUMBERS and tb in _NUMBERS):
        a, b = _comparable(a, b)
        ta, tb = type(a), type(b)
    if ta in _INEXACT or tb in _INEXACT:
        return _NAN_AWARE[OPERATORS[symbol]](a, b)
    return OPERATORS[symbol](a, b)


def comparison(symbol: str, left: Node, right: Node, sql: str) -> Evaluator:
    """Compile ``left <symbol> right``; a name against a constant gets a faster closure."""
    if right.is_constant and not left.is_constant:
        return _against_constant(symbol, left, right.const, sql)
    if left.is_constant and not right.is_constant:
        return _against_constant(SWAPPED[symbol], right, left.const, sql)
    op, lf, rf = OPERATORS[symbol], left.fn, right.fn

    def slow(a: object, b: object) -> object:
        try:
            return compare(symbol, a, b)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc

    def fn(change: EvalContext) -> object:
        a = lf(change)
        b = rf(change)
        if a.__class__ is b.__class__ and a.__class__ in _ORDERED:
            return op(a, b)
        return slow(a, b)

    return images_first(left, right, op, fn)


def images_first(left: Node, right: Node, plain: Compare, general: Evaluator) -> Evaluator:
    """``general`` for ``left`` and ``right``, with a shortcut when both are columns of the
    ``before`` or ``after`` image (``before.total <> after.total``): with both images
    present and two values of the same plain class, ``plain(a, b)`` is the answer (NaN
    ordered as PostgreSQL orders it), read in one closure; anything else is left to
    ``general``."""
    if left.column is None or right.column is None:
        return general
    (left_scope, left_column), (right_scope, right_column) = left.column, right.column
    if left_scope not in _IMAGES or right_scope not in _IMAGES:
        return general
    left_before, right_before = left_scope == "before", right_scope == "before"
    numbers = _NAN_AWARE[plain]  # two decimals or two floats: NaN as PostgreSQL orders it

    def fn(change: EvalContext) -> object:
        before = change.before
        after = change.after
        if before is not None and after is not None:
            a = (before if left_before else after).get(left_column, UNKNOWN)  # type: ignore[arg-type]
            b = (before if right_before else after).get(right_column, UNKNOWN)  # type: ignore[arg-type]
            if a.__class__ is b.__class__:
                if a.__class__ in _ORDERED:
                    return plain(a, b)
                if a.__class__ in _INEXACT:
                    return numbers(a, b)
        return general(change)

    return fn


_IMAGES = frozenset({"before", "after"})


def _against_constant(symbol: str, name: Node, const: object, sql: str) -> Evaluator:
    """``name <symbol> const``, reading the image inline for ``after.*`` and ``before.*``."""

    def general(value: object) -> object:
        try:
            return compare(symbol, value, const)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc

    if const.__class__ not in _PLAIN:
        read = name.fn
        return lambda change: general(read(change))
    op, cls = OPERATORS[symbol], const.__class__
    if cls in _INEXACT:
        op = _NAN_AWARE[op]
    slow = (_numbers_first(op if cls in _INEXACT else _NAN_AWARE[op], const, general)
            if cls in _NUMBERS else general)
    scope, column = name.column or (None, None)
    if scope == "op" and cls is str:
        return lambda change: op(change.op, const)
    if scope == "after" and column is not None:
        return _after_against(column, op, cls, const, slow)
    if scope == "before" and column is not None:
        return _before_against(column, op, cls, const, slow)
    read = name.fn

    def fn(change: EvalContext) -> object:
        value = read(change)
        if value.__class__ is cls:
            return op(value, const)
        return slow(value)

    return fn


def _numbers_first(
    op: Compare, const: object, slow: Callable[[object], object]
) -> Callable[[object], object]:
    """A number constant meets a number of another class (``after.total > 100``)."""

    def fn(value: object) -> object:
        if value.__class__ in _NUMBERS:
            return op(value, const)
        return slow(value)

    return fn


def _after_against(
    column: str, op: Compare, cls: type, const: object, slow: Callable[[object], object]
) -> Evaluator:
    def fn(change: EvalContext) -> object:
        image = change.after
        if image is None:
            return None
        value = image.get(column, UNKNOWN)
        if value.__class__ is cls:
            return op(value, const)
        return slow(value)

    return _tested(fn, (True, column, cls, op, const))


def _before_against(
    column: str, op: Compare, cls: type, const: object, slow: Callable[[object], object]
) -> Evaluator:
    def fn(change: EvalContext) -> object:
        image = change.before
        if image is None:
            return UNKNOWN if change.op in BEFORE_EXPECTED else None
        value = image.get(column, UNKNOWN)
        if value.__class__ is cls:
            return op(value, const)
        return slow(value)

    return _tested(fn, (False, column, cls, op, const))


def is_distinct(a: object, b: object) -> object:
    """``a IS DISTINCT FROM b``: NULL-safe inequality; UNKNOWN if either is unknown."""
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    if a is None or b is None:
        return (a is None) is not (b is None)
    return compare("<>", a, b)


def distinct_from(left_node: Node, right_node: Node, negate: bool, sql: str) -> Evaluator:
    """Compile ``IS [NOT] DISTINCT FROM``."""
    left, right = left_node.fn, right_node.fn

    def fn(change: EvalContext) -> object:
        a, b = left(change), right(change)
        if a.__class__ is b.__class__ and a.__class__ in _ORDERED:
            return (a == b) if negate else (a != b)
        try:
            result = is_distinct(a, b)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc
        if negate and result is not UNKNOWN:
            return not result
        return result

    plain = operator.eq if negate else operator.ne
    for name, other in ((left_node, right_node), (right_node, left_node)):
        if other.is_constant and other.const.__class__ in _PLAIN:
            inexact = other.const.__class__ in _INEXACT
            return _image_against(name, _NAN_AWARE[plain] if inexact else plain, other.const, fn)
    return images_first(left_node, right_node, plain, fn)


def _image_against(name: Node, plain: Compare, const: object, general: Evaluator) -> Evaluator:
    """``general`` for ``name`` against ``const``, with a shortcut when ``name`` is a column
    of the ``before`` or ``after`` image (``before.status IS DISTINCT FROM 'paid'``): with
    the image present and a value of the constant's class, ``plain(value, const)`` is the
    answer, read in one closure; anything else is left to ``general``."""
    scope, column = name.column or (None, None)
    if scope not in _IMAGES or column is None:
        return general
    after, cls = scope == "after", const.__class__

    def fn(change: EvalContext) -> object:
        image = change.after if after else change.before
        if image is not None:
            value = image.get(column, UNKNOWN)
            if value.__class__ is cls:
                return plain(value, const)
        return general(change)

    return _tested(fn, (after, column, cls, plain, const))


def in_list(subject: Evaluator, items: list[Node], sql: str) -> Evaluator:
    """Compile ``subject IN (items...)``: TRUE on a match, else NULL if an item was NULL."""
    if all(item.is_constant for item in items):
        fast = _constant_set([item.const for item in items])
        if fast is not None:
            return _in_constant_set(subject, fast, [i.fn for i in items], sql)
    return _in_evaluated(subject, [item.fn for item in items], sql)


def _constant_set(values: list[object]) -> tuple[frozenset[object], frozenset[type], bool] | None:
    known = [v for v in values if v is not None]
    if any(v is UNKNOWN for v in known):
        return None
    if all(type(v) is str for v in known):
        return frozenset(known), frozenset({str}), None in values
    if all(type(v) in (int, Decimal) for v in known):
        return frozenset(known), frozenset({int, Decimal}), None in values
    return None


def _in_constant_set(
    subject: Evaluator,
    fast: tuple[frozenset[object], frozenset[type], bool],
    items: list[Evaluator],
    sql: str,
) -> Evaluator:
    members, classes, has_null = fast
    miss = None if has_null else False
    general = _in_evaluated(subject, items, sql)

    def fn(change: EvalContext) -> object:
        value = subject(change)
        if value.__class__ in classes:
            return True if value in members else miss
        return general(change)

    return fn


def _in_evaluated(subject: Evaluator, items: list[Evaluator], sql: str) -> Evaluator:
    def fn(change: EvalContext) -> object:
        value = subject(change)
        if value is None or value is UNKNOWN:
            return value
        return _match_any(change, value, items, sql)

    return fn


def _match_any(change: EvalContext, value: object, items: list[Evaluator], sql: str) -> object:
    outcome: object = False
    error: Exception | None = None
    for item in items:
        try:
            found = compare("=", value, item(change))
        except OPERATION_ERRORS as exc:
            error = error or evaluation_error(sql, exc)
            continue
        except EvaluationError as exc:
            error = error or exc
            continue
        if found is True:
            return True
        if found is UNKNOWN or (found is None and outcome is False):
            outcome = found
    if error is not None:
        raise error
    return outcome


def like(
    subject: Evaluator, pattern: Node, escape: Node | None, ignore_case: bool, sql: str
) -> Evaluator:
    """Compile ``subject LIKE/ILIKE pattern [ESCAPE e]`` (``NOT LIKE`` is NOT around it).

    Raises:
        ValueError: the pattern and escape are constants and the pattern is invalid.
    """
    escape_fn = escape.fn if escape is not None else (lambda change: "\\")
    fixed = pattern.is_constant and (escape is None or escape.is_constant)
    if fixed and isinstance(pattern.const, str):
        escape_char = escape.const if escape is not None else "\\"
        if isinstance(escape_char, str):
            regex = like_regex(pattern.const, escape_char, ignore_case)
            test = _plain_like(pattern.const, escape_char, ignore_case)
            if test is None:
                match = regex.fullmatch
                test = lambda text: match(text) is not None  # noqa: E731
            return _like_fixed(subject, test, sql)
    return _like_dynamic(subject, pattern.fn, escape_fn, ignore_case, sql)


def _text_operand(value: object, sql: str) -> str:
    if isinstance(value, str):
        return value
    problem = TypeError(f"LIKE needs text, not {type_name(value)}; cast it with ::text")
    raise evaluation_error(sql, problem)


def _plain_like(pattern: str, escape: str, ignore_case: bool) -> Callable[[str], bool] | None:
    """A string test for the common patterns ``'abc'``, ``'abc%'``, ``'%abc'``, ``'%abc%'``."""
    core = pattern.strip("%")
    if ignore_case or "_" in pattern or "%" in core or (escape and escape in pattern):
        return None
    if pattern.startswith("%") and pattern.endswith("%"):
        return lambda text: core in text
    if pattern.startswith("%"):
        return lambda text: text.endswith(core)
    if pattern.endswith("%"):
        return lambda text: text.startswith(core)
    return lambda text: text == core


def _like_fixed(subject: Evaluator, test: Callable[[str], bool], sql: str) -> Evaluator:
    def fn(change: EvalContext) -> object:
        value = subject(change)
        if value.__class__ is str:
            return test(value)
        if value is None or value is UNKNOWN:
            return value
        return test(_text_operand(value, sql))

    return fn


def _like_dynamic(
    subject: Evaluator, pattern: Evaluator, escape: Evaluator, ignore_case: bool, sql: str
) -> Evaluator:
    def fn(change: EvalContext) -> object:
        value, pat, esc = subject(change), pattern(change), escape(change)
        if value is None or pat is None or esc is None:
            return None
        if value is UNKNOWN or pat is UNKNOWN or esc is UNKNOWN:
            return UNKNOWN
        try:
            regex = like_regex(_text_operand(pat, sql), _text_operand(esc, sql), ignore_case)
        except ValueError as exc:
            raise evaluation_error(sql, exc) from exc
        return regex.fullmatch(_text_operand(value, sql)) is not None

    return fn
