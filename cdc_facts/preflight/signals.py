"""Ad hoc incremental snapshots: insert an ``execute-snapshot`` row into the signal table.

Debezium 3 reads the row from the change stream and re-reads the table in chunks, as
``op = r`` records, optionally only the rows that match a filter.

>>> snapshot_signal("public.orders", "status = 'open'")["additional-conditions"]
[{'data-collection': 'public.orders', 'filter': "status = 'open'"}]
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
import psycopg.sql
import pymysql
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from cdc_facts.errors import PreflightError
from cdc_facts.preflight import mysql, postgres

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")

#: Statements are not filters: a filter is one condition, as after WHERE.
_STATEMENTS = (exp.Query, exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Create, exp.Alter,
               exp.Command, exp.Transaction, exp.Commit, exp.Rollback)


def check_filter(text: str, kind: str) -> str:
    """Parse a snapshot filter as one SQL condition; return it unchanged.

    Raises:
        ValueError: It does not parse, or it is a statement rather than a condition.
    """
    dialect = "postgres" if kind == "postgres" else "mysql"
    try:
        parsed = sqlglot.parse(text, read=dialect)
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        where = f" at column {error.get('col')}" if error.get("col") else ""
        raise ValueError(f"`{text}` is not valid SQL{where}: {error.get('description', exc)}"
                         ) from exc
    if len(parsed) != 1 or parsed[0] is None:
        raise ValueError(f"`{text}` must be one condition, e.g. status = 'open'")
    if isinstance(parsed[0], _STATEMENTS) or not _is_condition(parsed[0]):
        raise ValueError(f"`{text}` must be a condition as after WHERE (e.g. status = 'open'), "
                         "not a statement or a bare value")
    return text


def _is_condition(node: exp.Expr) -> bool:
    return isinstance(node, exp.Condition) and not isinstance(node, exp.Literal | exp.Column)


def snapshot_signal(table: str, filter_sql: str | None = None) -> dict[str, Any]:
    """The ``data`` of a Debezium 3 ``execute-snapshot`` signal for one table."""
    data: dict[str, Any] = {"data-collections": [table], "type": "incremental"}
    if filter_sql:
        data["additional-conditions"] = [{"data-collection": table, "filter": filter_sql}]
    return data


def send_snapshot_signal(
    kind: str, params: Mapping[str, Any], signal_table: str, data: dict[str, Any]
) -> str:
    """Insert the signal row; return its id.

    Raises:
        PreflightError: The insert failed (no signal table, no INSERT privilege...).
    """
    signal_id = str(uuid.uuid4())
    row = (signal_id, "execute-snapshot", json.dumps(data))
    if not _TABLE.match(signal_table):
        raise PreflightError(f"signal table `{signal_table}` must be `schema.table`")
    schema, table = signal_table.split(".", 1)
    if kind == "postgres":
        statement = psycopg.sql.SQL("INSERT INTO {} (id, type, data) VALUES (%s, %s, %s)")
        with postgres.connect(params) as conn:
            _insert_pg(conn, statement.format(psycopg.sql.Identifier(schema, table)), row,
                       signal_table)
        return signal_id
    # Both names match _TABLE (plain identifiers), so backquoting them is safe.
    insert = f"INSERT INTO `{schema}`.`{table}` (id, type, data) VALUES (%s, %s, %s)"  # noqa: S608
    conn = mysql.connect(params)
    try:
        _insert_mysql(conn, insert, row, signal_table)
    finally:
        conn.close()
    return signal_id


def _insert_pg(
    conn: Any, statement: psycopg.sql.Composed, row: tuple[str, ...], signal_table: str
) -> None:
    try:
        conn.execute(statement, row)
    except psycopg.Error as exc:
        raise _failed(signal_table, exc) from exc


def _insert_mysql(conn: Any, statement: str, row: tuple[str, ...], signal_table: str) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(statement, row)
    except pymysql.err.MySQLError as exc:
        raise _failed(signal_table, exc) from exc


def _failed(signal_table: str, exc: Exception) -> PreflightError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return PreflightError(
        f"cannot insert the snapshot signal into {signal_table}: {first}",
        hint="run `cdc-facts preflight SPEC --fix` to create the signal table and grant INSERT",
    )
