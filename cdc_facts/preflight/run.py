"""Run preflight for one connector: connect, read the catalog, check, and fix on request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from cdc_facts.connectors.spec import ConnectorSpec
from cdc_facts.errors import PreflightError
from cdc_facts.preflight import mysql, postgres
from cdc_facts.preflight.model import Check, Report, Target
from cdc_facts.preflight.needs import TableNeeds, read_rules
from cdc_facts.preflight.postgres_catalog import read_catalog as read_pg_catalog

if TYPE_CHECKING:
    from cdc_facts.rules.model import RuleSet

#: Kinds preflight can check; SQL Server and Oracle are rendered and validated only.
SUPPORTED = ("postgres", "mariadb", "mysql")


def run_preflight(
    spec: ConnectorSpec,
    config: Mapping[str, str],
    rules: RuleSet | None = None,
    *,
    fix: bool = False,
    admin_dsn: str | None = None,
    on_fixes: Callable[[list[str]], None] | None = None,
    lock_timeout: float = postgres.LOCK_TIMEOUT,
) -> Report:
    """Check that ``spec``'s database can deliver what the connector and ``rules`` need.

    Args:
        spec: The connector spec.
        config: Its rendered config (options applied): connection, slot, publication.
        rules: The mapping rules, to check the columns and before images they read.
        fix: Apply the safe fixes of failed checks, then check again.
        admin_dsn: Connect as this user to apply fixes (e.g. the tables' owner); the
            connector's own user when ``None``.
        on_fixes: Called with the statements just before they are applied.
        lock_timeout: Seconds each PostgreSQL fix waits for its locks (0: for ever).

    Raises:
        PreflightError: The kind is not supported, the server refused the login, or a fix
            failed (or waited longer than ``lock_timeout`` for a lock).
        DatabaseUnavailableError: The server cannot be reached.
    """
    if spec.kind not in SUPPORTED:
        raise PreflightError(
            f"preflight checks {', '.join(SUPPORTED)} databases, not {spec.kind}",
            hint="`cdc-facts connector validate SPEC` still asks the connector plugin",
        )
    needs = read_rules(rules, spec.name) if rules is not None else {}
    target = _target(spec, config)
    report = Report(spec.name, spec.kind, _checks(spec, config, target, needs))
    fixes = report.fixes
    if not fix or not fixes:
        return report
    if on_fixes is not None:
        on_fixes(fixes)
    _apply(spec, config, admin_dsn, fixes, lock_timeout)
    report = Report(spec.name, spec.kind, _checks(spec, config, target, needs), applied=fixes)
    return report


def _target(spec: ConnectorSpec, config: Mapping[str, str]) -> Target:
    return Target(
        connector=spec.name,
        user=config.get("database.user", spec.database.user),
        tables=spec.tables,
        signal=config.get("signal.data.collection", ""),
        publication=config.get("publication.name", ""),
        slot=config.get("slot.name", ""),
        # Debezium's own default; the rendered config sets `filtered`
        publication_mode=config.get("publication.autocreate.mode", "all_tables"),
    )


def _checks(
    spec: ConnectorSpec, config: Mapping[str, str], target: Target,
    needs: dict[str, TableNeeds],
) -> list[Check]:
    names = [*target.tables, target.signal]
    if spec.kind == "postgres":
        with postgres.session(connection_params(spec, config)) as conn:
            catalog = read_pg_catalog(conn, names, target.publication, target.slot)
        return list(postgres.postgres_checks(catalog, target, needs))
    conn = mysql.connect(connection_params(spec, config))
    try:
        my_catalog = mysql.read_catalog(conn, names, mysql.tinyint_booleans(config))
    finally:
        conn.close()
    server_id = config.get("database.server.id", "")
    return list(mysql.mysql_checks(my_catalog, target, needs, server_id))


def _apply(
    spec: ConnectorSpec, config: Mapping[str, str], admin_dsn: str | None, fixes: list[str],
    lock_timeout: float,
) -> None:
    params = admin_params(spec.kind, admin_dsn) if admin_dsn else connection_params(spec, config)
    if spec.kind == "postgres":
        with postgres.session(params) as conn:
            postgres.apply(conn, fixes, lock_timeout=lock_timeout)
        return
    conn = mysql.connect(params)
    try:
        mysql.apply(conn, fixes)
    finally:
        conn.close()


def connection_params(spec: ConnectorSpec, config: Mapping[str, str]) -> dict[str, Any]:
    """How the connector itself connects, from its rendered config."""
    params: dict[str, Any] = {
        "host": config.get("database.hostname", spec.database.host),
        "port": int(config.get("database.port", spec.database.port)),
        "user": config.get("database.user", spec.database.user),
        "password": config.get("database.password", spec.database.password),
    }
    if spec.kind == "postgres":
        params["dbname"] = config.get("database.dbname", spec.database.name or "")
    return params


def admin_params(kind: str, dsn: str) -> dict[str, Any]:
    """Connection parameters from an admin DSN: a PostgreSQL conninfo/URL or a MySQL URL.

    >>> admin_params("mariadb", "mysql://root:p%40ss@db:3307/shop")
    {'host': 'db', 'port': 3307, 'user': 'root', 'password': 'p@ss', 'database': 'shop'}
    >>> admin_params("postgres", "postgresql://admin:p%20w@db:5433/shop")["host"]
    'db'

    Raises:
        PreflightError: The DSN does not parse, or is for the other kind of database. The
            message never quotes the DSN, which holds a password.
    """
    mysql_dsn = _is_mysql_dsn(dsn)
    if (kind == "postgres") == mysql_dsn:
        raise PreflightError(
            f"the admin DSN is for {'MySQL/MariaDB' if mysql_dsn else 'PostgreSQL'}, but the "
            f"connector's database is {kind}", hint=_DSN_FORMS)
    return parse_dsn(dsn)


_DSN_FORMS = ("write a PostgreSQL conninfo (host=... dbname=... user=... password=...) or "
              "URL (postgresql://user:password@host:port/db), or "
              "mysql://user:password@host:port/db; percent-encode special characters of the "
              "password in a URL (a space is %20)")


def _is_mysql_dsn(dsn: str) -> bool:
    return dsn.strip().lower().startswith(("mysql://", "mariadb://"))


def parse_dsn(dsn: str) -> dict[str, Any]:
    """Connection parameters of a DSN of either kind (``mysql://`` and ``mariadb://`` URLs
    are MySQL's; anything else is a PostgreSQL conninfo or URL).

    Raises:
        PreflightError: It does not parse; the message never quotes it.
    """
    if not _is_mysql_dsn(dsn):
        try:
            return dict(conninfo_to_dict(dsn))
        except psycopg.Error:
            raise PreflightError("the admin DSN is not a valid PostgreSQL connection string",
                                 hint=_DSN_FORMS) from None
    try:
        url = urlsplit(dsn.strip())
        port = url.port or 3306
    except ValueError:
        url, port = None, 0
    if url is None or not url.hostname:
        raise PreflightError("the admin DSN of a MySQL/MariaDB database must look like "
                             "mysql://user:password@host:port/database", hint=_DSN_FORMS)
    params: dict[str, Any] = {
        "host": url.hostname,
        "port": port,
        "user": unquote(url.username or "root"),
        "password": unquote(url.password or ""),
    }
    if url.path.strip("/"):
        params["database"] = url.path.strip("/")
    return params
