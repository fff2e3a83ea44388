"""The producer of facts: Kafka transactions, or plain at-least-once delivery.

Both producers share one life cycle: :meth:`~BaseFactProducer.start`, then for each batch
:meth:`~BaseFactProducer.begin`, :meth:`~BaseFactProducer.produce` (many),
:meth:`~BaseFactProducer.commit` with the consumer's next offsets and the batch's moved
high-water marks, or :meth:`~BaseFactProducer.abort`. The client is created on first use.

:class:`TransactionalProducer` puts the facts, the dead letters, the positions and the
consumer's offsets in one transaction: either all become visible or none does.
:class:`AtLeastOnceProducer` flushes the records, then writes the positions (the marks),
then commits the offsets: after a crash, the records since the last commit are produced
again, and a mark is never written before the facts it stands for were delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, cast

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition

from cdc_facts.errors import CdcFactsError, KafkaUnavailableError
from cdc_facts.kafka.consumer import ChangeConsumer, Partition
from cdc_facts.kafka.errors import CLIENT_LOG, Action, ErrorPolicy
from cdc_facts.settings import ALTERNATE_SUFFIX

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, str | bytes | None]]

#: Records a commit writes with the batch: ``(topic, key, value)`` (the moved high-water
#: marks). They say the batch's facts exist, so they must never be written without them.
Marks = Sequence[tuple[str, bytes, bytes]]

#: How long one ``init_transactions`` call may wait. A call that times out is retried by
#: the error policy, which sees between two calls whether the service was asked to stop.
INIT_CALL_TIMEOUT_S: Final = 5.0

#: Produce errors retrying cannot help: the record is larger than the broker accepts.
_NEVER_FITS: Final = frozenset({"MSG_SIZE_TOO_LARGE", "_MSG_SIZE_TOO_LARGE"})


class BaseFactProducer:
    """What both producers share: a lazily created client and the produce call.

    Args:
        config: the client configuration.
        policy: how client errors are retried or raised.
        timeout_s: how long one flush, commit or abort may take.
        factory: makes the client (confluent-kafka by default).
    """

    def __init__(self, config: Mapping[str, str], policy: ErrorPolicy | None = None, *,
                 timeout_s: float = 30.0,
                 factory: Callable[[dict[str, Any]], Producer] = Producer) -> None:
        self._config: dict[str, Any] = dict(config)
        self._policy = policy or ErrorPolicy()
        self._timeout_s = timeout_s
        self._factory = factory
        self._client: Producer | None = None

    @property
    def client(self) -> Producer:
        """The confluent-kafka producer, created on first use."""
        if self._client is None:
            self._client = self._factory({**self._config, "logger": CLIENT_LOG})
        return self._client

    def start(self) -> None:
        """Get ready to produce (connect, and for transactions fence older instances)."""

    def begin(self) -> None:
        """Open a batch."""

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Headers | None = None) -> None:
        """Queue one record; when the queue is full, wait for room.

        Raises:
            TransactionAbortedError: the open transaction failed and must be aborted.
            KafkaFatalError: the producer cannot go on.
        """
        client = self.client
        while True:
            try:
                # (a quoted type: cast() then costs no type object for each record)
                client.produce(topic, value, key, headers=cast("list[Any]", headers))
                return
            except BufferError:
                client.poll(0.05)
            except KafkaException as exc:
                raise self._policy.exception(f"produce to {topic}", exc,
                                             _produce_action(self._policy, exc)) from exc

    def serve(self) -> None:
        """Serve the client's delivery reports and events without waiting."""
        if self._client is not None:
            self._client.poll(0)

    def commit(self, offsets: Mapping[Partition, int], consumer: ChangeConsumer, *,
               marks: Marks = ()) -> None:
        """Make the batch's records visible, write ``marks`` with them, and commit
        ``offsets`` (next offset to read)."""
        raise NotImplementedError

    def _produce_all(self, records: Marks) -> None:
        for topic, key, value in records:
            self.produce(topic, key, value)

    def abort(self) -> None:
        """Drop the open batch (what is already delivered stays, without transactions)."""

    def close(self) -> None:
        """Deliver what is queued (at most the timeout) and release the client."""
        if self._client is not None:
            client, self._client = self._client, None
            _close(client, self._timeout_s)


def _close(client: Producer, timeout_s: float) -> None:
    try:
        left = client.flush(timeout_s)
    except KafkaException as exc:  # fenced or failed: nothing more can be delivered
        log.warning("the producer closed with an error: %s", exc)
        return
    if left:
        log.warning("%d records were still queued when the producer closed", left)


class TransactionalProducer(BaseFactProducer):
    """Records and offsets in Kafka transactions (``transactional.id`` in the config).

    Two clients take turns, one transaction each, with the configured ``transactional.id``
    and that id followed by :data:`~cdc_facts.settings.ALTERNATE_SUFFIX`. Once a commit
    returns, the broker's transaction coordinator still writes the commit's markers; until
    it has, the same id's next transaction cannot add a partition (the coordinator answers
    CONCURRENT_TRANSACTIONS, and librdkafka retries after a fixed 20 ms). The other id has
    nothing left to complete, so the next transaction starts at once. Only one transaction
    is ever open, and both ids fence older instances when the producer starts.
    """

    def __init__(self, config: Mapping[str, str], policy: ErrorPolicy | None = None, *,
                 timeout_s: float = 30.0,
                 factory: Callable[[dict[str, Any]], Producer] = Producer) -> None:
        super().__init__(config, policy, timeout_s=timeout_s, factory=factory)
        self.in_transaction = False
        first = self._config.get("transactional.id")
        #: The clients' transactional ids, in turn (one when none is configured).
        self.transactional_ids: tuple[str | None, ...] = (
            (first, f"{first}{ALTERNATE_SUFFIX}") if first else (first,))
        self._clients: list[Producer | None] = [None] * len(self.transactional_ids)
        self._turn = 0

    @property
    def client(self) -> Producer:
        """The client whose turn it is, created on first use."""
        client = self._clients[self._turn]
        if client is None:
            config = {**self._config, "logger": CLIENT_LOG}
            if self.transactional_ids[self._turn] is not None:
                config["transactional.id"] = self.transactional_ids[self._turn]
            client = self._clients[self._turn] = self._factory(config)
        return client

    def start(self) -> None:
        """Register the transactional ids: the broker aborts the open transactions of an
        older instance with the same ids and fences it out."""
        for turn in range(len(self._clients)):
            self._turn = turn
            self._policy.call("initialise transactions", lambda: self.client.init_transactions(
                min(self._timeout_s, INIT_CALL_TIMEOUT_S)))
        self._turn = 0

    def serve(self) -> None:
        for client in self._clients:
            if client is not None:
                client.poll(0)

    def close(self) -> None:
        for turn, client in enumerate(self._clients):
            if client is not None:
                self._clients[turn] = None
                _close(client, self._timeout_s)

    def _pass_turn(self) -> None:
        self._turn = (self._turn + 1) % len(self._clients)

    def begin(self) -> None:
        self._policy.call("begin a transaction", self.client.begin_transaction)
        self.in_transaction = True

    def commit(self, offsets: Mapping[Partition, int], consumer: ChangeConsumer, *,
               marks: Marks = ()) -> None:
        """Add ``marks`` and the consumer's offsets to the transaction and commit it.

        Raises:
            TransactionAbortedError: the transaction must be aborted (call :meth:`abort`).
            KafkaUnavailableError: the broker did not answer within the retry timeout.
            KafkaFatalError: the producer was fenced or cannot go on.
        """
        # No flush before the offsets: the marks' delivery (and the registration of their
        # partition) overlaps with adding the offsets, and commit_transaction delivers
        # every record before it ends the transaction, or fails it. Flushing first put two
        # more round trips in a row before the commit (see docs/service.md, Latency).
        self._produce_all(marks)  # in the transaction: visible with the facts, or never
        chosen = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        if chosen:
            metadata = consumer.group_metadata()
            try:
                self._policy.call("add the offsets to the transaction",
                                  lambda: self.client.send_offsets_to_transaction(
                                      chosen, metadata, self._timeout_s))
            except CdcFactsError:
                consumer.forget_group_metadata()  # perhaps stale: ask again next time
                raise
        self._policy.call("commit the transaction",
                          lambda: self.client.commit_transaction(self._timeout_s))
        self.in_transaction = False
        self._pass_turn()

    def abort(self) -> None:
        """Abort the open transaction, if any: none of its records becomes visible."""
        if self.in_transaction:
            self._policy.call("abort the transaction",
                              lambda: self.client.abort_transaction(self._timeout_s))
            self.in_transaction = False
            self._pass_turn()


class AtLeastOnceProducer(BaseFactProducer):
    """Records flushed, then offsets committed: no transactions, repeats after a crash.

    Only failed deliveries matter (the first one seen by a flush fails the commit), so the
    client reports only those (``delivery.report.only.error``): a record delivered calls
    no Python.
    """

    def __init__(self, config: Mapping[str, str], policy: ErrorPolicy | None = None, *,
                 timeout_s: float = 30.0,
                 factory: Callable[[dict[str, Any]], Producer] = Producer) -> None:
        super().__init__(config, policy, timeout_s=timeout_s, factory=factory)
        self._config["on_delivery"] = self._delivered
        # a bool: confluent-kafka reads this one itself, and refuses text
        self._config["delivery.report.only.error"] = True
        self._failure: KafkaError | None = None

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None and self._failure is None:
            self._failure = error

    def commit(self, offsets: Mapping[Partition, int], consumer: ChangeConsumer, *,
               marks: Marks = ()) -> None:
        """Wait until every record is delivered, then write ``marks`` and wait for them,
        then commit ``offsets``.

        Without a transaction, a mark written with facts that then fail would outlive
        them: the next owner of the partition would drop the changes read again as
        repeats. So the marks follow the facts' delivery.

        Raises:
            KafkaUnavailableError: a record was not delivered (the batch is read again).
        """
        self._deliver("the batch")
        if marks:
            self._produce_all(marks)
            self._deliver("the high-water marks")
        if offsets:
            consumer.commit(offsets)

    def _deliver(self, what: str) -> None:
        """Wait until every queued record is delivered; raise if one was not."""
        left = self.client.flush(self._timeout_s)
        failure, self._failure = self._failure, None
        if failure is not None or left:
            reason = failure.str() if failure is not None else f"{left} records still queued"
            raise KafkaUnavailableError(f"could not deliver {what}: {reason}")


def _produce_action(policy: ErrorPolicy, exc: KafkaException) -> Action:
    """A failed produce call is retried with the whole batch, unless it can never work."""
    error = exc.args[0] if exc.args else None
    if not isinstance(error, KafkaError) or error.fatal() or error.name() in _NEVER_FITS:
        return "fatal"
    return "abort"
