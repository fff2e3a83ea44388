"""The committed high-water marks, read back from the compacted positions topic.

Each instance writes the marks it moves into the positions topic, in the same transaction
as the facts and the consumer offsets. When partitions come to an instance, it reads the
topic up to its current end: every mark the previous owner committed is then known.
Reading with ``read_committed`` waits for transactions still open there (at most the
transaction timeout, for an instance that died with one open).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from cdc_facts.errors import KafkaUnavailableError, StopRequested
from cdc_facts.kafka.admin import TopicAdmin
from cdc_facts.kafka.errors import CLIENT_LOG, ErrorPolicy
from cdc_facts.kafka.positions import HighWaterMark, MarkKey, decode_mark

log = logging.getLogger(__name__)


class PositionStore:
    """Reads the positions topic and keeps the latest mark of every key.

    Args:
        config: a consumer configuration (``bootstrap.servers``, security…); it is
            assigned the topic's partitions, never joins its ``group.id`` (default
            ``<topic>.reader``) and never commits.
        topic: the positions topic.
        admin: finds the topic's partitions and their ends.
        policy: how client errors are retried or raised.
        timeout_s: how long one refresh may wait for open transactions.
        factory: makes the client (confluent-kafka by default).
    """

    def __init__(self, config: Mapping[str, str], topic: str, admin: TopicAdmin,
                 policy: ErrorPolicy | None = None, *, timeout_s: float = 60.0,
                 factory: Callable[[dict[str, Any]], Consumer] = Consumer,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._config: dict[str, Any] = {
            "group.id": f"{topic}.reader", **config, "isolation.level": "read_committed",
            "enable.auto.commit": False, "enable.partition.eof": False,
            "auto.offset.reset": "earliest"}
        self.topic = topic
        self._admin = admin
        self._policy = policy or ErrorPolicy()
        self._timeout_s = timeout_s
        self._factory = factory
        self._clock = clock
        self._client: Consumer | None = None
        self._partitions: list[tuple[str, int]] = []
        self._marks: dict[MarkKey, HighWaterMark] = {}

    def refresh(self) -> None:
        """Read the topic up to its current end.

        Raises:
            KafkaUnavailableError: the end was not reached within the timeout (a
                transaction stays open, or the broker does not answer).
        """
        client = self._reader()
        ends = {tp: end for tp, end in self._admin.end_offsets(self._partitions).items()
                if end > 0}
        deadline = self._clock() + self._timeout_s
        while not self._reached(client, ends):
            if self._policy.stopped():
                raise StopRequested(f"stopped while reading the positions topic {self.topic}")
            if self._clock() > deadline:
                raise KafkaUnavailableError(
                    f"could not read the positions topic {self.topic} up to its end within "
                    f"{self._timeout_s:.0f} s",
                    hint="a transaction of another instance is still open, or the broker is "
                    "slow: the service tries again")
            for message in client.consume(500, 0.2):
                self._apply(message)

    def marks(self, partitions: Iterable[tuple[str, int]]) -> dict[MarkKey, HighWaterMark]:
        """The committed marks of the change-topic ``partitions``."""
        wanted = set(partitions)
        return {key: mark for key, mark in self._marks.items()
                if (key.topic, key.partition) in wanted}

    def close(self) -> None:
        """Release the client."""
        if self._client is not None:
            client, self._client = self._client, None
            client.close()

    def _reader(self) -> Consumer:
        if self._client is None:
            count = self._admin.existing().get(self.topic, 0)
            if count == 0:
                raise KafkaUnavailableError(f"the positions topic {self.topic} does not exist",
                                            hint="the service creates it at start")
            self._partitions = [(self.topic, p) for p in range(count)]
            self._client = self._factory({**self._config, "logger": CLIENT_LOG})
            self._client.assign([TopicPartition(t, p, OFFSET_BEGINNING)
                                 for t, p in self._partitions])
        return self._client

    def _reached(self, client: Consumer, ends: Mapping[tuple[str, int], int]) -> bool:
        if not ends:
            return True
        asked = [TopicPartition(t, p) for t, p in ends]
        positions = {(tp.topic, tp.partition): tp.offset for tp in client.position(asked)}
        return all(positions.get(tp, -1) >= end for tp, end in ends.items())

    def _apply(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.fatal():
                raise self._policy.exception("read the positions topic",
                                             KafkaException(error), "fatal")
            return
        try:
            key, mark = decode_mark(message.key(), message.value())
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipped a record of %s at offset %s that is not a position: %s",
                        self.topic, message.offset(), exc)
            return
        if mark is None:
            self._marks.pop(key, None)
        else:
            self._marks[key] = mark

