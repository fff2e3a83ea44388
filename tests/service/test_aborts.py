"""A transaction that fails is aborted; its records are read again; nothing repeats."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from confluent_kafka import Producer

from cdc_facts.errors import TransactionAbortedError
from cdc_facts.kafka import ChangeConsumer, Partition, TransactionalProducer
from cdc_facts.kafka.producer import Marks
from cdc_facts.service import producer_config
from cdc_facts.settings import ServiceSettings
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
