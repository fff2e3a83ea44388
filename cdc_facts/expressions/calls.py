"""How function calls, casts, arithmetic and JSON access compile (see :mod:`.syntax`)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from sqlglot import exp

from cdc_facts.expressions import arithmetic, casts, functions, temporal
from cdc_facts.expressions.context import (
    OPERATION_ERRORS,
    EvalContext,
    Evaluator,
    Node,
    evaluation_error,
)
from cdc_facts.expressions.syntax import Compiling, const_node, handles, interval_text
from cdc_facts.types import UNKNOWN

# --- operators ---------------------------------------------------------------------------------


def strict_binary(
    impl: Callable[[object, object], object], left: Evaluator, right: Evaluator, sql: str
) -> Evaluator:
    """``left <op> right`` for a NULL-in, NULL-out operator."""

    def fn(change: EvalContext) -> object:
        a = left(change)
        b = right(change)
        if a is None or b is None:
            return None
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        try:
            return impl(a, b)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc

    return fn


def _concatenate(a: object, b: object) -> str:
    return casts.to_text(a) + casts.to_text(b)


_ARITHMETIC: dict[type[exp.Expr], tuple[str, Callable[[object, object], object]]] = {
    exp.Add: ("+", arithmetic.add), exp.Sub: ("-", arithmetic.subtract),
    exp.Mul: ("*", arithmetic.multiply), exp.Div: ("/", arithmetic.divide),
    exp.Mod: ("%", arithmetic.modulo), exp.DPipe: ("||", _concatenate),
}  # fmt: skip


def _concatenate_json(left: bool, right: bool) -> Callable[[object, object], object]:
    """``||`` when an operand is JSON (``left``/``right``): it is written as JSON text, so a
    JSON string keeps its quotes, as in PostgreSQL."""
    first = casts.json_text if left else casts.to_text
    second = casts.json_text if right else casts.to_text
    return lambda a, b: first(a) + second(b)


def _refuse_json_concatenation(node: exp.Binary, left: Node, right: Node, cc: Compiling) -> None:
    """PostgreSQL reads ``json || json`` and ``json || 'literal'`` as JSON concatenation
    (arrays joined, objects merged), which rule expressions do not do."""
    literal = any(isinstance(n, exp.Literal) and n.is_string for n in (node.this, node.expression))
    if left.type == right.type or literal:
        cc.fail(node, "`||` on JSON values is JSON concatenation in PostgreSQL, which rule "
                "expressions do not support; take text with ->> or ::text first")


@handles(*_ARITHMETIC)
def _arithmetic(node: exp.Binary, cc: Compiling) -> Node:
    symbol, impl = _ARITHMETIC[type(node)]
    left, right = cc.compile(node.this), cc.compile(node.expression)
    sql = cc.text(node)
    if symbol == "||":
        result_type: str | None = "text"
        if "json" in (left.type, right.type):
            _refuse_json_concatenation(node, left, right, cc)
            impl = _concatenate_json(left.type == "json", right.type == "json")
    else:
        result_type = arithmetic.arithmetic_type(symbol, left.type, right.type)
    return Node(strict_binary(impl, left.fn, right.fn, sql), sql, result_type, (left, right))


@handles(exp.Neg)
def _negative(node: exp.Neg, cc: Compiling) -> Node:
    operand = cc.compile(node.this)
    sql = cc.text(node)

    def fn(change: EvalContext) -> object:
        value = operand.fn(change)
        if value is None or value is UNKNOWN:
            return value
        try:
            return arithmetic.negate(value)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc

    return Node(fn, sql, operand.type, (operand,))


# --- casts -------------------------------------------------------------------------------------

_CAST_TARGETS = {
    "TEXT": "text", "VARCHAR": "varchar", "NVARCHAR": "varchar", "INT": "integer",
    "BIGINT": "bigint", "SMALLINT": "smallint", "DECIMAL": "numeric", "DOUBLE": "double precision",
    "FLOAT": "real", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp",
    "TIMESTAMPTZ": "timestamptz", "TIME": "time", "INTERVAL": "interval", "JSON": "json",
    "JSONB": "jsonb", "UUID": "uuid",
}  # fmt: skip
_STATIC_CAST_TYPES = {"varchar": "text", "smallint": "integer", "bigint": "integer",
                      "real": "double precision", "jsonb": "json"}  # fmt: skip


def _cast_target(node: exp.Cast, cc: Compiling) -> tuple[str, tuple[int, ...]]:
    data_type = node.to
    name = data_type.this.name if hasattr(data_type.this, "name") else str(data_type.this)
    target = _CAST_TARGETS.get(name)
    if target is None:
        hint = " (char(n) pads with spaces; use text or varchar(n))" if name == "CHAR" else ""
        cc.fail(data_type, f"cannot cast to {data_type.sql(dialect='postgres')}{hint}; "
                f"supported types are {', '.join(casts.CAST_TARGETS)}")
    params = _modifiers(data_type, "float" if target == "double precision" else target, cc)
    if target == "double precision" and params:  # float(p): real up to 24 bits, as PostgreSQL
        return ("real" if params[0] <= 24 else "double precision"), ()
    return target, params


#: The type modifiers each cast target takes, in order, with their ranges (PostgreSQL 15).
_MODIFIERS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "numeric": (("precision", 1, 1000), ("scale", 0, 1000)),
    "varchar": (("length", 1, 10_485_760),),
    "timestamp": (("precision", 0, 6),),
    "timestamptz": (("precision", 0, 6),),
    "float": (("precision", 1, 53),),
}


def _modifiers(data_type: exp.DataType, target: str, cc: Compiling) -> tuple[int, ...]:
    """The whole-number type modifiers of a cast (``numeric(12, 2)``), each in its range."""
    allowed, given = _MODIFIERS.get(target, ()), data_type.expressions
    if len(given) > len(allowed):
        takes = (f"at most {len(allowed)} type modifier(s) ("
                 + ", ".join(name for name, _low, _high in allowed) + ")") if allowed else \
            "no type modifier"
        cc.fail(data_type, f"{target} takes {takes}")
    values = []
    for param, (name, low, high) in zip(given, allowed, strict=False):
        literal = param.this if isinstance(param, exp.DataTypeParam) else param
        text = str(literal.this) if isinstance(literal, exp.Literal) else ""
        if not (isinstance(literal, exp.Literal) and not literal.is_string and text.isdigit()):
            cc.fail(data_type, f"the {name} of {target} must be a whole-number constant",
                    suggestion="numeric(12, 2)" if target == "numeric" else None)
        if not low <= int(text) <= high:
            cc.fail(data_type, f"{target} {name} {text} must be between {low} and {high}")
        values.append(int(text))
    return tuple(values)


@handles(exp.Cast)
def _cast(node: exp.Cast, cc: Compiling) -> Node:
    target, params = _cast_target(node, cc)
    operand, sql = cc.compile(node.this), cc.text(node)
    if operand.type == "json":
        convert = casts.json_converter(target, params)
    else:
        convert = casts.converter(target, params)

    def fn(change: EvalContext) -> object:
        value = operand.fn(change)
        if value is None or value is UNKNOWN:
            return value
        try:
            return convert(value)
        except OPERATION_ERRORS as exc:
            raise evaluation_error(sql, exc) from exc

    return Node(fn, sql, _STATIC_CAST_TYPES.get(target, target), (operand,))


# --- JSON access ---------------------------------------------------------------------------------


def json_get(document: object, key: object, as_text: bool, parse: bool = True) -> object:
    """``document -> key`` (``as_text=False``) or ``document ->> key``.

    A text document is JSON text, parsed first, when ``parse`` is true; when it is false
    (the document is a JSON value, such as the result of ``->``), text is a JSON string,
    which has no fields: the result is NULL, as in PostgreSQL.
    """
    if isinstance(document, str):
        if not parse:
            return None
        document = casts.parse_json(document)
    if isinstance(key, str):
        found = document.get(key) if isinstance(document, dict) else None
    elif isinstance(key, int) and not isinstance(key, bool):
        in_range = isinstance(document, list) and -len(document) <= key < len(document)
        found = document[key] if in_range else None  # type: ignore[index]
    else:
        raise TypeError(f"a JSON key is text or an integer index, not {casts.type_name(key)}")
    if not as_text or found is None or isinstance(found, str):
        return found
    if isinstance(found, dict | list):
        return casts.json_text(found)
    return casts.to_text(found)


def _json_key(path: exp.Expr, cc: Compiling) -> Node:
    if not isinstance(path, exp.JSONPath):
        return cc.compile(path)
    parts = [p for p in path.expressions if not isinstance(p, exp.JSONPathRoot)]
    if len(parts) != 1 or not isinstance(parts[0], exp.JSONPathKey | exp.JSONPathSubscript):
        cc.fail(path, "a JSON key is one text key or one integer index")
    key = parts[0].this
    return const_node(key, cc.text(path), "text" if isinstance(key, str) else "integer")


@handles(exp.JSONExtract, exp.JSONExtractScalar)
def _json_access(node: exp.JSONExtract | exp.JSONExtractScalar, cc: Compiling) -> Node:
    as_text = isinstance(node, exp.JSONExtractScalar)
    document, key = cc.compile(node.this), _json_key(node.expression, cc)
    sql, parse = cc.text(node), document.type != "json"  # JSON values are not parsed again
    fn = strict_binary(lambda d, k: json_get(d, k, as_text, parse), document.fn, key.fn, sql)
    return Node(fn, sql, "text" if as_text else "json", (document, key))


# --- function calls ------------------------------------------------------------------------------


def _suggest_function(name: str) -> str | None:
    if name in functions.ALIASES:
        return functions.ALIASES[name]
    near = difflib.get_close_matches(name, list(functions.FUNCTIONS), n=1, cutoff=0.6)
    return near[0] if near else None


def compile_call(node: exp.Expr, name: str, arguments: Sequence[exp.Expr], cc: Compiling) -> Node:
    """Compile ``name(arguments...)`` through the function registry."""
    key = name.lower()
    if key in functions.REFUSED:
        cc.fail(node, f"`{key}()` is not allowed: {functions.REFUSED[key]}",
                functions.ALIASES.get(key))
    spec = functions.FUNCTIONS.get(key)
    if spec is None:
        suggestion = _suggest_function(key)
        cc.fail(node, f"unknown function `{name}()`", f"{suggestion}()" if suggestion else None)
    count = len(arguments)
    if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
        cc.fail(node, f"`{key}()` takes {spec.arity()} argument(s), not {count}")
    compiled = [cc.compile(a) for a in arguments]
    problem = spec.check([c.const for c in compiled]) if spec.check else None
    if problem is not None:
        cc.fail(node, problem)
    sql = cc.text(node)
    written = _written_interval_part(key, arguments, compiled)
    if written is not None:
        return const_node(written, sql, spec.static_type([c.type for c in compiled]))
    fn = functions.call(spec, compiled, sql)
    if key in functions.UNIFYING:
        fn, result_type = casts.unified(fn, [c.type for c in compiled if not _is_null(c)])
    else:
        result_type = spec.static_type([c.type for c in compiled])
    return Node(fn, sql, result_type, tuple(compiled))


def _written_interval_part(
    key: str, arguments: Sequence[exp.Expr], compiled: Sequence[Node]
) -> object:
    """``extract``/``date_part`` of an interval written as a constant, computed from its
    day and time fields as written (``INTERVAL '36 hours'`` has 36 hours, no day), as
    PostgreSQL does; None for any other call, and for one that fails (it fails at run
    time, with its message)."""
    if key not in ("extract", "date_part") or len(arguments) != 2:
        return None
    field, text = compiled[0].const, _written_interval(arguments[1])
    if not isinstance(field, str) or text is None:
        return None
    try:
        part = temporal.extract_written(field, text)
    except ValueError:
        return None
    return float(part) if key == "date_part" else part


def _written_interval(node: exp.Expr) -> str | None:
    """The text of an interval constant: ``INTERVAL '36 hours'``, ``'36 hours'::interval``."""
    node = node.unnest()
    if isinstance(node, exp.Interval) and isinstance(node.this, exp.Literal):
        return interval_text(node)
    if (isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.INTERVAL
            and not node.to.expressions and isinstance(node.this, exp.Literal)
            and node.this.is_string):  # fmt: skip
        return str(node.this.this)
    return None


def _is_null(node: Node) -> bool:
    return node.is_constant and node.const is None


@handles(exp.Anonymous)
def _anonymous(node: exp.Anonymous, cc: Compiling) -> Node:
    name = node.this if isinstance(node.this, str) else node.this.name
    return compile_call(node, name, node.expressions, cc)


@handles(exp.Substring)
def _substring(node: exp.Substring, cc: Compiling) -> Node:
    start = node.args.get("start") or exp.Literal.number(1)
    length = node.args.get("length")
    return compile_call(node, "substring", [node.this, start, *([length] if length else [])], cc)


@handles(exp.StrPosition)
def _position(node: exp.StrPosition, cc: Compiling) -> Node:
    return compile_call(node, "strpos", [node.this, node.args["substr"]], cc)


@handles(exp.Extract)
def _extract(node: exp.Extract, cc: Compiling) -> Node:
    field = exp.Literal.string(node.this.name.lower())
    return compile_call(node, "extract", [field, node.expression], cc)


@handles(exp.Pow)
def _power(node: exp.Pow, cc: Compiling) -> Node:
    return compile_call(node, "power", [node.this, node.expression], cc)


@handles(exp.AtTimeZone)
def _at_time_zone(node: exp.AtTimeZone, cc: Compiling) -> Node:
    return compile_call(node, "timezone", [node.args["zone"], node.this], cc)


_TRIMS = {"LEADING": "ltrim", "TRAILING": "rtrim"}


@handles(exp.Trim)
def _trim(node: exp.Trim, cc: Compiling) -> Node:
    name = _TRIMS.get(str(node.args.get("position") or "").upper(), "btrim")
    characters = node.expression
    return compile_call(node, name, [node.this, *([characters] if characters else [])], cc)


_CLOCKS = (exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.Localtime,
           exp.Localtimestamp)  # fmt: skip


@handles(*_CLOCKS)
def _clock(node: exp.Expr, cc: Compiling) -> Node:
    cc.fail(node, f"`{cc.text(node).lower()}` is not allowed: {functions.REFUSED['now']}")
