"""Mapping files as plain data: a mapping, its rules, their fields and examples.

These dataclasses are what :func:`cdc_facts.rules.load_mappings` builds from YAML after
every check passed. They hold compiled expressions but never evaluate anything: the
:class:`cdc_facts.translator.Translator` does that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from cdc_facts.changes import Change

BeforeImage = Literal["full", "keys"]
Snapshot = Literal["skip", "emit"]
OnUnknown = Literal["error", "skip", "null"]
FieldType = Literal[
    "string", "integer", "number", "decimal", "boolean", "timestamp", "date", "json"
]

BEFORE_IMAGES: tuple[BeforeImage, ...] = ("full", "keys")
SNAPSHOT_MODES: tuple[Snapshot, ...] = ("skip", "emit")
ON_UNKNOWN_MODES: tuple[OnUnknown, ...] = ("error", "skip", "null")
FIELD_TYPES: tuple[FieldType, ...] = (
    "string", "integer", "number", "decimal", "boolean", "timestamp", "date", "json",
)


class ColumnReference(Protocol):
    """One column an expression reads, e.g. ``before.status`` (scope ``before``)."""

    @property
    def scope(self) -> str: ...

    @property
    def column(self) -> str | None: ...

    @property
    def line(self) -> int: ...

    @property
    def col(self) -> int: ...


class CompiledExpression(Protocol):
    """An SQL expression compiled once; see :mod:`cdc_facts.expressions`."""

    @property
    def sql(self) -> str: ...

    @property
    def references(self) -> tuple[ColumnReference, ...]: ...

    @property
    def result_type(self) -> str | None: ...

    @property
    def after_column(self) -> str | None: ...

    def evaluate(self, change: Change) -> object: ...

    def explain(self, change: Change) -> list[tuple[str, object]]: ...


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """The table a mapping reads: ``connector`` is the Debezium ``topic.prefix``."""

    connector: str
    table: str
    before_image: BeforeImage = "full"
    key_columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a fact's ``data``: its expression and its declared type."""

    name: str
    expr: CompiledExpression
    type: FieldType | None = None
    description: str | None = None
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class ColumnsRead:
    """Which columns one rule reads, by scope; preflight checks the database delivers them."""

    connector: str
    table: str
    fact_type: str
    before: frozenset[str]
    after: frozenset[str]
    row: frozenset[str]


@dataclass(frozen=True, slots=True)
class Rule:
    """One named fact and the condition that makes it.

    ``fact_type`` is ``<domain>.<Name>.v<version>``, the CloudEvents ``type``.
    """

    domain: str
    name: str
    version: int
    when: CompiledExpression
    key: CompiledExpression
    topic: str
    fields: tuple[FieldSpec, ...] = ()
    description: str | None = None
    occurred_at: CompiledExpression | None = None
    snapshot: Snapshot = "skip"
    on_unknown: OnUnknown = "error"
    file: str = "<memory>"
    line: int = 0

    @property
    def fact_type(self) -> str:
        """The CloudEvents ``type``, e.g. ``sales.OrderShipped.v1``."""
        return f"{self.domain}.{self.name}.v{self.version}"

    def expressions(self) -> Iterator[tuple[str, CompiledExpression]]:
        """Every expression of the rule with the key it stands under (``when``, ``data.x``)."""
        yield "when", self.when
        yield "key", self.key
        if self.occurred_at is not None:
            yield "occurred_at", self.occurred_at
        for spec in self.fields:
            yield f"data.{spec.name}", spec.expr


@dataclass(frozen=True, slots=True)
class ExpectedFact:
    """One expected fact of an example: only the attributes it states are compared."""

    attributes: dict[str, object]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Example:
    """A change and the facts it must make, run by ``cdc-facts test``."""

    description: str
    change: dict[str, object]
    expect: tuple[ExpectedFact, ...]
    file: str = "<memory>"
    line: int = 0


@dataclass(frozen=True, slots=True)
class Mapping:
    """One mapping file: a domain's rules over one source table."""

    file: str
    domain: str
    owner: str
    source: SourceSpec
    rules: tuple[Rule, ...]
    examples: tuple[Example, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """Every loaded mapping; the translator asks it which rules cover a table.

    >>> RuleSet(()).tables()
    set()
    """

    mappings: tuple[Mapping, ...]
    _by_table: dict[tuple[str, str], tuple[Rule, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        grouped: dict[tuple[str, str], list[Rule]] = {}
        for mapping in self.mappings:
            source = (mapping.source.connector, mapping.source.table)
            grouped.setdefault(source, []).extend(mapping.rules)
        self._by_table.update({source: tuple(rules) for source, rules in grouped.items()})

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule, in file order."""
        return tuple(rule for mapping in self.mappings for rule in mapping.rules)

    def rules_for(self, connector: str, table: str) -> tuple[Rule, ...]:
        """The rules of every mapping over ``connector``'s ``table``, in file order."""
        return self._by_table.get((connector, table), ())

    def mappings_for(self, connector: str, table: str) -> tuple[Mapping, ...]:
        """The mappings over ``connector``'s ``table``, in file order."""
        return tuple(
            m for m in self.mappings if (m.source.connector, m.source.table) == (connector, table)
        )

    def tables(self) -> set[tuple[str, str]]:
        """Every ``(connector, table)`` some mapping covers, even with no rules."""
        return {(m.source.connector, m.source.table) for m in self.mappings}

    def references(self) -> list[ColumnsRead]:
        """Which ``before``/``after``/``row`` columns each rule reads, in file order."""
        return [
            columns_read(mapping.source, rule)
            for mapping in self.mappings
            for rule in mapping.rules
        ]


def columns_read(source: SourceSpec, rule: Rule) -> ColumnsRead:
    """The columns ``rule`` reads in every one of its expressions."""
    scopes: dict[str, set[str]] = {"before": set(), "after": set(), "row": set()}
    for _, expr in rule.expressions():
        for ref in expr.references:
            if ref.scope in scopes and ref.column is not None:
                scopes[ref.scope].add(ref.column)
    return ColumnsRead(
        connector=source.connector,
        table=source.table,
        fact_type=rule.fact_type,
        before=frozenset(scopes["before"]),
        after=frozenset(scopes["after"]),
        row=frozenset(scopes["row"]),
    )
