"""MariaDB -> Debezium -> Kafka -> the translator: facts from binlog changes, and the
binlog high-water marks that drop what Debezium sends twice.

After a Connect worker dies, Debezium sends again, at new offsets, the changes it had not
yet recorded as sent. Here those repeats are made exactly so: the very records the
connector wrote are appended to the change topic a second time, while no translator runs.
A new translator instance of the same group must then take the marks over from the
positions topic and drop every repeat.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from tests.service.helpers import (
    ServiceThread,
    create_topics,
    fact_counts,
    read_topic,
    read_until,
    unique,
    wait_for_facts,
)
from tests.stack.mariadb import MariaCapture, mariadb_capture

ORDERS = 12


def _mapping(directory: Path, capture: MariaCapture, facts_topic: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "orders.yaml"
    path.write_text(f"""\
domain: sales
owner: tests
source:
  connector: {capture.name}
  table: shop.{capture.table}
  key: [id]
facts:
  - name: OrderPlaced
    version: 1
    when: op = 'c'
    key: after.id
    topic: {facts_topic}
    data:
      order_id: {{expr: after.id, type: integer, nullable: false}}
      total: {{expr: after.total, type: decimal}}
  - name: OrderPaid
    version: 1
    when: op = 'u' AND before.status <> 'paid' AND after.status = 'paid'
    key: after.id
    topic: {facts_topic}
    data:
      order_id: {{expr: after.id, type: integer, nullable: false}}
""")
    return path


def _place_and_pay(capture: MariaCapture, ids: range) -> Counter[tuple[str, str]]:
    """One transaction per order: placed, then paid when its id is even."""
    expected: Counter[tuple[str, str]] = Counter()
    for i in ids:
        statements = [f"INSERT INTO {capture.table} VALUES ({i}, 'placed', {i}.25)"]
        expected[("sales.OrderPlaced.v1", str(i))] += 1
        if i % 2 == 0:
            statements.append(f"UPDATE {capture.table} SET status = 'paid' WHERE id = {i}")
            expected[("sales.OrderPaid.v1", str(i))] += 1
        capture.execute(*statements)
    return expected


def _append_again(bootstrap: str, topic: str, records: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for record in records:
        producer.produce(topic, record["raw"], record["key"], partition=record["partition"])
    assert producer.flush(30) == 0


def test_binlog_changes_become_facts_and_repeats_are_dropped_after_a_restart(
    tmp_path: Path, mariadb_dsn: str, mariadb_cdc_dsn: str, connect_url: str,
    kafka_bootstrap: str
) -> None:
    facts_topic, group = unique("facts"), unique("grp")
    with mariadb_capture(mariadb_dsn, mariadb_cdc_dsn, connect_url, kafka_bootstrap) as capture:
        mappings = _mapping(tmp_path / "mappings", capture, facts_topic)
        create_topics(kafka_bootstrap, [capture.topic], 1)  # the translator subscribes to it
        with ServiceThread(mappings, group, kafka_bootstrap) as first:
            first.wait_ready()
            expected = _place_and_pay(capture, range(1, ORDERS + 1))
            facts = wait_for_facts(kafka_bootstrap, facts_topic, expected, check=first.check)
        assert fact_counts(facts) == expected

        changes = [r for r in read_topic(kafka_bootstrap, capture.topic) if r["raw"]]
        assert len(changes) == ORDERS + ORDERS // 2
        assert all(c["value"]["source"]["file"] and c["value"]["source"]["pos"] > 0
                   for c in changes)
        _append_again(kafka_bootstrap, capture.topic, changes)

        with ServiceThread(mappings, group, kafka_bootstrap) as second:
            second.wait_ready()
            expected += _place_and_pay(capture, range(ORDERS + 1, ORDERS + 3))
            wait_for_facts(kafka_bootstrap, facts_topic, expected, check=second.check)
            dropped = second.service.metrics.value(
                "cdc_facts_duplicates_dropped_total", table=f"shop.{capture.table}")
        appended = read_until(kafka_bootstrap, capture.topic, 2 * len(changes) + 3)

    facts = read_topic(kafka_bootstrap, facts_topic)
    assert fact_counts(facts) == expected, "a repeat made a fact, or a change made none"
    assert len({f["value"]["id"] for f in facts}) == len(facts)
    assert dropped == len(changes)
    assert len([r for r in appended if r["raw"]]) == 2 * len(changes) + 3
    order_ids = [f["value"]["data"]["order_id"] for f in facts
                 if f["value"]["type"] == "sales.OrderPlaced.v1"]
    assert order_ids == list(range(1, ORDERS + 3))
    assert facts[0]["value"]["data"]["total"] == "1.25"
