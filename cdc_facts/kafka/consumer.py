"""The consumer of change topics: a thin, typed edge over confluent-kafka's Consumer.

The client is created on first use, never in ``__init__``. Partitions travel as plain
``(topic, partition)`` pairs; rebalances are reported to a :class:`RebalanceListener`,
which says where each newly assigned partition starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Protocol

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, Message, TopicPartition

from cdc_facts.kafka.errors import CLIENT_LOG, ErrorPolicy, kafka_error

log = logging.getLogger(__name__)

#: A partition of a topic.
Partition = tuple[str, int]

#: Consumer errors that are news, not failures: the client recovers by itself.
_QUIET: Final = frozenset({"_PARTITION_EOF"})
_WARN_ONCE: Final = frozenset({"UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION"})


class RebalanceListener(Protocol):
    """What the consumer tells about partitions coming and going."""

    def on_assign(self, partitions: list[Partition]) -> Mapping[Partition, int | None]:
        """Partitions arrive: return the offset each starts at (``None``: the committed
        offset, or the start of the partition if there is none)."""

    def on_revoke(self, partitions: list[Partition]) -> None:
        """Partitions are about to go: finish what was read from them."""

    def on_lost(self, partitions: list[Partition]) -> None:
        """Partitions are already gone (the session expired): forget what was read."""


class ChangeConsumer:
    """A consumer-group member reading change topics, with offsets committed by the caller.

    Args:
        config: the client configuration (``group.id``, ``bootstrap.servers``…).
        policy: how client errors are retried or raised.
        factory: makes the client (for tests of the wiring; confluent-kafka by default).
    """

    def __init__(self, config: Mapping[str, str], policy: ErrorPolicy | None = None,
                 factory: Callable[[dict[str, Any]], Consumer] = Consumer) -> None:
        self._config = dict(config)
        self._policy = policy or ErrorPolicy()
        self._factory = factory
        self._client: Consumer | None = None
        self._warned: set[str] = set()
        self._group_metadata: Any = None  # kept between rebalances

    @property
    def client(self) -> Consumer:
        """The confluent-kafka consumer, created on first use."""
        if self._client is None:
            self._client = self._factory({**self._config, "logger": CLIENT_LOG})
        return self._client

    def subscribe(self, topics: Iterable[str], listener: RebalanceListener) -> None:
        """Join the group for ``topics``; ``listener`` hears of every rebalance."""

        def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self.forget_group_metadata()  # a new generation
            starts = listener.on_assign([(p.topic, p.partition) for p in partitions])
            consumer.assign([_start(p, starts.get((p.topic, p.partition))) for p in partitions])

        def on_revoke(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self.forget_group_metadata()
            listener.on_revoke([(p.topic, p.partition) for p in partitions])

        def on_lost(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self.forget_group_metadata()
            listener.on_lost([(p.topic, p.partition) for p in partitions])

        self.client.subscribe(sorted(topics), on_assign=on_assign, on_revoke=on_revoke,
                              on_lost=on_lost)

    def consume(self, max_records: int, timeout_s: float) -> list[Message]:
        """Up to ``max_records`` records, waiting at most ``timeout_s`` for them.

        Records carrying a client error are left out: news the client recovers from is
        logged, a fatal error is raised.

        Raises:
            KafkaFatalError: the consumer cannot go on.
        """
        try:
            messages = self.client.consume(max_records, timeout_s)
        except KafkaException as exc:
            error = kafka_error(exc)
            action = "fatal" if error is None else self._policy.action(error)
            if action == "retry":
                log.warning("consumer: %s", exc)
                return []
            raise self._policy.exception("read change records", exc, "fatal") from exc
        if any(m.error() is not None for m in messages):
            messages = [m for m in messages if not self._is_error(m)]
        return messages

    def _is_error(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        name = error.name()
        if error.fatal() or name == "_FATAL":  # _FATAL: the client's fatal error, relayed
            raise self._policy.exception("read change records", KafkaException(error), "fatal")
        if name in _WARN_ONCE:
            if message.topic() not in self._warned:
                self._warned.add(message.topic() or "")
                log.warning("topic %s does not exist yet: waiting for it (%s)",
                            message.topic(), error.str())
        elif name not in _QUIET:
            log.warning("consumer: %s", error.str())
        return True

    def committed(self, partitions: list[Partition], timeout_s: float) -> dict[Partition,
                                                                                int | None]:
        """The committed offsets of ``partitions`` (``None`` where there is none).

        With ``isolation.level=read_committed`` this waits until no open transaction
        holds an offset commit for them, so the answer is stable.
        """
        asked = [TopicPartition(topic, partition) for topic, partition in partitions]
        found = self._policy.call("read the committed offsets",
                                  lambda: self.client.committed(asked, timeout_s))
        return {(p.topic, p.partition): (p.offset if p.offset >= 0 else None) for p in found}

    def seek(self, partition: Partition, offset: int) -> None:
        """Read ``partition`` again from ``offset``."""
        self._policy.call("rewind the consumer",
                          lambda: self.client.seek(TopicPartition(*partition, offset)))

    def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Commit ``offsets`` (the next offset to read) synchronously, outside transactions."""
        chosen = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        self._policy.call("commit offsets",
                          lambda: self.client.commit(offsets=chosen, asynchronous=False))

    def group_metadata(self) -> Any:
        """The group metadata a transaction needs to commit this consumer's offsets.

        Kept from one commit to the next: asking the client hands the question to its own
        thread and waits, about half a millisecond of each commit on a busy machine. The
        metadata (member id, generation) changes only in a rebalance, and the classic
        group protocol the service requires announces each one through a callback, which
        forgets it (as does :meth:`forget_group_metadata`). Should it still be stale, the
        broker refuses the offsets and the transaction aborts: nothing is committed twice.
        """
        metadata = self._group_metadata
        if metadata is None:
            metadata = self._group_metadata = self.client.consumer_group_metadata()
        return metadata

    def forget_group_metadata(self) -> None:
        """Ask the client for the group metadata again at the next commit."""
        self._group_metadata = None

    def lag(self, positions: Mapping[Partition, int]) -> dict[Partition, int]:
        """How many records each partition holds past ``positions``, from the high
        watermarks the client last saw (no request to the broker)."""
        lags: dict[Partition, int] = {}
        for (topic, partition), position in positions.items():
            _low, high = self.client.get_watermark_offsets(
                TopicPartition(topic, partition), cached=True)
            if high >= 0:
                lags[(topic, partition)] = max(0, high - position)
        return lags

    def close(self) -> None:
        """Leave the group (the listener hears the revocation) and close the client."""
        if self._client is not None:
            client, self._client = self._client, None
            client.close()


def _start(partition: TopicPartition, offset: int | None) -> TopicPartition:
    return TopicPartition(partition.topic, partition.partition,
                          OFFSET_INVALID if offset is None else offset)

