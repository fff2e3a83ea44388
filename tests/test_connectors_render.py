"""Rendering connector specs into Debezium configs."""

from __future__ import annotations

import re

import pytest

from cdc_facts.connectors import (
    ConnectorSpec,
    DatabaseSpec,
    pg_name,
    render,
    server_id,
    signal_collection,
    signal_table,
)
from cdc_facts.errors import ConfigError


def spec(kind: str = "postgres", **kwargs: object) -> ConnectorSpec:
    tables = kwargs.pop("tables", ("public.customers", "public.orders"))
    db = DatabaseSpec("db.internal", 5432, "cdc", "pw", kwargs.pop("db_name", "shop"))  # type: ignore[arg-type]
    return ConnectorSpec("legacy-shop", kind, db, tables, **kwargs)  # type: ignore[arg-type]


def test_postgres_defaults() -> None:
    config = render(spec())
    assert config == {
        "name": "legacy-shop",
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": "db.internal",
        "database.port": "5432",
        "database.user": "cdc",
        "database.password": "pw",
        "database.dbname": "shop",
        "topic.prefix": "legacy-shop",
        "plugin.name": "pgoutput",
        "slot.name": "legacy_shop_d1584320_slot",
        "publication.name": "legacy_shop_d1584320_pub",
        "publication.autocreate.mode": "filtered",
        "table.include.list": "public.customers,public.orders,public.debezium_signal",
        "snapshot.mode": "initial",
        "signal.data.collection": "public.debezium_signal",
        "provide.transaction.metadata": "true",
        "decimal.handling.mode": "string",
        "time.precision.mode": "adaptive_time_microseconds",
        "heartbeat.interval.ms": "10000",
        "tombstones.on.delete": "false",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "true",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    }


def test_options_win_over_defaults() -> None:
    config = render(spec(options={"slot.name": "mine", "decimal.handling.mode": "precise"}))
    assert config["slot.name"] == "mine"
    assert config["decimal.handling.mode"] == "precise"


def test_signal_table_is_configurable() -> None:
    config = render(spec(signal_table="ops.signals"))
    assert config["signal.data.collection"] == "ops.signals"
    assert config["table.include.list"].endswith(",ops.signals")


@pytest.mark.parametrize(
    ("kind", "connector_class"),
    [
        ("mariadb", "io.debezium.connector.mariadb.MariaDbConnector"),
        ("mysql", "io.debezium.connector.mysql.MySqlConnector"),
    ],
)
def test_mysql_family(kind: str, connector_class: str) -> None:
    config = render(
        spec(kind, tables=("shop.orders", "crm.accounts", "shop.lines"), db_name=None),
        kafka_bootstrap="k:9092",
    )
    assert config["connector.class"] == connector_class
    assert config["database.server.id"] == str(server_id("legacy-shop"))
    assert config["database.include.list"] == "shop,crm"
    assert config["table.include.list"] == (
        "shop.orders,crm.accounts,shop.lines,shop.debezium_signal"
    )
    assert config["schema.history.internal.kafka.bootstrap.servers"] == "k:9092"
    assert config["schema.history.internal.kafka.topic"] == "schema-history.legacy-shop"
    assert config["include.schema.changes"] == "false"
    assert "slot.name" not in config and "database.dbname" not in config


def test_a_signal_table_in_another_database_brings_its_database_in() -> None:
    config = render(spec("mariadb", tables=("inventory.products",), db_name=None,
                         signal_table="ops.debezium_signal"), kafka_bootstrap="k:9092")
    assert config["database.include.list"] == "inventory,ops"
    assert config["table.include.list"] == "inventory.products,ops.debezium_signal"


def test_mysql_needs_bootstrap() -> None:
    with pytest.raises(ConfigError) as info:
        render(spec("mysql", tables=("shop.orders",)))
    assert info.value.key == "kafka.bootstrap_servers"
    assert info.value.hint is not None and "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS" in info.value.hint


def test_mysql_bootstrap_from_options() -> None:
    key = "schema.history.internal.kafka.bootstrap.servers"
    config = render(spec("mysql", tables=("shop.orders",), options={key: "opt:9092"}))
    assert config[key] == "opt:9092"


def test_mysql_server_id_overridable() -> None:
    config = render(
        spec("mysql", tables=("shop.orders",), options={"database.server.id": "42"}),
        kafka_bootstrap="k:9092",
    )
    assert config["database.server.id"] == "42"


def test_sqlserver_and_oracle() -> None:
    sqlserver = render(spec("sqlserver", tables=("dbo.accounts",), db_name="crm"),
                       kafka_bootstrap="k:9092")
    assert sqlserver["connector.class"] == "io.debezium.connector.sqlserver.SqlServerConnector"
    assert sqlserver["database.names"] == "crm"
    assert sqlserver["signal.data.collection"] == "crm.dbo.debezium_signal"
    assert sqlserver["table.include.list"] == "dbo.accounts,dbo.debezium_signal"
    oracle = render(spec("oracle", tables=("ERP.ORDERS",), db_name="ORCLCDB"),
                    kafka_bootstrap="k:9092")
    assert oracle["connector.class"] == "io.debezium.connector.oracle.OracleConnector"
    assert oracle["database.dbname"] == "ORCLCDB"
    assert oracle["signal.data.collection"] == "ORCLCDB.ERP.DEBEZIUM_SIGNAL"


def test_oracle_signal_collection_is_named_by_the_pdb() -> None:
    oracle = spec("oracle", tables=("ERP.ORDERS",), db_name="ORCLCDB",
                  options={"database.pdb.name": "ORCLPDB1"})
    assert signal_collection(oracle) == "ORCLPDB1.ERP.DEBEZIUM_SIGNAL"
    assert render(oracle, kafka_bootstrap="k:9092")["signal.data.collection"] == \
        "ORCLPDB1.ERP.DEBEZIUM_SIGNAL"
    sqlserver = spec("sqlserver", tables=("dbo.a",), db_name="crm",
                     options={"database.pdb.name": "X"})
    assert signal_collection(sqlserver) == "crm.dbo.debezium_signal"


def test_signal_helpers() -> None:
    assert signal_table(spec()) == "public.debezium_signal"
    assert signal_collection(spec()) == "public.debezium_signal"


def test_pg_names_are_valid_identifiers() -> None:
    assert pg_name("legacy_shop_v2", "slot") == "legacy_shop_v2_slot", "kept when valid"
    changed = pg_name("Legacy-Shop.v2", "slot")
    assert changed.startswith("legacy_shop_v2_") and changed.endswith("_slot")
    assert re.fullmatch(r"[a-z0-9_]{1,63}", changed)
    long_a, long_b = pg_name("a" * 70 + "x", "pub"), pg_name("a" * 70 + "y", "pub")
    assert len(long_a) == 63 and long_a.endswith("_pub")
    assert long_a != long_b, "truncated names keep a digest so they stay distinct"


@pytest.mark.parametrize("suffix", ["slot", "pub"])
def test_distinct_connector_names_never_share_a_slot(suffix: str) -> None:
    names = ["legacy-shop", "legacy_shop", "legacy.shop", "Legacy-Shop", "Legacy_Shop"]
    rendered = {pg_name(name, suffix) for name in names}
    assert len(rendered) == len(names), rendered
    assert pg_name("legacy_shop", suffix) == f"legacy_shop_{suffix}"


def test_server_id_is_stable_and_in_range() -> None:
    ids = {server_id(f"connector-{i}") for i in range(200)}
    assert len(ids) == 200
    assert all(10_000 <= i < 2**31 for i in ids)
    assert server_id("legacy-shop") == server_id("legacy-shop")
