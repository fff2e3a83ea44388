"""Checks shared by every database: tables exist, have keys, hold the columns rules read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from difflib import get_close_matches

from cdc_facts.preflight.columns import Column, compatible, json_text
from cdc_facts.preflight.model import Check
from cdc_facts.preflight.needs import TableNeeds


@dataclass
class TableInfo:
    """One table as the catalog describes it (``exists=False`` when it is not there).

    ``replica_identity`` is PostgreSQL's ``relreplident`` (``d``, ``f``, ``i``, ``n``);
    ``None`` for other databases. ``primary_key`` is what a PostgreSQL before image holds:
    the primary key, or the replica identity index's columns (empty when it is gone).
    ``partitioned`` is a PostgreSQL partitioned table (``relkind = 'p'``).
    """

    name: str
    exists: bool
    primary_key: tuple[str, ...] = ()
    columns: dict[str, Column] = field(default_factory=dict)
    replica_identity: str | None = None
    can_select: bool = True
    neighbours: tuple[str, ...] = ()
    can_write: bool = True
    partitioned: bool = False


def coverage(tables: tuple[str, ...], needs: dict[str, TableNeeds], connector: str) -> Check:
    """Every table the rules read must be captured by the connector."""
    missing = sorted(set(needs) - set(tables))
    if not needs:
        return Check("rules coverage", "pass", "no rules read this connector's tables "
                     "(pass --mappings to check them)")
    if not missing:
        return Check("rules coverage", "pass", f"rules read {len(needs)} of the captured tables")
    return Check(
        "rules coverage", "fail", f"rules read {', '.join(missing)}, which `tables` does not list",
        remedy=f"add {', '.join(missing)} to `tables` of connector `{connector}`, or fix the "
        "mappings' `source.table`",
    )


def table_checks(info: TableInfo, needs: TableNeeds | None, user: str) -> Iterator[Check]:
    """Existence, privilege, key, then the columns the rules read."""
    if not info.exists:
        yield _missing_table(info)
        return
    yield _key(info, needs)
    if not info.can_select:
        yield Check("select privilege", "fail", f"{user} cannot SELECT it", subject=info.name,
                    remedy=f"GRANT SELECT ON {info.name} TO {user};  (needed for snapshots)")
    if needs is not None:
        yield from column_checks(info, needs)


def _missing_table(info: TableInfo) -> Check:
    close = get_close_matches(info.name, info.neighbours, n=1)
    hint = f"; did you mean `{close[0]}`?" if close else ""
    return Check(
        "table exists", "fail", "not found (or not visible to the connector user)",
        subject=info.name,
        remedy=f"create the table or fix its name in `tables`{hint}",
    )


def _key(info: TableInfo, needs: TableNeeds | None) -> Check:
    if info.primary_key:
        return Check("primary key", "pass", f"({', '.join(info.primary_key)})", subject=info.name)
    declared = needs.key_columns if needs else ()
    if declared:
        return Check("primary key", "pass", f"none; the mapping declares ({', '.join(declared)})",
                     subject=info.name)
    return Check(
        "primary key", "fail", "none", subject=info.name,
        remedy=f"add a primary key to {info.name}, or declare `source.key: [...]` in its mapping "
        "(change records of a table without a key have no key to order them by)",
    )


def column_checks(info: TableInfo, needs: TableNeeds) -> Iterator[Check]:
    """The columns the rules read exist, and fill their fact fields' types."""
    missing: dict[str, set[str]] = {}
    for read in needs.reads:
        column = info.columns.get(read.column)
        if column is None:
            missing.setdefault(read.column, set()).add(read.rule)
        elif read.field_type and not _fits(read.field_type, column):
            yield Check(
                "column type", "fail",
                f"{read.column} is {column.type}; rule {read.rule} puts it in field "
                f"`{read.field}` of type {read.field_type}",
                subject=info.name,
                remedy=f"change the type of field `{read.field}` in rule {read.rule}, or cast "
                f"the expression (e.g. CAST({read.scope}.{read.column} AS ...)){_hint(column)}",
            )
    for name, rules in sorted(missing.items()):
        close = get_close_matches(name, list(info.columns), n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        yield Check(
            "column exists", "fail", f"no column `{name}`, read by {', '.join(sorted(rules))}",
            subject=info.name, remedy=f"fix the rules' reference to `{name}`{hint}",
        )
    if not missing:
        yield Check("columns", "pass", f"{len(needs.columns())} columns read by rules exist",
                    subject=info.name)


def _hint(column: Column) -> str:
    if column.type.lower().startswith("tinyint(1)") and column.family == "integer":
        return ("; Debezium sends tinyint(1) as a number unless the connector's options "
                "configure io.debezium.connector.binlog.converters.TinyIntOneToBooleanConverter")
    return ""


def _fits(field_type: str, column: Column) -> bool:
    if compatible(field_type, column.family):
        return True
    return field_type == "json" and json_text(column.family, column.type)


def non_key_reads(
    info: TableInfo, needs: TableNeeds, scopes: tuple[str, ...]
) -> dict[str, set[str]]:
    """``{rule: {"before.status"}}``: reads in ``scopes`` of columns outside the key.

    The key is the table's own (primary or replica identity index): it is what a minimal
    before image holds, whatever key the mapping declares for its facts.
    """
    return needs.rules_reading(needs.columns() - set(info.primary_key), scopes)


def describe(reads: dict[str, set[str]]) -> str:
    """``rule a reads before.x, before.y; rule b reads before.z``."""
    return "; ".join(f"rule {rule} reads {', '.join(sorted(cols))}"
                     for rule, cols in sorted(reads.items()))
