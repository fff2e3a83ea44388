"""PostgreSQL preflight: logical decoding, replication rights, publication, slot, tables.

:func:`postgres_checks` is pure: it turns a :class:`PgCatalog` into checks. Only
:func:`connect`, :func:`session` and :func:`apply` talk to the server (with psycopg); they
turn every psycopg error into a :class:`~cdc_facts.errors.DatabaseUnavailableError` (the
server cannot be reached) or a :class:`~cdc_facts.errors.PreflightError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from cdc_facts.errors import DatabaseUnavailableError, PreflightError
from cdc_facts.preflight.model import SIGNAL_COLUMNS, Check, Target
from cdc_facts.preflight.needs import TableNeeds
from cdc_facts.preflight.postgres_catalog import PgCatalog, Slot, ident, qualified
from cdc_facts.preflight.postgres_publication import publication_check
from cdc_facts.preflight.tables import (
    TableInfo,
    coverage,
    describe,
    non_key_reads,
    table_checks,
)

MIN_VERSION = 100_000
TESTED_VERSION = 120_000
#: WAL a slot may hold back before preflight warns.
WAL_WARN_BYTES = 1 << 30
#: Seconds a fix waits for a lock before it gives up (``preflight --lock-timeout``).
LOCK_TIMEOUT = 5.0
_IDENTITY = {"d": "DEFAULT", "f": "FULL", "i": "USING INDEX", "n": "NOTHING"}
_ALTER_NOTE = ("ALTER TABLE waits for an ACCESS EXCLUSIVE lock, and FULL writes each updated "
               "or deleted row's old values to the WAL")


def postgres_checks(
    catalog: PgCatalog, target: Target, needs: Mapping[str, TableNeeds]
) -> Iterator[Check]:
    """Every PostgreSQL check, in the order people fix them."""
    yield _version(catalog)
    yield _wal_level(catalog)
    yield _slots(catalog, target)
    yield _senders(catalog)
    yield _replication_role(catalog, target)
    yield coverage(target.tables, dict(needs), target.connector)
    for name in target.tables:
        info = catalog.tables[name]
        yield from table_checks(info, needs.get(name), target.user)
        if info.exists:
            yield from _identity_checks(info, needs.get(name))
    yield _signal(catalog.tables[target.signal], target)
    yield publication_check(catalog, target)
    yield _slot(catalog.slot, catalog, target)


# --- server and role ---------------------------------------------------------------------


def _version(catalog: PgCatalog) -> Check:
    shown = catalog.version_text
    if catalog.version < MIN_VERSION:
        return Check("server version", "fail", shown,
                     "upgrade PostgreSQL: pgoutput needs version 10 or later")
    if catalog.version < TESTED_VERSION:
        return Check("server version", "warn", shown,
                     "Debezium 3 is tested with PostgreSQL 12 and later; upgrade when you can")
    return Check("server version", "pass", shown)


def _wal_level(catalog: PgCatalog) -> Check:
    if catalog.wal_level == "logical":
        return Check("wal_level", "pass", "logical")
    return Check(
        "wal_level", "fail", catalog.wal_level,
        "set `wal_level = logical` in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) "
        "and restart PostgreSQL; managed services call it logical replication "
        "(e.g. rds.logical_replication = 1)",
    )


def _slots(catalog: PgCatalog, target: Target) -> Check:
    free = catalog.max_slots - catalog.used_slots
    shown = f"{catalog.used_slots} of {catalog.max_slots} used"
    if catalog.slot is not None or free > 0:
        return Check("replication slots", "pass", shown)
    return Check(
        "replication slots", "fail", shown,
        f"raise max_replication_slots (a restart is needed) or drop an unused slot, so that "
        f"`{target.slot}` can be created",
    )


def _senders(catalog: PgCatalog) -> Check:
    shown = f"{catalog.used_senders} of {catalog.max_senders} used"
    if catalog.max_senders - catalog.used_senders > 0:
        return Check("wal senders", "pass", shown)
    return Check("wal senders", "fail", shown,
                 "raise max_wal_senders (a restart is needed) or stop an idle replication client")


def _replication_role(catalog: PgCatalog, target: Target) -> Check:
    rights = [name for name, has in (("superuser", catalog.superuser),
                                     ("REPLICATION", catalog.replication),
                                     ("rds_replication", catalog.rds_replication)) if has]
    if rights:
        return Check("replication privilege", "pass", f"{catalog.user}: {', '.join(rights)}")
    return Check(
        "replication privilege", "fail", f"{catalog.user} has neither REPLICATION nor superuser",
        f"as a superuser: ALTER ROLE {ident(target.user)} WITH REPLICATION;  "
        f"(on RDS: GRANT rds_replication TO {ident(target.user)})",
    )


# --- tables ------------------------------------------------------------------------------


def _identity_checks(info: TableInfo, needs: TableNeeds | None) -> Iterator[Check]:
    identity = info.replica_identity or "d"
    shown = _IDENTITY.get(identity, identity)
    before = {}
    if needs is not None and needs.before_image == "full":
        before = non_key_reads(info, needs, ("before",))
    unusable = _unusable_identity(info)
    if unusable is not None:
        yield _identity_fix(info, unusable, before)
        return
    if identity == "f":
        yield Check("replica identity", "pass", "FULL", subject=info.name)
        return
    if needs is None:
        yield Check("replica identity", "pass", f"{shown}; no rules given (--mappings)",
                    subject=info.name)
        return
    yield _identity_for_rules(info, needs, shown, before)
    yield from _toast(info, needs)


def _unusable_identity(info: TableInfo) -> str | None:
    """Why the table's replica identity identifies no row, or ``None``.

    Only the table's own key counts: a key declared in the mapping is not one PostgreSQL
    knows of. Once the table is in a publication that publishes updates and deletes,
    PostgreSQL refuses them on such a table.
    """
    if info.replica_identity == "n":
        return "NOTHING"
    if info.replica_identity == "i" and not info.primary_key:
        return "USING INDEX, but the index is gone"
    if info.replica_identity in ("d", None) and not info.primary_key:
        return "DEFAULT without a primary key"
    return None


def _identity_fix(info: TableInfo, unusable: str, before: dict[str, set[str]]) -> Check:
    # NOTHING on a table with a primary key only needs DEFAULT, unless rules read before.*
    mode = "DEFAULT" if info.replica_identity == "n" and info.primary_key and not before \
        else "FULL"
    fix = f"ALTER TABLE {qualified(info.name)} REPLICA IDENTITY {mode}"
    why = f"; {describe(before)}" if before else ""
    return Check(
        "replica identity", "fail",
        f"{unusable}: once the table is published, PostgreSQL refuses every UPDATE and DELETE "
        f"on it{why}", subject=info.name,
        remedy=f"{fix};  (as the table owner; {_ALTER_NOTE})", fix=(fix,),
    )


def _identity_for_rules(
    info: TableInfo, needs: TableNeeds, shown: str, before: dict[str, set[str]]
) -> Check:
    full = f"ALTER TABLE {qualified(info.name)} REPLICA IDENTITY FULL"
    if before:
        return Check("replica identity", "fail", f"{shown}; {describe(before)}",
                     subject=info.name,
                     remedy=f"{full};  (as the table owner; before images then hold every "
                     f"column; {_ALTER_NOTE})", fix=(full,))
    rows = non_key_reads(info, needs, ("row",))
    if rows:
        return Check("replica identity", "warn", f"{shown}; deletes carry only the key: "
                     f"{describe(rows)}", subject=info.name,
                     remedy=f"{full};  if these rules must see deleted rows' other columns")
    return Check("replica identity", "pass", f"{shown}; no rule reads non-key before.* columns",
                 subject=info.name)


def _toast(info: TableInfo, needs: TableNeeds) -> Iterator[Check]:
    toastable = {n for n, c in info.columns.items() if c.toastable} - set(info.primary_key)
    reads = needs.rules_reading(toastable, ("after", "row"))
    if reads:
        yield Check(
            "toast", "warn",
            f"{describe(reads)}: an update that leaves a large value unchanged sends it as "
            "unknown", subject=info.name,
            remedy=f"ALTER TABLE {qualified(info.name)} REPLICA IDENTITY FULL;  or make those "
            "rules tolerate unknown values (on_unknown)",
        )


def _signal(info: TableInfo, target: Target) -> Check:
    create = (
        f"CREATE TABLE IF NOT EXISTS {qualified(info.name)} (id varchar(42) PRIMARY KEY, "
        "type varchar(32) NOT NULL, data varchar(2048) NULL)"
    )
    grant = (f"GRANT SELECT, INSERT, UPDATE, DELETE ON {qualified(info.name)} "
             f"TO {ident(target.user)}")
    if not info.exists:
        return Check("signal table", "fail", "absent", subject=info.name,
                     remedy=f"{create};  {grant}", fix=(create, grant))
    lacking = [c for c in SIGNAL_COLUMNS if c not in info.columns]
    if lacking:
        return Check("signal table", "fail", f"lacks columns {', '.join(lacking)}",
                     subject=info.name, remedy=f"drop it and {create}")
    if not info.can_write:
        return Check("signal table", "fail", f"{target.user} cannot INSERT into it",
                     subject=info.name, remedy=grant, fix=(grant,))
    return Check("signal table", "pass", "present", subject=info.name)


# --- slot --------------------------------------------------------------------------------


def _slot(slot: Slot | None, catalog: PgCatalog, target: Target) -> Check:
    if slot is None:
        return Check("replication slot", "pass", f"absent; Debezium creates {target.slot}",
                     subject=target.slot)
    drop = (f"cdc-facts connector remove {target.connector} --drop-slot --spec SPEC, or "
            f"SELECT pg_drop_replication_slot('{target.slot}')")
    if slot.plugin != "pgoutput" or slot.database != catalog.database:
        return Check("replication slot", "fail",
                     f"exists for plugin {slot.plugin} in database {slot.database}",
                     subject=target.slot, remedy=f"choose another slot.name, or drop it: {drop}")
    held = _size(slot.retained)
    if not slot.active:
        return Check("replication slot", "warn", f"inactive, holding back {held} of WAL",
                     subject=target.slot,
                     remedy=f"start the connector soon; if it is abandoned, drop it: {drop}")
    if slot.retained is not None and slot.retained > WAL_WARN_BYTES:
        return Check("replication slot", "warn", f"active, {held} behind", subject=target.slot,
                     remedy="check the connector's status and throughput")
    return Check("replication slot", "pass", f"active, {held} behind", subject=target.slot)


# --- the server --------------------------------------------------------------------------


def connect(params: Mapping[str, Any]) -> psycopg.Connection[Any]:
    """Connect with ``host``, ``port``, ``dbname``, ``user``, ``password`` or a ``conninfo``.

    Raises:
        DatabaseUnavailableError: The server cannot be reached.
        PreflightError: The server refused the connection (e.g. a wrong password).
    """
    kwargs = {"connect_timeout": 10, "application_name": "cdc-facts-preflight", **params}
    where = describe_target(params)
    try:
        conn = psycopg.connect(**kwargs, autocommit=True)
    except psycopg.OperationalError as exc:
        # libpq gives no SQLSTATE for a failed login; a FATAL line means the server answered.
        if exc.sqlstate is None and "FATAL:" not in str(exc):
            raise DatabaseUnavailableError(
                f"PostgreSQL at {where} cannot be reached: {_first_line(exc)}",
                hint="is the database running and reachable from here?",
            ) from exc
        raise PreflightError(f"PostgreSQL at {where} refused the connection: {_first_line(exc)}",
                             hint="check database.user and the password variable") from exc
    except psycopg.Error as exc:
        raise PreflightError(f"cannot connect to PostgreSQL at {where}: {_first_line(exc)}",
                             hint="check the connection settings") from exc
    return conn


@contextmanager
def session(params: Mapping[str, Any]) -> Iterator[psycopg.Connection[Any]]:
    """A connection (see :func:`connect`) whose psycopg errors, wherever they happen inside
    the ``with`` block, become a :class:`DatabaseUnavailableError` (the connection broke)
    or a :class:`PreflightError`."""
    where = describe_target(params)
    with connect(params) as conn:
        try:
            yield conn
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(
                f"PostgreSQL at {where} failed: {_first_line(exc)}",
                hint="is the database still running and reachable from here?",
            ) from exc
        except psycopg.Error as exc:
            raise PreflightError(f"PostgreSQL at {where} refused a query: {_first_line(exc)}",
                                 hint="check the user's privileges") from exc


def describe_target(params: Mapping[str, Any]) -> str:
    """``host:port/dbname`` of connection parameters (a ``conninfo`` too), never a password.

    >>> describe_target({"conninfo": "postgresql://a:pw@db.internal:5433/shop"})
    'db.internal:5433/shop'
    >>> describe_target({"host": "db", "dbname": "shop"})
    'db/shop'
    """
    values = dict(params)
    if "conninfo" in values:
        try:
            values = {**conninfo_to_dict(str(values.pop("conninfo"))), **values}
        except psycopg.Error:
            return "the given DSN"
    host = str(values.get("host") or "localhost")
    port = f":{values['port']}" if values.get("port") else ""
    dbname = f"/{values['dbname']}" if values.get("dbname") else ""
    return f"{host}{port}{dbname}"


def apply(
    conn: psycopg.Connection[Any], statements: list[str], *, lock_timeout: float = LOCK_TIMEOUT
) -> None:
    """Run fix statements one by one; stop at the first that fails, naming it.

    Each statement waits at most ``lock_timeout`` seconds (0: for ever) for its locks:
    ``ALTER TABLE ... REPLICA IDENTITY`` needs an ACCESS EXCLUSIVE lock, and while it waits
    behind a long transaction every other query on the table waits behind it.
    """
    conn.execute("SELECT set_config('lock_timeout', %s, false)",
                 (f"{round(lock_timeout * 1000)}ms",))
    for statement in statements:
        try:
            conn.execute(statement.encode())
        except psycopg.errors.LockNotAvailable as exc:
            raise PreflightError(
                f"fix gave up after waiting {lock_timeout:g}s for a lock on "
                f"{_locked(statement)}: {statement}",
                hint="a long transaction or query holds it (pg_stat_activity shows which): "
                "run --fix again when the table is quiet, or give it longer with "
                "--lock-timeout SECONDS",
            ) from exc
        except psycopg.Error as exc:
            raise PreflightError(
                f"fix failed: {statement}: {_first_line(exc)}",
                hint="run it as the tables' owner: pass --admin-dsn with such a user",
            ) from exc


def _locked(statement: str) -> str:
    """The tables a fix statement names (what it waits to lock).

    >>> _locked('ALTER TABLE "public"."orders" REPLICA IDENTITY FULL')
    'public.orders'
    >>> _locked('CREATE PUBLICATION "p" FOR TABLE "s"."a", "s"."b"')
    's.a, s.b'
    """
    tables = re.findall(r'"((?:[^"]|"")*)"\."((?:[^"]|"")*)"', statement)
    shown = ", ".join(f"{schema}.{table}".replace('""', '"') for schema, table in tables)
    return shown or "the objects it names"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _size(retained: int | None) -> str:
    """Bytes for people.

    >>> _size(512), _size(3 * 1024 * 1024), _size(None)
    ('512 B', '3.0 MB', 'an unknown amount')
    """
    if retained is None:
        return "an unknown amount"
    if retained < 1024:
        return f"{retained} B"
    size = retained / 1024
    for unit in ("kB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
