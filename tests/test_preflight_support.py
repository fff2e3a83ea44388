"""Support (no tests) for the preflight and connector tests against the real databases.

Each test module gets its own database and login role, so tests never collide with other
suites; each test its own schema, connector name and mapping files.
"""

from __future__ import annotations

import secrets
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pymysql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.stack.helpers import unique


@dataclass(frozen=True)
class PgDatabase:
    """A scratch database with its own login role (not the owner of the tables)."""

    admin_dsn: str
    host: str
    port: int
    name: str
    user: str
    password: str

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_dsn, autocommit=True)

    def env(self) -> dict[str, str]:
        return {"PF_DB_PASSWORD": self.password}


@contextmanager
def pg_database(root_dsn: str, *, replication: bool = True) -> Iterator[PgDatabase]:
    """Create a database and a role; drop both (and the database's slots) afterwards."""
    params = conninfo_to_dict(root_dsn)
    name, user, password = unique("cdcf_pf"), unique("cdcf_u"), secrets.token_hex(12)
    with psycopg.connect(root_dsn, autocommit=True) as root:
        root.execute(f'CREATE DATABASE "{name}"'.encode())
        rep = "REPLICATION" if replication else "NOREPLICATION"
        root.execute(f"CREATE ROLE \"{user}\" LOGIN {rep} PASSWORD '{password}'".encode())
    db = PgDatabase(make_conninfo(root_dsn, dbname=name), str(params.get("host", "127.0.0.1")),
                    int(params.get("port", 5432)), name, user, password)
    try:
        yield db
    finally:
        drop_pg_database(root_dsn, db)


def drop_pg_database(root_dsn: str, db: PgDatabase) -> None:
    with psycopg.connect(root_dsn, autocommit=True) as root:
        for (slot,) in root.execute(
            "SELECT slot_name FROM pg_replication_slots WHERE database = %s", (db.name,)
        ).fetchall():
            root.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                         "WHERE slot_name = %s AND active_pid IS NOT NULL", (slot,))
            root.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
        root.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'.encode())
        root.execute(f'DROP OWNED BY "{db.user}"'.encode())
        root.execute(f'DROP ROLE IF EXISTS "{db.user}"'.encode())


def create_orders(db: PgDatabase, schema: str, *, identity: str = "DEFAULT",
                  grant: bool = True) -> None:
    """``<schema>.orders (id pk, status text, note text, total numeric(10,2))``."""
    with db.admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"'.encode())
        conn.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{db.user}"'.encode())
        conn.execute(f'CREATE TABLE "{schema}".orders (id bigint PRIMARY KEY, status text NOT '
                     "NULL, note text, total numeric(10, 2))".encode())
        conn.execute(f'ALTER TABLE "{schema}".orders REPLICA IDENTITY {identity}'.encode())
        if grant:
            conn.execute(f'GRANT SELECT ON "{schema}".orders TO "{db.user}"'.encode())


def write_pg_spec(path: Path, db: PgDatabase, name: str, tables: list[str], *,
                  password: str = "${PF_DB_PASSWORD}", extra: str = "") -> Path:
    path.write_text(textwrap.dedent(f"""\
        name: {name}
        kind: postgres
        database:
          host: {db.host}
          port: {db.port}
          name: {db.name}
          user: {db.user}
          password: {password}
        tables: [{", ".join(tables)}]
        snapshot: initial
        """) + extra)
    return path


def write_mapping(directory: Path, connector: str, table: str, *, when: str,
                  data: str = "status: {expr: after.status, type: string}",
                  before_image: str = "full") -> Path:
    """One mapping file with one rule, ``StatusChanged``, over ``table``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{table.replace('.', '_')}.yaml"
    path.write_text(textwrap.dedent(f"""\
        domain: sales
        owner: sales-data-team
        source:
          connector: {connector}
          table: {table}
          before_image: {before_image}
        facts:
          - name: StatusChanged
            version: 1
            when: "{when}"
            key: after.id
            data:
              {data}
        """))
    return path


# --- MariaDB -----------------------------------------------------------------------------


def mysql_params(dsn: str) -> dict[str, Any]:
    url = urlsplit(dsn)
    return {"host": url.hostname, "port": url.port or 3306, "user": url.username,
            "password": url.password or ""}


@dataclass(frozen=True)
class MyDatabase:
    """A scratch MariaDB database and a login user with the grants Debezium needs."""

    root: dict[str, Any]
    name: str
    user: str
    password: str

    def admin(self) -> Any:
        return pymysql.connect(autocommit=True, database=self.name, **self.root)

    def env(self) -> dict[str, str]:
        return {"PF_DB_PASSWORD": self.password}


@contextmanager
def my_database(root_dsn: str, *, grants: str = "SELECT, RELOAD, SHOW DATABASES, "
                "REPLICATION SLAVE, REPLICATION CLIENT") -> Iterator[MyDatabase]:
    root = mysql_params(root_dsn)
    name, user, password = unique("cdcf_pf"), unique("cdcf_u"), secrets.token_hex(12)
    conn = pymysql.connect(autocommit=True, **root)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            cur.execute(f"GRANT {grants} ON *.* TO '{user}'@'%'")
        yield MyDatabase(root, name, user, password)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        conn.close()


def write_my_spec(path: Path, db: MyDatabase, name: str, tables: list[str],
                  kind: str = "mariadb") -> Path:
    path.write_text(textwrap.dedent(f"""\
        name: {name}
        kind: {kind}
        database:
          host: {db.root["host"]}
          port: {db.root["port"]}
          user: {db.user}
          password: ${{PF_DB_PASSWORD}}
        tables: [{", ".join(tables)}]
        """))
    return path
