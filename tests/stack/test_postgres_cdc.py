"""PostgreSQL -> Debezium (in the real Connect worker) -> Kafka, read with confluent-kafka."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from cdc_facts.connect.client import ConnectClient
from cdc_facts.preflight import admin_params
from cdc_facts.preflight.slots import drop_slot_and_publication
from tests.stack.helpers import (
    consume,
    dsn_parts,
    remove_connector,
    unique,
    wait_slot_active,
)


@pytest.fixture
def pg_connector(pg_dsn: str, pg_cdc_dsn: str, connect_url: str) -> Iterator[dict[str, str]]:
    """A table owned by the cdc role and a Debezium PostgreSQL connector capturing it."""
    name = unique("it_pg")
    table = f"orders_{name}"
    with psycopg.connect(pg_cdc_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, status text NOT NULL, "
                     "total numeric(10,2))")
        conn.execute(f"ALTER TABLE public.{table} REPLICA IDENTITY FULL")
    db = dsn_parts(pg_cdc_dsn)
    config = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": db["host"], "database.port": str(db["port"]),
        "database.user": db["user"], "database.password": db["password"],
        "database.dbname": db["dbname"], "topic.prefix": name,
        "plugin.name": "pgoutput", "publication.autocreate.mode": "filtered",
        "publication.name": f"{name}_pub", "slot.name": f"{name}_slot",
        "table.include.list": f"public.{table}", "snapshot.mode": "no_data",
        "provide.transaction.metadata": "true", "decimal.handling.mode": "string",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false",
    }
    client = ConnectClient(connect_url)
    client.put_config(name, config)
    client.wait_running(name, timeout=120)
    wait_slot_active(pg_dsn, f"{name}_slot")
    yield {"name": name, "table": table}
    remove_connector(client, name)
    drop_slot_and_publication(admin_params("postgres", pg_dsn), f"{name}_slot", f"{name}_pub")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS public.{table}")


def _changes(records: list[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    return [r["value"] for r in records if r["topic"] == topic and r["value"] is not None]


def test_changes_and_transaction_metadata_arrive(
    pg_connector: dict[str, str], pg_cdc_dsn: str, kafka_bootstrap: str
) -> None:
    name, table = pg_connector["name"], pg_connector["table"]
    with psycopg.connect(pg_cdc_dsn) as conn:
        with conn.transaction():
            conn.execute(f"INSERT INTO {table} VALUES (1, 'placed', 10.50), (2, 'placed', 3.00)")
            conn.execute(f"UPDATE {table} SET status = 'paid' WHERE id = 1")
            conn.execute(f"DELETE FROM {table} WHERE id = 2")
        tx1 = conn.execute("SELECT 1").fetchone()
        with conn.transaction():
            conn.execute(f"INSERT INTO {table} VALUES (3, 'placed', 99.99)")
            conn.execute(f"UPDATE {table} SET total = 100.00 WHERE id = 3")
    assert tx1 is not None
    topic, tx_topic = f"{name}.public.{table}", f"{name}.transaction"

    def complete(records: list[dict[str, Any]]) -> bool:
        ends = [r for r in records if r["topic"] == tx_topic and r["value"]
                and r["value"]["status"] == "END"]
        return len(_changes(records, topic)) >= 6 and len(ends) >= 2

    records = consume(kafka_bootstrap, [topic, tx_topic], until=complete)
    changes = _changes(records, topic)
    assert [c["op"] for c in changes] == ["c", "c", "u", "d", "c", "u"]
    assert changes[0]["after"] == {"id": 1, "status": "placed", "total": "10.50"}
    assert changes[2]["before"] == {"id": 1, "status": "placed", "total": "10.50"}
    assert changes[2]["after"] == {"id": 1, "status": "paid", "total": "10.50"}
    assert changes[3]["before"] == {"id": 2, "status": "placed", "total": "3.00"}
    assert changes[3]["after"] is None
    assert changes[5]["after"]["total"] == "100.00"
    # a tombstone follows the delete, keyed by the deleted row
    assert any(r["topic"] == topic and r["value"] is None and r["key"] == {"id": 2}
               for r in records)
    lsns = [c["source"]["lsn"] for c in changes]
    assert all(isinstance(lsn, int) for lsn in lsns) and lsns == sorted(lsns)
    tx_ids = [c["source"]["txId"] for c in changes]
    assert len(set(tx_ids[:4])) == 1 and len(set(tx_ids[4:])) == 1 and tx_ids[0] != tx_ids[4]
    assert all(c["transaction"]["id"].startswith(str(c["source"]["txId"])) for c in changes)

    tx = [r["value"] for r in records if r["topic"] == tx_topic and r["value"]]
    begins = [t for t in tx if t["status"] == "BEGIN"]
    ends = [t for t in tx if t["status"] == "END"]
    assert len(begins) >= 2 and len(ends) >= 2
    # PostgreSQL transaction ids read "<txId>:<lsn>"; BEGIN and END carry different LSNs
    by_txid = {t["id"].split(":")[0]: t for t in ends}
    first, second = by_txid[str(tx_ids[0])], by_txid[str(tx_ids[4])]
    assert {t["id"].split(":")[0] for t in begins} >= {str(tx_ids[0]), str(tx_ids[4])}
    assert first["event_count"] == 4 and second["event_count"] == 2
    assert first["data_collections"] == [
        {"data_collection": f"public.{table}", "event_count": 4}]
