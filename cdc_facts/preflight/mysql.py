"""MySQL and MariaDB preflight: binlog settings, server id, GTIDs, grants, tables.

:func:`mysql_checks` is pure: it turns a :class:`MyCatalog` into checks; :func:`read_catalog`,
:func:`connect` and :func:`apply` talk to the server (with PyMySQL).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pymysql

from cdc_facts.errors import DatabaseUnavailableError, PreflightError
from cdc_facts.preflight.columns import Column, mysql_family
from cdc_facts.preflight.model import SIGNAL_COLUMNS, Check, Target
from cdc_facts.preflight.needs import TableNeeds
from cdc_facts.preflight.tables import TableInfo, coverage, describe, non_key_reads, table_checks

#: Global privileges Debezium's binlog connectors need, with the names MariaDB also uses.
GLOBAL_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "RELOAD": ("RELOAD",),
    "SHOW DATABASES": ("SHOW DATABASES",),
    "REPLICATION SLAVE": ("REPLICATION SLAVE",),
    "REPLICATION CLIENT": ("REPLICATION CLIENT", "BINLOG MONITOR"),
}
_VARIABLES = (
    "log_bin", "binlog_format", "binlog_row_image", "server_id", "gtid_mode",
    "enforce_gtid_consistency", "gtid_domain_id", "gtid_strict_mode",
)
_UNREACHABLE = frozenset({2002, 2003, 2005, 2006, 2013})


@dataclass
class MyCatalog:
    """What the server, the grants and the tables look like to the connector's user."""

    version: str
    variables: dict[str, str]
    grants: list[str]
    user: str
    tables: dict[str, TableInfo] = field(default_factory=dict)

    @property
    def mariadb(self) -> bool:
        return "mariadb" in self.version.lower()


def mysql_checks(
    catalog: MyCatalog, target: Target, needs: Mapping[str, TableNeeds], server_id: str
) -> Iterator[Check]:
    """Every MySQL/MariaDB check, in the order people fix them."""
    yield _version(catalog)
    yield _variable(catalog, "log_bin", ("ON", "1"), "set `log_bin` in my.cnf and restart")
    yield _variable(catalog, "binlog_format", ("ROW",),
                    "set `binlog_format = ROW` in my.cnf (and SET GLOBAL binlog_format = 'ROW')")
    yield _row_image(catalog, needs)
    yield _server_id(catalog, server_id)
    yield _gtid(catalog)
    yield from _grants(catalog, target)
    yield coverage(target.tables, dict(needs), target.connector)
    for name in target.tables:
        yield from table_checks(catalog.tables[name], needs.get(name), target.user)
    yield _signal(catalog, target)


def _version(catalog: MyCatalog) -> Check:
    major = tuple(int(p) for p in re.findall(r"\d+", catalog.version)[:2])
    oldest = (10, 6) if catalog.mariadb else (8, 0)
    if major < oldest:
        return Check("server version", "warn", catalog.version,
                     f"Debezium 3 is tested with {'MariaDB 10.6' if catalog.mariadb else 'MySQL 8'}"
                     " and later")
    return Check("server version", "pass", catalog.version)


def _variable(catalog: MyCatalog, name: str, good: tuple[str, ...], remedy: str) -> Check:
    value = catalog.variables.get(name, "(unset)")
    if value.upper() in good:
        return Check(name, "pass", value)
    return Check(name, "fail", value, f"{remedy}; a restart may be needed, so preflight "
                 "never changes it")


def _row_image(catalog: MyCatalog, needs: Mapping[str, TableNeeds]) -> Check:
    value = catalog.variables.get("binlog_row_image", "FULL")
    if value.upper() == "FULL":
        return Check("binlog_row_image", "pass", value)
    reads: dict[str, set[str]] = {}
    for name, table in needs.items():
        info = catalog.tables.get(name)
        if info is not None and info.exists:
            reads.update(non_key_reads(info, table, ("before", "after", "row")))
    remedy = "set `binlog_row_image = FULL` in my.cnf (and SET GLOBAL binlog_row_image = 'FULL')"
    if reads:
        return Check("binlog_row_image", "fail", f"{value}; {describe(reads)}", remedy)
    return Check("binlog_row_image", "warn", f"{value}; row images hold only changed columns",
                 remedy)


def _server_id(catalog: MyCatalog, connector_id: str) -> Check:
    value = catalog.variables.get("server_id", "0")
    if value in ("", "0"):
        return Check("server_id", "fail", "0", "set a non-zero `server_id` in my.cnf and restart")
    if value == connector_id:
        return Check("server_id", "fail", f"{value}, the same as the connector's",
                     "set another `database.server.id` in the spec's options")
    return Check("server_id", "pass", f"{value} (connector uses {connector_id})")


def _gtid(catalog: MyCatalog) -> Check:
    if catalog.mariadb:
        domain = catalog.variables.get("gtid_domain_id", "0")
        return Check("gtid", "pass", f"MariaDB GTIDs, domain {domain}")
    mode = catalog.variables.get("gtid_mode", "OFF")
    enforce = catalog.variables.get("enforce_gtid_consistency", "OFF")
    if mode.upper() == "ON" and enforce.upper() == "ON":
        return Check("gtid", "pass", "gtid_mode ON")
    return Check("gtid", "warn", f"gtid_mode {mode}, enforce_gtid_consistency {enforce}",
                 "turn GTIDs on (gtid_mode = ON, enforce_gtid_consistency = ON) so the "
                 "connector survives a failover; it works without them")


# --- grants ------------------------------------------------------------------------------


def parse_grants(lines: list[str]) -> dict[str, set[str]]:
    """``{target: {privilege}}`` from ``SHOW GRANTS``; targets like ``*.*``, ``shop.*``.

    >>> grants = parse_grants(["GRANT SELECT, RELOAD ON *.* TO `cdc`@`%`",
    ...                        "GRANT INSERT (a, b) ON `shop`.`t` TO `cdc`@`%`"])
    >>> sorted(grants["*.*"]), grants["shop.t"]
    (['RELOAD', 'SELECT'], {'INSERT'})
    """
    grants: dict[str, set[str]] = {}
    for line in lines:
        match = re.match(r"GRANT (.+?) ON (?:TABLE |PROCEDURE |FUNCTION )?(\S+) TO ", line, re.I)
        if not match:
            continue
        privileges = re.sub(r"\([^)]*\)", "", match.group(1))
        target = match.group(2).replace("`", "")
        names = {p.strip().upper() for p in privileges.split(",") if p.strip()}
        grants.setdefault(target, set()).update(names)
    return grants


def _has(grants: dict[str, set[str]], privilege: str, *targets: str) -> bool:
    for target in ("*.*", *targets):
        held = grants.get(target, set())
        if privilege in held or "ALL PRIVILEGES" in held or "ALL" in held:
            return True
    return False


def _grants(catalog: MyCatalog, target: Target) -> Iterator[Check]:
    grants = parse_grants(catalog.grants)
    lacking = [
        name for name, aliases in GLOBAL_PRIVILEGES.items()
        if not any(_has(grants, alias) for alias in aliases)
    ]
    for table in target.tables:
        schema = table.split(".", 1)[0]
        if not _has(grants, "SELECT", f"{schema}.*", table):
            lacking.append(f"SELECT on {table}")
    if not lacking:
        yield Check("grants", "pass", "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, "
                    "REPLICATION CLIENT")
        return
    globals_ = [p for p in lacking if not p.startswith("SELECT on")]
    selects = sorted({t.split(" on ")[1].split(".")[0] for t in lacking if t.startswith("SELECT")})
    remedy = "; ".join(
        [f"GRANT {', '.join(globals_)} ON *.* TO {catalog.user}"] * bool(globals_)
        + [f"GRANT SELECT ON `{s}`.* TO {catalog.user}" for s in selects]
    )
    yield Check("grants", "fail", f"lacks {', '.join(lacking)}", remedy)


def _signal(catalog: MyCatalog, target: Target) -> Check:
    info = catalog.tables[target.signal]
    schema, table = target.signal.split(".", 1)
    name = f"`{schema}`.`{table}`"
    create = (f"CREATE TABLE IF NOT EXISTS {name} (id VARCHAR(42) PRIMARY KEY, "
              "type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL)")
    grant = f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {catalog.user}"
    writable = _has(parse_grants(catalog.grants), "INSERT", f"{schema}.*", target.signal)
    fix = (create,) if writable else (create, grant)
    if not info.exists:
        return Check("signal table", "fail", "absent", subject=target.signal,
                     remedy=";  ".join(fix), fix=fix)
    lacking = [c for c in SIGNAL_COLUMNS if c not in info.columns]
    if lacking:
        return Check("signal table", "fail", f"lacks columns {', '.join(lacking)}",
                     subject=target.signal, remedy=f"drop it and {create}")
    if not writable:
        return Check("signal table", "fail", f"{target.user} cannot INSERT into it",
                     subject=target.signal, remedy=grant, fix=(grant,))
    return Check("signal table", "pass", "present", subject=target.signal)


# --- the server --------------------------------------------------------------------------


def tinyint_booleans(config: Mapping[str, str]) -> Callable[[str, str], bool]:
    """Whether a column (``database.table.column``, ``COLUMN_TYPE``) reaches Debezium's
    records as a boolean: only when a ``TinyIntOneToBooleanConverter`` is configured
    (``converters``, ``<name>.type``), its ``<name>.selector`` (regular expressions) matches
    the column, and the column is a ``tinyint(1)`` (any ``tinyint`` when
    ``<name>.length.checker`` is ``false``).

    >>> booleans = tinyint_booleans({"converters": "b", "b.selector": "shop\\.orders\\..*",
    ...     "b.type": "io.debezium.connector.binlog.converters.TinyIntOneToBooleanConverter"})
    >>> booleans("shop.orders.paid", "tinyint(1)"), booleans("shop.lines.paid", "tinyint(1)")
    (True, False)
    >>> booleans("shop.orders.n", "tinyint(4)"), tinyint_booleans({})("a.b.c", "tinyint(1)")
    (False, False)
    """
    rules: list[tuple[list[re.Pattern[str]], bool]] = []
    for name in (n.strip() for n in config.get("converters", "").split(",")):
        if name and config.get(f"{name}.type", "").endswith(".TinyIntOneToBooleanConverter"):
            selector = config.get(f"{name}.selector", "").strip() or ".*"
            patterns = [re.compile(p.strip(), re.I) for p in selector.split(",") if p.strip()]
            any_length = config.get(f"{name}.length.checker", "").lower() == "false"
            rules.append((patterns, any_length))

    def boolean(column: str, column_type: str) -> bool:
        lowered = column_type.lower()
        return lowered.startswith("tinyint") and any(
            (any_length or lowered.startswith("tinyint(1)"))
            and any(p.fullmatch(column) for p in patterns)
            for patterns, any_length in rules
        )

    return boolean


def read_catalog(
    conn: Any, tables: list[str], tinyint_boolean: Callable[[str, str], bool] | None = None
) -> MyCatalog:
    """Everything the checks look at, as the connected user sees it.

    ``tinyint_boolean`` says which ``tinyint`` columns become booleans (see
    :func:`tinyint_booleans`; none by default).
    """
    booleans = tinyint_boolean or tinyint_booleans({})
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION(), CURRENT_USER()")
        version, user = cur.fetchone()
        cur.execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN %s", (_VARIABLES,))
        variables = {str(k): str(v) for k, v in cur.fetchall()}
        cur.execute("SHOW GRANTS FOR CURRENT_USER()")
        grants = [str(r[0]) for r in cur.fetchall()]
        neighbours = _neighbours(cur)
        catalog = MyCatalog(str(version), variables, grants, _account(str(user)))
        for name in tables:
            catalog.tables[name] = _table(cur, name, neighbours, booleans)
    return catalog


def _account(user: str) -> str:
    name, _, host = user.partition("@")
    return f"'{name}'@'{host or '%'}'"


def _neighbours(cur: Any) -> tuple[str, ...]:
    cur.execute(
        "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES WHERE "
        "TABLE_SCHEMA NOT IN ('mysql', 'sys', 'performance_schema', 'information_schema')"
    )
    return tuple(str(r[0]) for r in cur.fetchall())


def _table(
    cur: Any, name: str, neighbours: tuple[str, ...], tinyint_boolean: Callable[[str, str], bool]
) -> TableInfo:
    schema, table = name.split(".", 1)
    cur.execute(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
        "ORDER BY ORDINAL_POSITION", (schema, table),
    )
    rows = cur.fetchall()
    if not rows:
        return TableInfo(name, exists=False, neighbours=neighbours)
    columns = {
        str(c): Column(str(c), str(ctype), mysql_family(
            str(dtype), str(ctype), tinyint_boolean=tinyint_boolean(f"{name}.{c}", str(ctype))
        ), False, n == "YES")
        for c, dtype, ctype, n, _ in rows
    }
    cur.execute(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
        (schema, table),
    )
    key = tuple(str(r[0]) for r in cur.fetchall())
    return TableInfo(name, True, key, columns, neighbours=neighbours)


def connect(params: Mapping[str, Any]) -> Any:
    """Connect with ``host``, ``port``, ``user``, ``password`` (and ``database``).

    Raises:
        DatabaseUnavailableError: The server cannot be reached.
        PreflightError: The server refused the connection (e.g. a wrong password).
    """
    try:
        return pymysql.connect(connect_timeout=10, autocommit=True, **params)
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else None
        where = f"{params.get('host', '')}:{params.get('port', '')}"
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        if code in _UNREACHABLE:
            raise DatabaseUnavailableError(f"MySQL/MariaDB at {where} cannot be reached: "
                                           f"{message}",
                                           hint="is the database running and reachable?") from exc
        raise PreflightError(f"MySQL/MariaDB at {where} refused the connection: {message}",
                             hint="check database.user and the password variable") from exc
    except pymysql.err.MySQLError as exc:
        raise PreflightError(f"cannot connect to MySQL/MariaDB at {params.get('host', '')}:"
                             f"{params.get('port', '')}: {exc}",
                             hint="check the connection settings") from exc


def apply(conn: Any, statements: list[str]) -> None:
    """Run fix statements one by one; stop at the first that fails, naming it."""
    with conn.cursor() as cur:
        for statement in statements:
            try:
                cur.execute(statement)
            except pymysql.err.MySQLError as exc:
                raise PreflightError(
                    f"fix failed: {statement}: {exc.args[-1] if exc.args else exc}",
                    hint="run it as a user allowed to: pass --admin-dsn with such a user",
                ) from exc
