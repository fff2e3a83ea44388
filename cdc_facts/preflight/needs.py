"""What the mapping rules need from each captured table: columns, before images, types.

Only :func:`read_rules` knows the shape of the rule model; the checks work on the plain
:class:`TableNeeds` it returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdc_facts.rules.model import RuleSet


@dataclass(frozen=True)
class ColumnRead:
    """One rule reading one column, e.g. rule ``sales.OrderShipped.v1`` reads ``before.status``.

    ``field_type`` is the declared fact field type when the column *is* a fact field
    (``data.status: after.status`` with ``type: string``), else ``None``.
    """

    rule: str
    scope: str
    column: str
    field: str | None = None
    field_type: str | None = None


@dataclass
class TableNeeds:
    """Everything the rules over one table read."""

    table: str
    before_image: str = "full"
    key_columns: tuple[str, ...] = ()
    reads: list[ColumnRead] = field(default_factory=list)

    def columns(self) -> set[str]:
        """Every column some rule reads, in any scope."""
        return {r.column for r in self.reads}

    def rules_reading(self, columns: Iterable[str], scopes: tuple[str, ...]) -> dict[str, set[str]]:
        """``{rule: {"before.status", ...}}`` for reads of ``columns`` in ``scopes``."""
        wanted = set(columns)
        found: dict[str, set[str]] = {}
        for r in self.reads:
            if r.column in wanted and r.scope in scopes:
                found.setdefault(r.rule, set()).add(f"{r.scope}.{r.column}")
        return found


_ROW_SCOPES = ("before", "after", "row")


def read_rules(rules: RuleSet, connector: str) -> dict[str, TableNeeds]:
    """The needs of every table that the rules of ``connector`` read, by table name."""
    needs: dict[str, TableNeeds] = {}
    for mapping in rules.mappings:
        source = mapping.source
        if source.connector != connector:
            continue
        table = needs.setdefault(source.table, TableNeeds(source.table))
        table.before_image = source.before_image
        table.key_columns = tuple(source.key_columns) or table.key_columns
        for rule in mapping.rules:
            typed = {
                _bare_column(f.expr.sql): (f.name, f.type) for f in rule.fields if f.type
            }
            for _, expression in rule.expressions():
                for ref in expression.references:
                    if ref.scope in _ROW_SCOPES and ref.column is not None:
                        name, ftype = typed.get(f"{ref.scope}.{ref.column}".lower(), (None, None))
                        table.reads.append(
                            ColumnRead(rule.fact_type, ref.scope, ref.column, name, ftype)
                        )
    return needs


def _bare_column(sql: str) -> str:
    """``after.status`` for the SQL of an expression that only names a column, else ``""``.

    >>> _bare_column(' "after"."Status" ')
    'after.status'
    >>> _bare_column("after.a + 1")
    ''
    """
    text = sql.strip().replace('"', "").lower()
    return text if re.fullmatch(r"(before|after|row)\.[a-z_][a-z0-9_]*", text) else ""
