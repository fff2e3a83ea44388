"""MariaDB captured by the real Debezium MariaDB connector, for tests against the stack."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import pymysql

from cdc_facts.connect.client import ConnectClient
from tests.stack.helpers import remove_connector, unique


def connect(dsn: str) -> pymysql.connections.Connection:  # type: ignore[type-arg]
    """An autocommit connection to the database a ``mysql://`` DSN names."""
    url = urlsplit(dsn)
    return pymysql.connect(host=url.hostname, port=url.port or 3306, user=url.username,
                           password=url.password or "", database=url.path.lstrip("/"),
                           autocommit=True)


def wait_binlog_reader(root_dsn: str, timeout: float = 60) -> None:
    """The connector streams once the cdc user holds a binlog dump connection."""
    deadline = time.monotonic() + timeout
    conn = connect(root_dsn)
    try:
        while time.monotonic() < deadline:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                            "WHERE USER = 'cdc' AND COMMAND LIKE 'Binlog Dump%'")
                row = cur.fetchone()
            if row and row[0]:
                return
            time.sleep(0.5)
    finally:
        conn.close()
    raise AssertionError("the MariaDB connector never started reading the binlog")


@dataclass(frozen=True)
class MariaCapture:
    """One table of database ``shop``, captured by one connector."""

    name: str
    table: str
    cdc_dsn: str

    @property
    def topic(self) -> str:
        return f"{self.name}.shop.{self.table}"

    def execute(self, *statements: str) -> None:
        """Run the statements in one transaction, as the ``cdc`` user."""
        conn = connect(self.cdc_dsn)
        try:
            conn.begin()
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
            conn.commit()
        finally:
            conn.close()


def connector_config(name: str, table: str, cdc_dsn: str, bootstrap: str) -> dict[str, str]:
    cdc = urlsplit(cdc_dsn)
    return {
        "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
        "database.hostname": str(cdc.hostname), "database.port": str(cdc.port),
        "database.user": str(cdc.username), "database.password": str(cdc.password),
        "database.server.id": str(10_000 + zlib.crc32(name.encode()) % 100_000),
        "topic.prefix": name, "database.include.list": "shop",
        "table.include.list": f"shop.{table}", "snapshot.mode": "no_data",
        "provide.transaction.metadata": "true", "decimal.handling.mode": "string",
        "schema.history.internal.kafka.bootstrap.servers": bootstrap,
        "schema.history.internal.kafka.topic": f"schema-history.{name}",
        "include.schema.changes": "false",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false",
    }


@contextmanager
def mariadb_capture(root_dsn: str, cdc_dsn: str, connect_url: str,
                    bootstrap: str) -> Iterator[MariaCapture]:
    """Create an orders table in ``shop``, capture it with a fresh connector that streams
    from now on; drop both afterwards."""
    name = unique("it_maria")
    table = f"orders_{name}"
    conn = connect(root_dsn)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE shop.{table} (id INT PRIMARY KEY, status VARCHAR(20) "
                    "NOT NULL, total DECIMAL(10,2))")
    conn.close()
    client = ConnectClient(connect_url)
    try:
        client.put_config(name, connector_config(name, table, cdc_dsn, bootstrap))
        client.wait_running(name, timeout=120)
        wait_binlog_reader(root_dsn)
        yield MariaCapture(name, table, cdc_dsn)
    finally:
        remove_connector(client, name)
        conn = connect(root_dsn)
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS shop.{table}")
        conn.close()
