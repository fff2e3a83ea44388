"""Reading one fact definition of a mapping file into a :class:`Rule`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from cdc_facts.errors import Problem
from cdc_facts.expressions.traps import null_traps
from cdc_facts.rules.document import Document, item_position, key_position, value_position
from cdc_facts.rules.model import FieldSpec, Rule, SourceSpec
from cdc_facts.rules.schema import (
    FACT_KEYS,
    FIELD_KEYS,
    FIELD_RE,
    PASCAL_RE,
    TOPIC_RE,
    check_keys,
    pascal_case,
)
from cdc_facts.rules.sql import Compiled, compile_at, condition_problem


@dataclass(frozen=True)
class FactDefinition:
    """Where a fact type is defined, to find the same type defined twice."""

    fact_type: str
    name: str
    file: str
    line: int
    col: int

    def location(self) -> str:
        """``file:line:col``."""
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class _Context:
    """What reading one fact needs: the file, the mapping's domain and source, the problems."""

    doc: Document
    node: Any
    where: str
    domain: str | None
    source: SourceSpec | None
    problems: list[Problem]

    def add(self, key: object, message: str, **extra: Any) -> None:
        line, col = value_position(self.node, key)
        self.problems.append(Problem(self.doc.file, line, col, message, **extra))


def read_fact(
    doc: Document, seq: Any, index: int, domain: str | None, source: SourceSpec | None
) -> tuple[Rule | None, list[Problem], FactDefinition | None]:
    """Check fact ``index`` of the ``facts`` list and build its rule if it is valid."""
    node = seq[index]
    name = node.get("name") if isinstance(node, CommentedMap) else None
    where = f"fact `{name}`" if isinstance(name, str) else f"fact #{index + 1}"
    problems = check_keys(doc, node, FACT_KEYS, where)
    if not isinstance(node, CommentedMap):
        return None, problems, None
    ctx = _Context(doc, node, where, domain, source, problems)
    definition = _definition(ctx, seq, index)
    compiled = _compile_expressions(ctx)
    fields = _fields(ctx)
    topic = _topic(ctx)
    _check_keys_only(ctx, compiled, fields)
    if any(p.severity == "error" for p in problems) or domain is None or topic is None:
        return None, problems, definition
    rule = Rule(
        domain=domain,
        name=str(node["name"]),
        version=int(node["version"]),
        when=compiled["when"].expr,
        key=compiled["key"].expr,
        topic=topic,
        fields=tuple(spec for spec, _ in fields),
        description=_text(node.get("description")),
        occurred_at=compiled["occurred_at"].expr if "occurred_at" in compiled else None,
        snapshot="emit" if node.get("snapshot") == "emit" else "skip",
        on_unknown=node.get("on_unknown", "error") or "null",
        file=doc.file,
        line=item_position(seq, index)[0],
    )
    return rule, problems, definition


def _text(value: object) -> str | None:
    return str(value).strip() if isinstance(value, str) else None


def _definition(ctx: _Context, seq: Any, index: int) -> FactDefinition | None:
    name, version = ctx.node.get("name"), ctx.node.get("version")
    name_ok = isinstance(name, str) and _check_name(ctx, name)
    version_ok = isinstance(version, int) and not isinstance(version, bool)
    if version_ok and version < 1:
        ctx.add("version", f"`version` of {ctx.where} must be 1 or more, got {version}",
                fragment=str(version), suggestion="1")
        version_ok = False
    if not (name_ok and version_ok and ctx.domain):
        return None
    line, col = value_position(ctx.node, "name")
    fact_type = f"{ctx.domain}.{name}.v{version}"
    return FactDefinition(fact_type, str(name), ctx.doc.file, line, col)


def _check_name(ctx: _Context, name: str) -> bool:
    if PASCAL_RE.match(name) and any(c.islower() for c in name):
        return True
    suggestion = pascal_case(name)
    rule = ("PascalCase: a capital letter, then letters and digits, with at least one "
            "lower-case letter")
    ctx.add("name", f"fact name `{name}` must be {rule}, e.g. `OrderShipped`",
            fragment=name, suggestion=suggestion if suggestion and suggestion != name else None)
    return False


def _compile_expressions(ctx: _Context) -> dict[str, Compiled]:
    compiled: dict[str, Compiled] = {}
    for key in ("when", "key", "occurred_at"):
        value = ctx.node.get(key)
        if key not in ctx.node or value is None or isinstance(value, dict | list):
            continue
        result, found = compile_at(ctx.doc, ctx.node, key, f"`{key}` of {ctx.where}")
        ctx.problems.extend(found)
        if result is not None:
            compiled[key] = result
    if "when" in compiled:
        problem = condition_problem(ctx.doc, compiled["when"], f"`when` of {ctx.where}")
        if problem is not None:
            ctx.problems.append(problem)
        ctx.problems.extend(_null_trap_warnings(ctx, compiled["when"]))
    return compiled


def _null_trap_warnings(ctx: _Context, when: Compiled) -> list[Problem]:
    """Warnings where NULL very likely defeats the condition (see expressions.traps)."""
    keys = ctx.source.key_columns if ctx.source is not None else ()
    problems = []
    for trap in null_traps(when.expr.sql, never_null=keys):
        line, col = when.position(trap.line, trap.col)
        problems.append(Problem(ctx.doc.file, line, col, f"`when` of {ctx.where}: {trap.message}",
                                fragment=trap.fragment, suggestion=trap.suggestion,
                                severity="warning"))
    return problems


def _fields(ctx: _Context) -> list[tuple[FieldSpec, Compiled]]:
    data = ctx.node.get("data")
    if not isinstance(data, CommentedMap):
        return []
    fields: list[tuple[FieldSpec, Compiled]] = []
    for name in data:
        field = _field(ctx, data, name)
        if field is not None:
            fields.append(field)
    return fields


def _field(ctx: _Context, data: CommentedMap, name: object) -> tuple[FieldSpec, Compiled] | None:
    where = f"data field `{name}` of {ctx.where}"
    if not isinstance(name, str) or not FIELD_RE.match(name):
        line, col = key_position(data, name)
        ctx.problems.append(Problem(
            ctx.doc.file, line, col,
            f"{where}: a field name holds only letters, digits and `_`, and starts with a letter",
            fragment=str(name)))
        return None
    value = data[name]
    if isinstance(value, dict):
        ctx.problems.extend(check_keys(ctx.doc, value, FIELD_KEYS, where))
        if not _is_expression(value.get("expr")):
            return None
        compiled, found = compile_at(ctx.doc, value, "expr", where)
    elif _is_expression(value):
        compiled, found = compile_at(ctx.doc, data, name, where)
    else:
        line, col = value_position(data, name)
        ctx.problems.append(Problem(
            ctx.doc.file, line, col,
            f"{where} needs an SQL expression, or a mapping with `expr` and `type`"))
        return None
    ctx.problems.extend(found)
    if compiled is None:
        return None
    return _field_spec(name, value, compiled), compiled


def _is_expression(value: object) -> bool:
    return value is not None and not isinstance(value, dict | list) and str(value).strip() != ""


def _field_spec(name: str, value: object, compiled: Compiled) -> FieldSpec:
    if not isinstance(value, dict):
        return FieldSpec(name, compiled.expr)
    nullable = value.get("nullable", True)
    return FieldSpec(
        name=name,
        expr=compiled.expr,
        type=value.get("type"),
        description=_text(value.get("description")),
        nullable=nullable if isinstance(nullable, bool) else True,
    )


def _topic(ctx: _Context) -> str | None:
    name, version, topic = (ctx.node.get(k) for k in ("name", "version", "topic"))
    if topic is None:
        return f"facts.{ctx.domain}.{name}.v{version}"
    topic = str(topic)
    if TOPIC_RE.match(topic) and topic not in (".", ".."):
        return topic
    ctx.add("topic",
            f"topic `{topic}` of {ctx.where} is not a valid Kafka topic name: use at most 249 "
            "letters, digits, `.`, `_` and `-`", fragment=topic,
            suggestion=f"facts.{ctx.domain}.{name}.v{version}")
    return None


def _check_keys_only(
    ctx: _Context, compiled: dict[str, Compiled], fields: list[tuple[FieldSpec, Compiled]]
) -> None:
    """Under ``before_image: keys`` a rule may read only key columns of ``before``."""
    source = ctx.source
    if source is None or source.before_image != "keys":
        return
    everything = [*compiled.values(), *(c for _, c in fields)]
    for item in everything:
        for ref in item.expr.references:
            if ref.scope != "before" or ref.column is None or ref.column in source.key_columns:
                continue
            _keys_only_problem(ctx, item, ref.column, ref.line, ref.col)


def _keys_only_problem(ctx: _Context, item: Compiled, column: str, line: int, col: int) -> None:
    at_line, at_col = item.position(line, col)
    source = ctx.source
    assert source is not None
    if source.key_columns:
        message = (
            f"{ctx.where} reads `before.{column}`, but `before_image: keys` delivers only the "
            f"key columns ({', '.join(source.key_columns)}) in `before`; compare with `after` "
            "instead, or make the table deliver full before images (`before_image: full`)"
        )
    else:
        message = (
            f"{ctx.where} reads `before.{column}` under `before_image: keys`, which delivers "
            "only the key columns in `before`, and the source declares no key: if "
            f"`{column}` is a key column, declare it with `key: [{column}]` under `source:`; "
            "otherwise compare with `after`, or make the table deliver full before images "
            "(`before_image: full`)"
        )
    ctx.problems.append(Problem(ctx.doc.file, at_line, at_col, message,
                                fragment=f"before.{column}", suggestion=f"after.{column}"))
