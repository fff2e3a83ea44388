"""The SQL function registry: a function is one entry in :data:`FUNCTIONS`.

>>> from decimal import Decimal
>>> FUNCTIONS["round"].impl(Decimal("2.5"))
Decimal('3')

A strict function (the default) returns NULL when any argument is NULL without being
called; every function returns UNKNOWN when an argument is unknown. An implementation
receives plain Python values and raises ``ValueError`` or ``TypeError`` with a message for
the user; the compiler turns it into an :class:`~cdc_facts.errors.EvaluationError` naming
the call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cdc_facts.expressions import builtins, temporal
from cdc_facts.expressions.casts import common_type
from cdc_facts.expressions.context import (
    OPERATION_ERRORS,
    EvalContext,
    Evaluator,
    Node,
    evaluation_error,
)
from cdc_facts.expressions.logic import coalesce, nullif
from cdc_facts.types import UNKNOWN

Impl = Callable[..., object]
#: Builds the evaluator of a special form from its compiled arguments and its SQL text.
Builder = Callable[[Sequence[Node], str], Evaluator]
#: A static result type, or a function of the arguments' static types.
ResultType = str | Callable[[Sequence[str | None]], str | None] | None
#: Checks a call when it is compiled: gets each argument's constant value (``NO_CONSTANT``
#: when it is only known at run time) and returns what is wrong, or None.
Check = Callable[[Sequence[object]], str | None]


@dataclass(frozen=True)
class FunctionSpec:
    """One SQL function.

    Attributes:
        name: Lower-case SQL name.
        impl: The Python implementation, called with the evaluated arguments.
        min_args: Fewest arguments accepted.
        max_args: Most arguments accepted; ``None`` for any number.
        strict: NULL in any argument makes the result NULL without calling ``impl``.
        result_type: Static result type, or a function of the argument types.
        description: One line of documentation.
        build: For special forms that evaluate arguments lazily (``coalesce``): makes the
            evaluator from the compiled arguments instead of calling ``impl``.
        check: Finds mistakes in constant arguments when the call is compiled
            (``date_trunc('fortnight', ts)``).
    """

    name: str
    impl: Impl
    min_args: int
    max_args: int | None
    strict: bool = True
    result_type: ResultType = None
    description: str = ""
    build: Builder | None = None
    check: Check | None = None

    def arity(self) -> str:
        """``'2'``, ``'1 to 3'`` or ``'2 or more'``, for messages."""
        if self.max_args is None:
            return f"{self.min_args} or more"
        if self.max_args == self.min_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"

    def static_type(self, argument_types: Sequence[str | None]) -> str | None:
        """The result type given the arguments' static types, when it can be told."""
        if callable(self.result_type):
            return self.result_type(argument_types)
        return self.result_type


#: Every SQL function a rule expression can call, by lower-case name.
FUNCTIONS: dict[str, FunctionSpec] = {}

#: Functions a rule may not call, with the reason shown to the user.
REFUSED: dict[str, str] = {}

_NOT_DETERMINISTIC = (
    "it is not deterministic: a rule must give the same facts when a change is replayed; "
    "use `source.ts_ms` (commit time in the database) or `ts_ms` (capture time) instead"
)
_AGGREGATE = "aggregate functions are not available: a rule sees one change at a time"
for _name in ("now", "current_timestamp", "current_date", "current_time", "localtime",
              "localtimestamp", "clock_timestamp", "statement_timestamp",
              "transaction_timestamp", "timeofday", "random", "gen_random_uuid",
              "uuid_generate_v1", "uuid_generate_v4", "nextval", "currval", "setval",
              "txid_current", "pg_current_xact_id", "pg_sleep", "age"):  # fmt: skip
    REFUSED[_name] = _NOT_DETERMINISTIC
for _name in ("count", "sum", "avg", "min", "max", "array_agg", "string_agg", "bool_and",
              "bool_or", "every", "json_agg", "jsonb_agg"):  # fmt: skip
    REFUSED[_name] = _AGGREGATE

#: Names people bring from other SQL dialects, and what to use here.
ALIASES = {"max": "greatest", "min": "least", "ifnull": "coalesce", "nvl": "coalesce",
           "isnull": "coalesce", "len": "length", "instr": "strpos", "charindex": "strpos",
           "locate": "strpos", "lcase": "lower", "ucase": "upper", "pow": "power",
           "str": "concat", "datetrunc": "date_trunc", "datepart": "date_part"}  # fmt: skip


def register_function(
    name: str,
    impl: Impl,
    min_args: int,
    max_args: int | None,
    *,
    strict: bool = True,
    result_type: ResultType = None,
    description: str = "",
    check: Check | None = None,
    replace: bool = False,
) -> FunctionSpec:
    """Add a SQL function to :data:`FUNCTIONS`.

    Args:
        name: SQL name; matched without regard to case.
        impl: Called with the evaluated arguments (never UNKNOWN; never NULL when strict).
        min_args: Fewest arguments accepted.
        max_args: Most arguments accepted; ``None`` for any number.
        strict: Return NULL without calling ``impl`` when an argument is NULL.
        result_type: Static result type (``'text'``...), or a function of the argument types.
        description: One line of documentation.
        check: Called when a call is compiled with each argument's constant value
            (``NO_CONSTANT`` if not constant); returns what is wrong, or None.
        replace: Allow replacing an existing function.

    Returns:
        The registered spec.

    Raises:
        ValueError: the name is taken (and ``replace`` is false) or refused (``now``...).

    Example::

        register_function("initcap", lambda s: s.title(), 1, 1, result_type="text")
    """
    key = name.lower()
    if key in REFUSED:
        raise ValueError(f"function `{key}` cannot be registered: {REFUSED[key]}")
    if key in FUNCTIONS and not replace:
        raise ValueError(f"function `{key}` is already registered; pass replace=True")
    spec = FunctionSpec(key, impl, min_args, max_args, strict, result_type, description,
                        check=check)
    FUNCTIONS[key] = spec
    return spec


#: Functions whose branches PostgreSQL brings to one type (``coalesce(1, 2.5)`` is numeric).
UNIFYING = frozenset({"coalesce", "nullif", "greatest", "least"})


def _special(name: str, build: Builder, min_args: int, max_args: int | None, doc: str) -> None:
    FUNCTIONS[name] = FunctionSpec(
        name, builtins.unavailable, min_args, max_args, strict=False,
        result_type=common_type, description=doc, build=build,
    )  # fmt: skip


def _same_as_first(types: Sequence[str | None]) -> str | None:
    return types[0] if types else None


def _rounded_type(types: Sequence[str | None]) -> str | None:
    """``round(x)`` of an integer is a double in PostgreSQL; ``round(x, n)`` is numeric."""
    if len(types) > 1 or types[0] == "numeric":
        return "numeric"
    return "double precision" if types[0] in ("integer", "double precision") else None


def _sign_type(types: Sequence[str | None]) -> str | None:
    """``sign()`` is numeric for a numeric and double precision for any other number."""
    if types[0] == "numeric":
        return "numeric"
    return "double precision" if types[0] in ("integer", "double precision") else None


def _zone_type(types: Sequence[str | None]) -> str | None:
    """``AT TIME ZONE`` turns a timestamptz into a timestamp and the other way round."""
    flipped = {"timestamp": "timestamptz", "timestamptz": "timestamp", "date": "timestamp"}
    return flipped.get(types[1] or "")


def _power_type(types: Sequence[str | None]) -> str | None:
    if "numeric" in types:
        return "numeric"
    known = all(t in ("integer", "double precision") for t in types)
    return "double precision" if known else None


# --- calling -------------------------------------------------------------------------------


def call(spec: FunctionSpec, arguments: Sequence[Node], sql: str) -> Evaluator:
    """The evaluator of ``spec(arguments...)``."""
    if spec.build is not None:
        return spec.build(arguments, sql)
    fns = [a.fn for a in arguments]
    if len(fns) == 1:
        return _call_one(spec.impl, fns[0], spec.strict, sql)
    if len(fns) == 2:
        return _call_two(spec.impl, fns[0], fns[1], spec.strict, sql)
    return _call_many(spec.impl, fns, spec.strict, sql)


def _call_one(impl: Impl, arg: Evaluator, strict: bool, sql: str) -> Evaluator:
    def fn(change: EvalContext) -> object:
        value = arg(change)
        if value is None and strict:
            return None
        if value is UNKNOWN:
            return UNKNOWN
        try:
            return impl(value)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc

    return fn


def _call_two(impl: Impl, first: Evaluator, second: Evaluator, strict: bool, sql: str) -> Evaluator:
    def fn(change: EvalContext) -> object:
        a, b = first(change), second(change)
        if strict and (a is None or b is None):
            return None
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        try:
            return impl(a, b)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc

    return fn


def _call_many(impl: Impl, args: Sequence[Evaluator], strict: bool, sql: str) -> Evaluator:
    def fn(change: EvalContext) -> object:
        values = [arg(change) for arg in args]
        if strict and None in values:
            return None
        if any(v is UNKNOWN for v in values):
            return UNKNOWN
        try:
            return impl(*values)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc

    return fn


# --- the built-in functions ----------------------------------------------------------------


def _field_check(problem: Callable[[str], str | None]) -> Check:
    """Check a constant field name (the first argument) of a date/time function."""

    def check(constants: Sequence[object]) -> str | None:
        field = constants[0]
        return problem(field) if isinstance(field, str) else None

    return check


_FIELD_CHECKS = {
    "date_trunc": _field_check(temporal.trunc_field_problem),
    "date_part": _field_check(temporal.extract_field_problem),
    "extract": _field_check(temporal.extract_field_problem),
    "timezone": _field_check(temporal.time_zone_problem),
}


def _register_builtins() -> None:
    text, integer = "text", "integer"
    for name, impl, low, high, rtype, doc in (
        ("lower", builtins.lower, 1, 1, text, "lower case"),
        ("upper", builtins.upper, 1, 1, text, "upper case"),
        ("btrim", builtins.btrim, 1, 2, text, "remove characters (default: spaces) from both ends"),
        ("trim", builtins.btrim, 1, 2, text, "same as btrim"),
        ("ltrim", builtins.ltrim, 1, 2, text, "remove characters from the start"),
        ("rtrim", builtins.rtrim, 1, 2, text, "remove characters from the end"),
        ("length", builtins.length, 1, 1, integer, "number of characters"),
        ("char_length", builtins.length, 1, 1, integer, "same as length"),
        ("character_length", builtins.length, 1, 1, integer, "same as length"),
        ("substring", builtins.substring, 2, 3, text, "substring(s, start[, count]), 1-based"),
        ("substr", builtins.substring, 2, 3, text, "same as substring"),
        ("replace", builtins.replace, 3, 3, text, "replace(s, from, to): every occurrence"),
        ("strpos", builtins.strpos, 2, 2, integer, "1-based position of a substring, 0 if none"),
        ("left", builtins.left, 2, 2, text, "first n characters (all but the last -n if n < 0)"),
        ("right", builtins.right, 2, 2, text, "last n characters (all but the first -n if n < 0)"),
        ("md5", builtins.md5, 1, 1, text, "MD5 hash of the UTF-8 text, as hex"),
        ("split_part", builtins.split_part, 3, 3, text, "n-th field (from the end if n < 0)"),
        ("starts_with", builtins.starts_with, 2, 2, "boolean", "does s start with prefix"),
        ("reverse", builtins.reverse, 1, 1, text, "characters in reverse order"),
        ("repeat", builtins.repeat, 2, 2, text, "s repeated n times"),
        ("round", builtins.round_, 1, 2, _rounded_type, "half away from zero on numeric"),
        ("trunc", builtins.trunc, 1, 2, _rounded_type, "toward zero"),
        ("abs", builtins.abs_, 1, 1, _same_as_first, "absolute value"),
        ("floor", builtins.floor, 1, 1, _rounded_type, "largest integer not above"),
        ("ceil", builtins.ceil, 1, 1, _rounded_type, "smallest integer not below"),
        ("ceiling", builtins.ceil, 1, 1, _rounded_type, "same as ceil"),
        ("mod", builtins.mod, 2, 2, _same_as_first, "remainder, with the dividend's sign"),
        ("power", builtins.power, 2, 2, _power_type, "a raised to b"),
        ("sqrt", builtins.sqrt, 1, 1, _power_type, "square root"),
        ("sign", builtins.sign, 1, 1, _sign_type, "-1, 0 or 1"),
        ("date_trunc", builtins.date_trunc, 2, 2, None, "truncate: date_trunc('day', ts)"),
        ("date_part", builtins.date_part, 2, 2, "double precision", "date_part('year', ts)"),
        ("extract", builtins.extract, 2, 2, "numeric", "EXTRACT(field FROM ts)"),
        ("to_timestamp", builtins.to_timestamp, 1, 1, "timestamptz", "from epoch seconds"),
        ("timezone", builtins.timezone, 2, 2, _zone_type, "ts AT TIME ZONE zone"),
    ):  # fmt: skip
        register_function(name, impl, low, high, result_type=rtype, description=doc,
                          check=_FIELD_CHECKS.get(name))
    register_function("concat", builtins.concat, 1, None, strict=False, result_type=text,
                      description="texts joined, NULLs skipped")
    register_function("concat_ws", builtins.concat_ws, 2, None, strict=False, result_type=text,
                      description="concat_ws(sep, ...): joined with sep, NULLs skipped")
    register_function("greatest", builtins.greatest, 1, None, strict=False,
                      result_type=common_type, description="largest value, NULLs ignored")
    register_function("least", builtins.least, 1, None, strict=False,
                      result_type=common_type, description="smallest value, NULLs ignored")
    _special("coalesce", lambda args, sql: coalesce([a.fn for a in args]), 1, None,
             "first non-NULL argument; the rest are not evaluated")
    _special("nullif", lambda args, sql: nullif(args[0].fn, args[1].fn, sql), 2, 2,
             "NULL if a = b, else a")


_register_builtins()
