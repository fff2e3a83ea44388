"""Topics the service writes to: created at start when they are missing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec
from confluent_kafka.cimpl import NewTopic

from cdc_facts.kafka.errors import CLIENT_LOG, ErrorPolicy, kafka_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create if it is missing. ``-1`` partitions or replicas: the broker's
    default. ``config`` holds topic settings (``cleanup.policy``…)."""

    name: str
    partitions: int = -1
    replication_factor: int = -1
    config: Mapping[str, str] = field(default_factory=dict)


class TopicAdmin:
    """Creates missing topics with the admin client (created on first use).

    Args:
        config: the client configuration.
        policy: how client errors are retried or raised.
        timeout_s: how long one request may take.
        factory: makes the client (confluent-kafka by default).
    """

    def __init__(self, config: Mapping[str, str], policy: ErrorPolicy | None = None, *,
                 timeout_s: float = 30.0,
                 factory: Callable[[dict[str, Any]], AdminClient] = AdminClient) -> None:
        self._config = dict(config)
        self._policy = policy or ErrorPolicy()
        self._timeout_s = timeout_s
        self._factory = factory
        self._client: AdminClient | None = None

    @property
    def client(self) -> AdminClient:
        """The confluent-kafka admin client, created on first use."""
        if self._client is None:
            self._client = self._factory({**self._config, "logger": CLIENT_LOG})
        return self._client

    def existing(self) -> dict[str, int]:
        """Every topic of the cluster, with its number of partitions."""
        metadata = self._policy.call("list the topics",
                                     lambda: self.client.list_topics(timeout=self._timeout_s))
        return {name: len(topic.partitions) for name, topic in metadata.topics.items()
                if topic.error is None}

    def ensure(self, topics: Iterable[TopicSpec]) -> list[str]:
        """Create the topics that do not exist yet; return the names created.

        Another instance creating the same topic at the same time is fine.

        Raises:
            KafkaUnavailableError: the broker did not answer within the retry timeout.
            KafkaFatalError: a topic cannot be created (not authorized, bad settings).
        """
        existing = self.existing()
        missing = [t for t in topics if t.name not in existing]
        if not missing:
            return []
        new = [NewTopic(t.name, num_partitions=t.partitions,
                        replication_factor=t.replication_factor, config=dict(t.config))
               for t in missing]
        futures = self.client.create_topics(new, request_timeout=self._timeout_s)
        created = [name for name, future in futures.items() if self._created(name, future)]
        for name in created:
            log.info("created topic %s", name)
        return created

    def _created(self, name: str, future: Any) -> bool:
        try:
            future.result()
            return True
        except KafkaException as exc:
            error = kafka_error(exc)
            if error is not None and error.name() == "TOPIC_ALREADY_EXISTS":
                return False
            action = self._policy.action(error) if error is not None else "fatal"
            if action == "retry":  # the broker was busy: the next start creates it
                raise self._policy.exception(f"create topic {name}", exc, "retry") from exc
            raise self._policy.exception(f"create topic {name}", exc, "fatal") from exc

    def end_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The end (high watermark, open transactions included) of each partition."""
        asked = {TopicPartition(t, p): OffsetSpec.latest()  # type: ignore[no-untyped-call]
                 for t, p in partitions}

        def request() -> dict[tuple[str, int], int]:
            futures = self.client.list_offsets(
                asked, isolation_level=IsolationLevel.READ_UNCOMMITTED,
                request_timeout=self._timeout_s)
            return {(tp.topic, tp.partition): int(future.result().offset)
                    for tp, future in futures.items()}

        return self._policy.call("read the end offsets", request) if asked else {}
