"""Read what preflight needs from a PostgreSQL catalog, in a handful of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from cdc_facts.preflight.columns import Column, pg_family, pg_toastable
from cdc_facts.preflight.tables import TableInfo


@dataclass(frozen=True)
class Publication:
    """A publication: whether it covers all tables, which tables, which operations.

    ``tables`` holds the tables named in it (a partitioned table itself, not only its
    partitions); ``owner`` is its owner's name and ``owned`` whether the connected user
    holds that role's privileges; ``via_root`` is ``publish_via_partition_root``.
    """

    name: str
    all_tables: bool
    tables: frozenset[str]
    operations: frozenset[str]
    owner: str = ""
    owned: bool = False
    via_root: bool = False


@dataclass(frozen=True)
class Slot:
    """A replication slot and how much WAL it holds back (``retained`` bytes)."""

    name: str
    plugin: str | None
    database: str | None
    active: bool
    retained: int | None


@dataclass
class PgCatalog:
    """What the server, the role and the tables look like to the connector's user."""

    version: int
    version_text: str
    wal_level: str
    max_slots: int
    used_slots: int
    max_senders: int
    used_senders: int
    user: str
    database: str
    superuser: bool = False
    replication: bool = False
    rds_replication: bool = False
    can_create: bool = False
    tables: dict[str, TableInfo] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)
    publication: Publication | None = None
    slot: Slot | None = None


_SERVER = """
SELECT current_setting('server_version_num')::int, current_setting('server_version'),
       current_setting('wal_level'), current_setting('max_replication_slots')::int,
       (SELECT count(*) FROM pg_replication_slots)::int,
       current_setting('max_wal_senders')::int,
       (SELECT count(*) FROM pg_stat_replication)::int,
       current_user, current_database(),
       r.rolsuper, r.rolreplication,
       CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication')
            THEN pg_has_role(current_user, 'rds_replication', 'MEMBER') ELSE false END,
       has_database_privilege(current_database(), 'CREATE')
FROM pg_roles r WHERE r.rolname = current_user
"""

_TABLE = """
SELECT c.oid, c.relreplident, pg_has_role(current_user, c.relowner, 'USAGE'),
       has_table_privilege(c.oid, 'SELECT'), has_table_privilege(c.oid, 'INSERT'),
       c.relkind = 'p'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')
"""

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), coalesce(b.typname, t.typname),
       coalesce(b.typcategory, t.typcategory), coalesce(b.typlen, t.typlen), NOT a.attnotnull
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type b ON t.typtype = 'd' AND b.oid = t.typbasetype
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""

_KEY = """
SELECT a.attname FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = %s AND (CASE WHEN %s = 'i' THEN i.indisreplident ELSE i.indisprimary END)
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""

_NEIGHBOURS = """
SELECT n.nspname || '.' || c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%%'
"""

# pubviaroot exists from PostgreSQL 13 on: read through to_jsonb so older servers answer too
_PUBLICATION = """
SELECT p.puballtables, pg_get_userbyid(p.pubowner),
       pg_has_role(current_user, p.pubowner, 'USAGE'),
       coalesce((to_jsonb(p) ->> 'pubviaroot')::boolean, false),
       p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate
FROM pg_publication p WHERE p.pubname = %s
"""

# pg_publication_tables lists the partitions of a partitioned table (unless the publication
# publishes via the root); pg_publication_rel the tables named in the publication
_PUBLICATION_TABLES = """
SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s
UNION
SELECT n.nspname, c.relname FROM pg_publication p
JOIN pg_publication_rel r ON r.prpubid = p.oid
JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE p.pubname = %s
"""

_SLOT = """
SELECT plugin, database, active,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END
FROM pg_replication_slots WHERE slot_name = %s
"""


def ident(name: str) -> str:
    """A quoted SQL identifier.

    >>> ident('my "odd" name')
    '"my ""odd"" name"'
    """
    return '"' + name.replace('"', '""') + '"'


def qualified(table: str) -> str:
    """``schema.table`` as quoted SQL: ``"schema"."table"``."""
    return ".".join(ident(part) for part in table.split(".", 1))


def read_catalog(
    conn: psycopg.Connection[Any], tables: list[str], publication: str, slot: str
) -> PgCatalog:
    """Everything the checks look at, as the connected user sees it."""
    row = _one(conn, _SERVER, ())
    catalog = PgCatalog(*row[:9], *row[9:])
    neighbours = tuple(r[0] for r in conn.execute(_NEIGHBOURS).fetchall())
    for name in tables:
        info, owned = _table(conn, name, neighbours)
        catalog.tables[name] = info
        if owned:
            catalog.owned.add(name)
    catalog.publication = _publication(conn, publication)
    catalog.slot = _slot(conn, slot)
    return catalog


def _one(conn: psycopg.Connection[Any], query: str, params: tuple[object, ...]) -> Any:
    return conn.execute(query, params).fetchone()


def _table(
    conn: psycopg.Connection[Any], name: str, neighbours: tuple[str, ...]
) -> tuple[TableInfo, bool]:
    schema, table = name.split(".", 1)
    row = _one(conn, _TABLE, (schema, table))
    if row is None:
        return TableInfo(name, exists=False, neighbours=neighbours), False
    oid, ident, owned, can_select, can_insert, partitioned = row
    columns = {
        col: Column(col, shown, pg_family(typname, cat), pg_toastable(typname, cat, typlen), null)
        for col, shown, typname, cat, typlen, null in conn.execute(_COLUMNS, (oid,)).fetchall()
    }
    key = tuple(r[0] for r in conn.execute(_KEY, (oid, ident)).fetchall())
    info = TableInfo(name, True, key, columns, ident, can_select, neighbours, can_insert,
                     bool(partitioned))
    return info, bool(owned)


def _publication(conn: psycopg.Connection[Any], name: str) -> Publication | None:
    row = _one(conn, _PUBLICATION, (name,))
    if row is None:
        return None
    all_tables, owner, owned, via_root, *flags = row
    operations = frozenset(
        op for op, on in zip(("insert", "update", "delete", "truncate"), flags, strict=True) if on
    )
    tables = frozenset(
        f"{s}.{t}" for s, t in conn.execute(_PUBLICATION_TABLES, (name, name)).fetchall()
    )
    return Publication(name, bool(all_tables), tables, operations, str(owner), bool(owned),
                       bool(via_root))


def _slot(conn: psycopg.Connection[Any], name: str) -> Slot | None:
    row = _one(conn, _SLOT, (name,))
    if row is None:
        return None
    plugin, database, active, retained = row
    return Slot(name, plugin, database, bool(active), retained)
