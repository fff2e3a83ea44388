"""Kafka transactions on the local broker: committed records are visible, aborted ones not."""

from __future__ import annotations

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.stack.helpers import consume, unique


def test_read_committed_sees_only_committed_transactions(kafka_bootstrap: str) -> None:
    topic = unique("it_txn")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result()
    producer = Producer({"bootstrap.servers": kafka_bootstrap,
                         "transactional.id": unique("txn"), "enable.idempotence": True})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"1", value=b'{"n": "committed"}')
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"2", value=b'{"n": "aborted"}')
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"3", value=b'{"n": "committed-later"}')
    producer.commit_transaction(30)

    committed = consume(kafka_bootstrap, [topic], isolation="read_committed",
                        until=lambda rs: any(r["value"]["n"] == "committed-later" for r in rs))
    assert [r["value"]["n"] for r in committed] == ["committed", "committed-later"]

    everything = consume(kafka_bootstrap, [topic], isolation="read_uncommitted",
                         until=lambda rs: len(rs) >= 3)
    assert [r["value"]["n"] for r in everything] == ["committed", "aborted", "committed-later"]
