"""The names a rule expression can read: ``op``, ``ts_ms``, ``before.*``, ``after.*``,
``row.*`` and ``source.*``, and what each one evaluates to.

A column value the database did not deliver is :data:`~cdc_facts.types.UNKNOWN`, never NULL:
a missing before image on an update or delete, a column absent from a present image (schema
drift) and a placeholder the decoder already marked unknown.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import NoReturn

from cdc_facts.expressions.context import EvalContext, Evaluator
from cdc_facts.types import UNKNOWN

#: Names without a column.
PLAIN_NAMES = ("op", "ts_ms")
#: Qualifiers that take a column or field.
SCOPES = ("before", "after", "row", "source")

#: Debezium ``source`` block fields across the connectors cdc-facts supports.
SOURCE_FIELDS = (
    "version", "connector", "name", "ts_ms", "ts_us", "ts_ns", "snapshot", "db", "sequence",
    "schema", "table", "txId", "lsn", "xmin", "file", "pos", "row", "thread", "query",
    "gtid", "server_id", "change_lsn", "commit_lsn", "event_serial_no", "scn", "commit_scn",
)  # fmt: skip
_SOURCE_BY_LOWER = {f.lower(): f for f in SOURCE_FIELDS}

#: Operations whose before image always exists in the database, so a missing one is unknown.
BEFORE_EXPECTED = frozenset({"u", "d"})

_STATIC_TYPES = {("op", None): "text", ("ts_ms", None): "integer",
                 ("source", "ts_ms"): "integer", ("source", "ts_us"): "integer",
                 ("source", "ts_ns"): "integer"}  # fmt: skip

Fail = Callable[[str, str | None], NoReturn]


def _closest(word: str, options: tuple[str, ...] | list[str]) -> str | None:
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return matches[0] if matches else None


def resolve(parts: list[tuple[str, bool]], fail: Fail) -> tuple[str, str | None]:
    """Turn the identifier parts of a name (``[("after", False), ("status", False)]``, with
    a quoted flag each) into ``(scope, column)``; call ``fail(message, suggestion)`` if the
    name does not exist."""
    dotted = ".".join(name for name, _ in parts)
    if len(parts) == 1:
        return _resolve_plain(parts[0][0], fail)
    if len(parts) > 2:
        fail(
            f"unknown name `{dotted}`: names look like `after.<column>`; for a field inside "
            f"a JSON column use `after.<column> ->> 'field'`",
            None,
        )
    (scope, scope_quoted), (column, quoted) = parts
    scope_key = scope if scope_quoted else scope.lower()
    if scope_key in PLAIN_NAMES:
        fail(f"`{scope_key}` has no fields, so `{dotted}` does not exist", scope_key)
    if scope_key not in SCOPES:
        _unknown_scope(scope, column, dotted, fail)
    if scope_key == "source":
        return "source", _source_field(column, quoted, fail)
    return scope_key, column if quoted else column.lower()


def _resolve_plain(name: str, fail: Fail) -> tuple[str, str | None]:
    key = name.lower()
    if key in PLAIN_NAMES:
        return key, None
    near = _closest(key, PLAIN_NAMES)
    if near is not None:
        fail(f"unknown name `{name}`", near)
    fail(
        f"unknown name `{name}`: a column needs its image, as in `after.{name}`, "
        f"`before.{name}` or `row.{name}`",
        f"after.{name}",
    )


def _unknown_scope(scope: str, column: str, dotted: str, fail: Fail) -> NoReturn:
    near = _closest(scope.lower(), SCOPES)
    names = ", ".join(f"`{s}.`" for s in SCOPES)
    fail(f"unknown name `{dotted}`: `{scope}` is not one of {names}",
         f"{near}.{column}" if near else None)


def _source_field(field: str, quoted: bool, fail: Fail) -> str:
    if quoted:
        return field
    known = _SOURCE_BY_LOWER.get(field.lower())
    if known is not None:
        return known
    near = _closest(field, SOURCE_FIELDS)
    fail(
        f"unknown source field `source.{field}`; quote it (`source.\"{field}\"`) "
        "if your connector sends it",
        f"source.{near}" if near else None,
    )


def static_type(scope: str, column: str | None) -> str | None:
    """The type a name is known to have, when it is known (``op`` is text)."""
    return _STATIC_TYPES.get((scope, column))


def evaluator(scope: str, column: str | None) -> Evaluator:
    """The closure that reads ``scope.column`` from a change."""
    if scope == "op":
        return _read_op
    if scope == "ts_ms":
        return _read_ts_ms
    assert column is not None
    return _IMAGE_READERS[scope](column)


def _read_op(change: EvalContext) -> object:
    return change.op


def _read_ts_ms(change: EvalContext) -> object:
    return change.ts_ms


def _after(column: str) -> Evaluator:
    def read(change: EvalContext) -> object:
        image = change.after
        if image is None:
            return None
        return image.get(column, UNKNOWN)

    return read


def _before(column: str) -> Evaluator:
    def read(change: EvalContext) -> object:
        image = change.before
        if image is None:
            return UNKNOWN if change.op in BEFORE_EXPECTED else None
        return image.get(column, UNKNOWN)

    return read


def _row(column: str) -> Evaluator:
    def read(change: EvalContext) -> object:
        image = change.after
        if image is None:
            image = change.before
            if image is None:
                return UNKNOWN if change.op in BEFORE_EXPECTED else None
        return image.get(column, UNKNOWN)

    return read


def _source(field: str) -> Evaluator:
    def read(change: EvalContext) -> object:
        return change.source.get(field)

    return read


_IMAGE_READERS: dict[str, Callable[[str], Evaluator]] = {
    "after": _after, "before": _before, "row": _row, "source": _source,
}  # fmt: skip
