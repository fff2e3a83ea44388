"""The consumer's group metadata is kept between rebalances, and asked for again after
each one, or after the broker refused a transaction's offsets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from cdc_facts.errors import TransactionAbortedError
from cdc_facts.kafka.consumer import ChangeConsumer, Partition
from cdc_facts.kafka.producer import TransactionalProducer


class _Client:
    """A fake consumer client: each metadata it hands out is a new generation."""

    def __init__(self) -> None:
        self.generation = 0
        self.callbacks: dict[str, Callable[..., None]] = {}

    def consumer_group_metadata(self) -> int:
        self.generation += 1
        return self.generation

    def subscribe(self, _topics: list[str], **callbacks: Callable[..., None]) -> None:
        self.callbacks = callbacks

    def assign(self, _partitions: list[TopicPartition]) -> None:
        pass


class _Listener:
    def __init__(self, consumer: ChangeConsumer) -> None:
        self.consumer = consumer
        self.seen: list[tuple[str, Any]] = []  # the metadata a commit inside would use

    def on_assign(self, partitions: list[Partition]) -> dict[Partition, int | None]:
        self.seen.append(("assign", self.consumer.group_metadata()))
        return {}

    def on_revoke(self, partitions: list[Partition]) -> None:
        self.seen.append(("revoke", self.consumer.group_metadata()))

    def on_lost(self, partitions: list[Partition]) -> None:
        self.seen.append(("lost", self.consumer.group_metadata()))


def _subscribed() -> tuple[ChangeConsumer, _Client, _Listener]:
    client = _Client()
    consumer = ChangeConsumer({}, factory=lambda _config: client)  # type: ignore[arg-type,return-value]
    listener = _Listener(consumer)
    consumer.subscribe(["changes"], listener)
    return consumer, client, listener


def test_the_metadata_is_asked_for_once_between_rebalances() -> None:
    consumer, client, _ = _subscribed()
    assert [consumer.group_metadata() for _ in range(3)] == [1, 1, 1]
    assert client.generation == 1


def test_every_rebalance_callback_asks_for_the_metadata_again() -> None:
    consumer, client, listener = _subscribed()
    assert consumer.group_metadata() == 1
    parts = [TopicPartition("changes", 0)]
    for name in ("on_revoke", "on_assign", "on_lost"):
        client.callbacks[name](client, parts)
    # each callback (and a commit inside it) sees the metadata of the moment
    assert listener.seen == [("revoke", 2), ("assign", 3), ("lost", 4)]
    assert consumer.group_metadata() == 4  # and it is kept again afterwards


class _TxnClient:
    """A transactional client whose ``send_offsets_to_transaction`` may be refused."""

    def __init__(self, refuse: list[bool]) -> None:
        self.refuse = refuse
        self.sent: list[Any] = []

    def init_transactions(self, _timeout: float) -> None:
        pass

    def begin_transaction(self) -> None:
        pass

    def send_offsets_to_transaction(self, _offsets: object, metadata: Any,
                                    _timeout: float) -> None:
        self.sent.append(metadata)
        if self.refuse.pop(0):
            raise KafkaException(KafkaError(KafkaError.ILLEGAL_GENERATION, "stale generation",
                                            txn_requires_abort=True))

    def commit_transaction(self, _timeout: float) -> None:
        pass

    def abort_transaction(self, _timeout: float) -> None:
        pass


def test_offsets_refused_make_the_next_commit_ask_for_the_metadata_again() -> None:
    consumer, _, _ = _subscribed()
    client = _TxnClient(refuse=[False, True, False, False])
    producer = TransactionalProducer({}, factory=lambda _config: client)  # type: ignore[arg-type,return-value]
    producer.start()
    offsets = {("changes", 0): 5}
    producer.begin()
    producer.commit(offsets, consumer)
    producer.begin()
    with pytest.raises(TransactionAbortedError):
        producer.commit(offsets, consumer)
    producer.abort()
    for _ in range(2):
        producer.begin()
        producer.commit(offsets, consumer)
    # kept for the second commit; asked for again after the refusal, then kept
    assert client.sent == [1, 1, 2, 2]
