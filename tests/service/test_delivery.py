"""The at-least-once producer on the real broker: its client reports only failed
deliveries, and a record the broker refuses still fails the commit."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from cdc_facts.errors import KafkaUnavailableError
from cdc_facts.kafka import AtLeastOnceProducer, ChangeConsumer
from tests.service.helpers import read_topic, unique


def test_a_record_the_broker_refuses_fails_the_at_least_once_commit(
    kafka_bootstrap: str
) -> None:
    topic = unique("small")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    created = admin.create_topics([NewTopic(topic, 1, 1, config={"max.message.bytes": "1000"})])
    created[topic].result()
    no_offsets = ChangeConsumer({})  # offsets {}: the consumer is never called
    producer = AtLeastOnceProducer({"bootstrap.servers": kafka_bootstrap})
    try:
        producer.produce(topic, b"k", b"x" * 100)
        producer.commit({}, no_offsets)
        producer.produce(topic, b"k", b"x" * 5000)  # more than the topic takes
        with pytest.raises(KafkaUnavailableError,
                           match="could not deliver the batch: Broker: Message size too large"):
            producer.commit({}, no_offsets)
        with pytest.raises(KafkaUnavailableError, match="could not deliver the high-water marks"):
            producer.commit({}, no_offsets, marks=[(topic, b"mark", b"x" * 5000)])
        producer.produce(topic, b"k", b"x" * 100)  # a failure is reported once
        producer.commit({}, no_offsets)
    finally:
        producer.close()
    assert [record["key"] for record in read_topic(kafka_bootstrap, topic)] == [b"k", b"k"]
