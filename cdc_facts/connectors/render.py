"""Render a :class:`~cdc_facts.connectors.spec.ConnectorSpec` into a Debezium config.

The defaults suit facts (docs/connectors.md says why for each): exact decimals as strings,
microsecond times, JSON with schemas so the decoder knows each field's logical type,
transaction metadata, heartbeats, a signal table for ad hoc snapshots and no tombstones.
The spec's ``options`` win over every default.

>>> from cdc_facts.connectors.spec import ConnectorSpec, DatabaseSpec
>>> spec = ConnectorSpec("legacy-shop", "postgres", DatabaseSpec("db", 5432, "cdc", "pw", "shop"),
...                      ("public.orders",))
>>> config = render(spec)
>>> config["slot.name"], config["table.include.list"]
('legacy_shop_d1584320_slot', 'public.orders,public.debezium_signal')
"""

from __future__ import annotations

import hashlib
import re
import zlib

from cdc_facts.connectors.spec import ConnectorSpec
from cdc_facts.errors import ConfigError

CONNECTOR_CLASSES: dict[str, str] = {
    "postgres": "io.debezium.connector.postgresql.PostgresConnector",
    "mariadb": "io.debezium.connector.mariadb.MariaDbConnector",
    "mysql": "io.debezium.connector.mysql.MySqlConnector",
    "sqlserver": "io.debezium.connector.sqlserver.SqlServerConnector",
    "oracle": "io.debezium.connector.oracle.OracleConnector",
}
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
SIGNAL_TABLE = "debezium_signal"
BOOTSTRAP_KEY = "schema.history.internal.kafka.bootstrap.servers"
_PG_MAX_NAME = 63


def render(spec: ConnectorSpec, *, kafka_bootstrap: str | None = None) -> dict[str, str]:
    """The full Connect configuration for ``spec``, options applied last.

    Args:
        spec: A validated connector spec.
        kafka_bootstrap: Kafka bootstrap servers, for the schema history topic that the
            MySQL, MariaDB, SQL Server and Oracle connectors keep.

    Raises:
        ConfigError: The connector needs ``kafka_bootstrap`` and neither it nor the
            ``schema.history.internal.kafka.bootstrap.servers`` option is given.
    """
    config = _common(spec)
    config.update(_BY_KIND[spec.kind](spec))
    if spec.kind != "postgres":
        config.update(_schema_history(spec, kafka_bootstrap))
    config.update(spec.options)
    return config


def signal_table(spec: ConnectorSpec) -> str:
    """``schema.table`` of the signal table (``database.table`` for MySQL/MariaDB)."""
    if spec.signal_table:
        return spec.signal_table
    name = SIGNAL_TABLE.upper() if spec.kind == "oracle" else SIGNAL_TABLE
    return f"{spec.schemas[0]}.{name}"


def signal_collection(spec: ConnectorSpec) -> str:
    """The ``signal.data.collection`` value: the signal table as Debezium names it.

    SQL Server and Oracle name tables ``<database>.<schema>.<table>``; with a pluggable
    database (the ``database.pdb.name`` option), Oracle names them by the PDB.
    """
    table = signal_table(spec)
    database = spec.database.name
    if spec.kind == "oracle":
        database = spec.options.get("database.pdb.name") or database
    if spec.kind in ("sqlserver", "oracle") and database:
        return f"{database}.{table}"
    return table


def pg_name(text: str, suffix: str) -> str:
    """A PostgreSQL slot or publication name: lower case, ``[a-z0-9_]``, at most 63 bytes.

    A name that had to change (lower-cased, characters replaced, or shortened) carries a
    digest of the original, so that distinct connector names never share a slot.

    >>> pg_name("legacy_shop", "slot")
    'legacy_shop_slot'
    >>> pg_name("legacy-shop", "slot"), pg_name("Legacy_Shop", "slot")
    ('legacy_shop_d1584320_slot', 'legacy_shop_6dc786c5_slot')
    >>> len(pg_name("x" * 80, "slot"))
    63
    """
    base = re.sub(r"[^a-z0-9_]", "_", text.lower())
    name = f"{base}_{suffix}"
    if base == text and len(name) <= _PG_MAX_NAME:
        return name
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    keep = _PG_MAX_NAME - len(suffix) - len(digest) - 2
    return f"{base[:keep]}_{digest}_{suffix}"


def server_id(name: str) -> int:
    """A MySQL replica ``server_id`` derived from the connector name: stable, in 10000..2^31.

    >>> server_id("legacy-shop") == server_id("legacy-shop")
    True
    """
    return 10_000 + zlib.crc32(name.encode()) % (2**31 - 10_000)


def _common(spec: ConnectorSpec) -> dict[str, str]:
    db = spec.database
    return {
        "name": spec.name,
        "connector.class": CONNECTOR_CLASSES[spec.kind],
        "tasks.max": "1",
        "database.hostname": db.host,
        "database.port": str(db.port),
        "database.user": db.user,
        "database.password": db.password,
        "topic.prefix": spec.name,
        "table.include.list": ",".join([*spec.tables, signal_table(spec)]),
        "snapshot.mode": spec.snapshot,
        "signal.data.collection": signal_collection(spec),
        "provide.transaction.metadata": "true",
        "decimal.handling.mode": "string",
        "time.precision.mode": "adaptive_time_microseconds",
        "heartbeat.interval.ms": "10000",
        "tombstones.on.delete": "false",
        "key.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": "true",
        "value.converter": JSON_CONVERTER,
        "value.converter.schemas.enable": "true",
    }


def _postgres(spec: ConnectorSpec) -> dict[str, str]:
    return {
        "database.dbname": spec.database.name or "",
        "plugin.name": "pgoutput",
        "slot.name": pg_name(spec.name, "slot"),
        "publication.name": pg_name(spec.name, "pub"),
        "publication.autocreate.mode": "filtered",
    }


def _mysql(spec: ConnectorSpec) -> dict[str, str]:
    # the signal table's database too: Debezium reads no table of a database left out
    signals = signal_table(spec).split(".", 1)[0]
    return {
        "database.server.id": str(server_id(spec.name)),
        "database.include.list": ",".join(dict.fromkeys([*spec.schemas, signals])),
        "include.schema.changes": "false",
    }


def _sqlserver(spec: ConnectorSpec) -> dict[str, str]:
    return {"database.names": spec.database.name or "", "include.schema.changes": "false"}


def _oracle(spec: ConnectorSpec) -> dict[str, str]:
    return {"database.dbname": spec.database.name or "", "include.schema.changes": "false"}


def _schema_history(spec: ConnectorSpec, kafka_bootstrap: str | None) -> dict[str, str]:
    bootstrap = spec.options.get(BOOTSTRAP_KEY) or kafka_bootstrap
    if not bootstrap:
        raise ConfigError(
            f"connector `{spec.name}` ({spec.kind}) keeps its schema history in Kafka and "
            "needs the Kafka bootstrap servers",
            hint="pass --kafka-bootstrap, set CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS (or "
            f"CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS), or set the `{BOOTSTRAP_KEY}` option in the "
            "spec",
            key="kafka.bootstrap_servers",
        )
    return {
        BOOTSTRAP_KEY: bootstrap,
        "schema.history.internal.kafka.topic": f"schema-history.{spec.name}",
    }


_BY_KIND = {
    "postgres": _postgres,
    "mariadb": _mysql,
    "mysql": _mysql,
    "sqlserver": _sqlserver,
    "oracle": _oracle,
}
