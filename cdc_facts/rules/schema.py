"""The shape of a mapping file: allowed keys, required keys, value kinds and choices.

Every check returns problems instead of raising, so one run reports them all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap

from cdc_facts.errors import Problem
from cdc_facts.rules.document import Document, key_position, node_position, value_position
from cdc_facts.rules.model import BEFORE_IMAGES, FIELD_TYPES, ON_UNKNOWN_MODES, SNAPSHOT_MODES

DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$")
PASCAL_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
TABLE_RE = re.compile(r"^[^.\s]+\.[^.\s]+$")
OPS = ("c", "u", "d", "r", "t")


@dataclass(frozen=True)
class Key:
    """One allowed key: what kind of value it takes and whether it must be there.

    ``synonyms`` maps other names users write to the choice they mean, for the suggestion.
    """

    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    what: str = ""
    synonyms: dict[str, str] = field(default_factory=dict)


#: SQL and Python type names -> the field type that keeps their values (`numeric` is exact:
#: `decimal`, not `number`; `datetime` has a time: `timestamp`, not `date`).
TYPE_SYNONYMS = {
    "float": "number", "double": "number", "double precision": "number", "real": "number",
    "numeric": "decimal", "int": "integer", "bigint": "integer", "smallint": "integer",
    "text": "string", "varchar": "string", "str": "string", "datetime": "timestamp",
    "timestamptz": "timestamp", "bool": "boolean", "jsonb": "json",
}


TOP_KEYS = {
    "domain": Key("text", True, what="the data-product domain, e.g. `sales`"),
    "owner": Key("text", True, what="who answers for these facts, e.g. `sales-data-team`"),
    "description": Key("text"),
    "source": Key("mapping", True, what="the table: `connector` and `table`"),
    "facts": Key("list", True, what="the list of facts this table makes"),
    "examples": Key("list"),
}
SOURCE_KEYS = {
    "connector": Key("text", True, what="the Debezium `topic.prefix`, e.g. `legacy-shop`"),
    "table": Key("text", True, what="`schema.table` (PostgreSQL) or `db.table` (MySQL/MariaDB)"),
    "before_image": Key("choice", choices=BEFORE_IMAGES),
    "key": Key("names"),
}
FACT_KEYS = {
    "name": Key("text", True, what="the fact's PascalCase name, e.g. `OrderShipped`"),
    "version": Key("integer", True, what="the contract version, starting at 1"),
    "description": Key("text"),
    "when": Key("expression", True, what="the condition, e.g. `op = 'c'`"),
    "key": Key("expression", True, what="the fact's key, e.g. `after.id`"),
    "occurred_at": Key("expression"),
    "snapshot": Key("choice", choices=SNAPSHOT_MODES),
    "on_unknown": Key("choice", choices=ON_UNKNOWN_MODES),
    "topic": Key("text"),
    "data": Key("mapping"),
}
FIELD_KEYS = {
    "expr": Key("expression", True, what="the field's value, e.g. `after.id`"),
    "type": Key("choice", choices=FIELD_TYPES, synonyms=TYPE_SYNONYMS),
    "description": Key("text"),
    "nullable": Key("boolean"),
}
EXAMPLE_KEYS = {
    "description": Key("text", True, what="what the example shows"),
    "change": Key("mapping", True, what="the change: `op`, `before`, `after`"),
    "expect": Key("list", True, what="the expected facts (`[]` for none)"),
}
CHANGE_KEYS = {
    "op": Key("choice", True, choices=OPS, what="the operation: c, u, d, r or t"),
    "before": Key("row"),
    "after": Key("row"),
    "source": Key("mapping"),
    "key": Key("mapping"),
    "ts_ms": Key("integer"),
}
EXPECT_KEYS = {
    "type": Key("text"),
    "key": Key("scalar"),
    "subject": Key("scalar"),
    "data": Key("mapping"),
    "time": Key("scalar"),
    "topic": Key("text"),
    "id": Key("text"),
    "source": Key("text"),
    "snapshot": Key("boolean"),
}


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, if one is close enough.

    >>> suggest("occured_at", ["occurred_at", "on_unknown"])
    'occurred_at'
    """
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def check_keys(doc: Document, node: Any, keys: dict[str, Key], where: str) -> list[Problem]:
    """Unknown keys, missing required keys and wrong value kinds of one mapping."""
    if not isinstance(node, CommentedMap):
        line, col = node_position(node)
        return [Problem(doc.file, line, col, f"{where} must be a mapping of keys to values")]
    problems = [_unknown_key(doc, node, key, keys, where) for key in node if key not in keys]
    line, col = node_position(node)
    for name, spec in keys.items():
        if name not in node:
            if spec.required:
                problems.append(Problem(
                    doc.file, line, col, f"{where} has no `{name}`: add {spec.what or 'it'}"))
            continue
        problem = _check_kind(doc, node, name, spec, where)
        if problem is not None:
            problems.append(problem)
    return problems


def _unknown_key(
    doc: Document, node: CommentedMap, key: object, keys: dict[str, Key], where: str
) -> Problem:
    line, col = key_position(node, key)
    allowed = ", ".join(f"`{k}`" for k in keys)
    return Problem(
        doc.file, line, col, f"unknown key `{key}` in {where}; allowed keys: {allowed}",
        fragment=str(key), suggestion=suggest(str(key), keys),
    )


def _check_kind(
    doc: Document, node: CommentedMap, name: str, spec: Key, where: str
) -> Problem | None:
    value = node[name]
    message = _kind_message(value, spec)
    if message is None:
        return None
    line, col = value_position(node, name)
    suggestion = None
    if isinstance(value, str):  # `TIMESTAMP`, `Text`: the choice or synonym, in lower case
        lowered = value.lower()
        suggestion = lowered if lowered in spec.choices else spec.synonyms.get(lowered)
    if suggestion is None and spec.choices:
        suggestion = suggest(str(value).lower(), spec.choices)
    fragment = str(value) if _is_scalar(value) and value is not None else None
    return Problem(
        doc.file, line, col, f"`{name}` in {where} {message}", fragment=fragment,
        suggestion=suggestion,
    )


def _kind_message(value: object, spec: Key) -> str | None:
    kind = spec.kind
    if kind == "text":
        ok = isinstance(value, str) and bool(value.strip())
        return None if ok else f"must be a non-empty text, got {_describe(value)}"
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"must be an integer, got {_describe(value)}"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"must be true or false, got {_describe(value)}"
    if kind == "choice":
        # YAML reads a bare `null` as nothing: take it as the word where it is a choice.
        ok = (isinstance(value, str) and value in spec.choices) or (
            value is None and "null" in spec.choices
        )
        return None if ok else f"must be one of {', '.join(spec.choices)}; got {_describe(value)}"
    return _structure_message(value, kind)


def _structure_message(value: object, kind: str) -> str | None:
    if kind == "expression":
        ok = _is_scalar(value) and value is not None and str(value).strip() != ""
        return None if ok else f"must be an SQL expression, got {_describe(value)}"
    if kind == "mapping":
        return None if isinstance(value, dict) else f"must be a mapping, got {_describe(value)}"
    if kind == "row":
        ok = value is None or isinstance(value, dict)
        return None if ok else f"must be a mapping of columns or null, got {_describe(value)}"
    if kind == "list":
        return None if isinstance(value, list) else f"must be a list, got {_describe(value)}"
    if kind == "names":
        names = value if isinstance(value, list) else [value]
        ok = bool(names) and all(isinstance(n, str) and n.strip() for n in names)
        return None if ok else f"must be a column name or a list of them, got {_describe(value)}"
    if kind == "scalar":
        return None if _is_scalar(value) else f"must be a single value, got {_describe(value)}"
    return None


def _is_scalar(value: object) -> bool:
    return not isinstance(value, dict | list)


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"`{value}`"


def pascal_case(name: str) -> str:
    """``order_shipped`` -> ``OrderShipped``: the suggestion for a badly cased fact name.
    A part in capitals is a word, not an acronym kept as it is (``SKU`` -> ``Sku``).

    >>> pascal_case("order-shipped"), pascal_case("SKU_CHANGED")
    ('OrderShipped', 'SkuChanged')
    """
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return "".join(part.capitalize() if part.isupper() else part[:1].upper() + part[1:]
                   for part in parts if part)
