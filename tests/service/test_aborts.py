"""A transaction that fails is aborted; its records are read again; nothing repeats."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from cdc_facts.errors import TransactionAbortedError
from cdc_facts.kafka import ChangeConsumer, Partition, TransactionalProducer
from cdc_facts.kafka.producer import Marks
from cdc_facts.service import producer_config
from cdc_facts.settings import ServiceSettings, load_settings
from tests.service.helpers import (
    ServiceThread,
    create_topics,
    fact_counts,
    orders_mapping,
    read_topic,
    read_until,
    unique,
)


class FailingOnce(TransactionalProducer):
    """A real transactional producer whose first commit fails, as when the broker answers
    that the transaction must be aborted: its records are produced, but never committed."""

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(producer_config(settings))
        self.failed = False

    def commit(self, offsets: Mapping[Partition, int], consumer: ChangeConsumer, *,
               marks: Marks = ()) -> None:
        if not self.failed:
            self.failed = True
            self.client.flush(10)  # the facts reach the broker, inside the transaction
            raise TransactionAbortedError("the broker asked to abort (injected)")
        super().commit(offsets, consumer, marks=marks)


def _change(connector: str, order: int) -> bytes:
    lsn = 1000 + order * 10
    return json.dumps({
        "op": "c", "before": None, "ts_ms": 1,
        "after": {"id": order, "status": "placed", "total_cents": order * 100, "qty": 1},
        "source": {"name": connector, "schema": "public", "table": "orders", "lsn": lsn,
                   "sequence": f'["{lsn - 5}","{lsn}"]', "ts_ms": 1}}).encode()


def test_an_aborted_transaction_is_read_again_and_its_facts_appear_once(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    connector, facts_topic = unique("abort"), unique("facts")
    topic = f"{connector}.public.orders"
    create_topics(kafka_bootstrap, [topic], 2)
    mappings = orders_mapping(tmp_path, connector, "orders", facts_topic)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    with ServiceThread(mappings, unique("grp"), kafka_bootstrap, producer=FailingOnce,
                       commit_interval_ms=5000, batch_size=100_000) as running:
        running.wait_ready()
        for order in range(1, 31):
            producer.produce(topic, _change(connector, order), b'{"id": %d}' % order)
        producer.flush(10)
        facts = read_until(kafka_bootstrap, facts_topic, 30)
        metrics = running.service.metrics
        aborts = metrics.value("cdc_facts_transaction_aborts_total")
        placed = metrics.value("cdc_facts_facts_produced_total", type="sales.OrderPlaced.v1")

    assert fact_counts(facts) == {("sales.OrderPlaced.v1", str(n)): 1 for n in range(1, 31)}
    assert aborts == 1 and placed == 30
    everything = read_topic(kafka_bootstrap, facts_topic)  # still nothing more, committed
    assert len(everything) == 30


def test_a_record_the_broker_refuses_fails_the_commit_and_nothing_of_it_is_visible(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    """The producer adds the offsets without flushing first: commit_transaction delivers
    the records, and a delivery that fails must still fail the commit (then the transaction
    is aborted), never commit the records that did arrive."""
    facts_topic, small = unique("facts"), unique("small")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([
            NewTopic(facts_topic, 1, 1),
            NewTopic(small, 1, 1, config={"max.message.bytes": "1000"})]).values():
        future.result()
    mappings = orders_mapping(tmp_path, unique("refused"), "orders", facts_topic)
    settings = load_settings({"mappings": (str(mappings),), "group_id": unique("grp"),
                              "bootstrap_servers": kafka_bootstrap}, environ={})
    producer = TransactionalProducer(producer_config(settings))
    try:
        producer.start()
        producer.begin()
        producer.produce(facts_topic, b"1", b'{"n": "refused with its transaction"}')
        producer.produce(small, b"2", b"x" * 5000)  # over the topic's max.message.bytes
        with pytest.raises(TransactionAbortedError, match="(?i)too large"):
            producer.commit({}, None,  # type: ignore[arg-type]  # no offsets: not read
                            marks=[(facts_topic, b"m", b'{"n": "mark"}')])
        producer.abort()
        producer.begin()
        producer.produce(facts_topic, b"3", b'{"n": "committed"}')
        producer.commit({}, None)  # type: ignore[arg-type]
    finally:
        producer.close()
    assert [r["value"] for r in read_topic(kafka_bootstrap, facts_topic)] == [
        {"n": "committed"}]
