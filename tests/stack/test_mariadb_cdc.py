"""MariaDB -> Debezium MariaDB connector (in the real Connect worker) -> Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack.helpers import consume
from tests.stack.mariadb import connect, mariadb_capture


@pytest.fixture
def mariadb_connector(mariadb_dsn: str, mariadb_cdc_dsn: str, connect_url: str,
                      kafka_bootstrap: str) -> Iterator[dict[str, str]]:
    with mariadb_capture(mariadb_dsn, mariadb_cdc_dsn, connect_url, kafka_bootstrap) as capture:
        yield {"name": capture.name, "table": capture.table}


def test_binlog_changes_and_transaction_metadata_arrive(
    mariadb_connector: dict[str, str], mariadb_cdc_dsn: str, kafka_bootstrap: str
) -> None:
    name, table = mariadb_connector["name"], mariadb_connector["table"]
    conn = connect(mariadb_cdc_dsn)
    conn.autocommit(False)
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {table} VALUES (1, 'placed', 10.50), (2, 'placed', 3.00)")
        cur.execute(f"UPDATE {table} SET status = 'paid' WHERE id = 1")
        cur.execute(f"DELETE FROM {table} WHERE id = 2")
    conn.commit()
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {table} VALUES (3, 'placed', 99.99)")
        cur.execute(f"UPDATE {table} SET total = 100.00 WHERE id = 3")
    conn.commit()
    conn.close()
    topic, tx_topic = f"{name}.shop.{table}", f"{name}.transaction"

    def values(records: list[dict[str, Any]], t: str) -> list[dict[str, Any]]:
        return [r["value"] for r in records if r["topic"] == t and r["value"] is not None]

    def complete(records: list[dict[str, Any]]) -> bool:
        ends = [v for v in values(records, tx_topic) if v["status"] == "END"]
        return len(values(records, topic)) >= 6 and len(ends) >= 2

    records = consume(kafka_bootstrap, [topic, tx_topic], until=complete)
    changes = values(records, topic)
    assert [c["op"] for c in changes] == ["c", "c", "u", "d", "c", "u"]
    assert changes[0]["after"] == {"id": 1, "status": "placed", "total": "10.50"}
    assert changes[2]["before"] == {"id": 1, "status": "placed", "total": "10.50"}
    assert changes[2]["after"] == {"id": 1, "status": "paid", "total": "10.50"}
    assert changes[3]["before"] == {"id": 2, "status": "placed", "total": "3.00"}
    assert changes[3]["after"] is None
    sources = [c["source"] for c in changes]
    assert all(s["db"] == "shop" and s["table"] == table for s in sources)
    assert all(s["file"] and s["pos"] > 0 for s in sources)
    positions = [(s["file"], s["pos"], s["row"]) for s in sources]
    assert len(set(positions)) == 6, "each change has its own binlog position"
    tx_ids = [c["transaction"]["id"] for c in changes]
    assert len(set(tx_ids[:4])) == 1 and len(set(tx_ids[4:])) == 1 and tx_ids[0] != tx_ids[4]

    ends = {v["id"]: v for v in values(records, tx_topic) if v["status"] == "END"}
    assert ends[tx_ids[0]]["event_count"] == 4 and ends[tx_ids[4]]["event_count"] == 2
    assert ends[tx_ids[0]]["data_collections"] == [
        {"data_collection": f"shop.{table}", "event_count": 4}]
    begins = {v["id"] for v in values(records, tx_topic) if v["status"] == "BEGIN"}
    assert {tx_ids[0], tx_ids[4]} <= begins
