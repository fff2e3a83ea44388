"""The translator service: read changes, make facts, commit both in one Kafka transaction.

One loop, in one thread::

    consume -> decode -> drop repeats -> translate -> produce facts (or a dead letter)
            -> at the end of a batch: produce the moved high-water marks,
               send the consumer offsets to the transaction, commit it

A batch (one transaction) ends at whichever comes first: ``batch_size`` records read,
``commit_interval_ms`` passed since it began, or the input went quiet (a poll of the open
batch found no record waiting), so facts become visible at once when little is happening,
and a backlog is read in full batches.

Errors: a record that cannot become facts goes to the dead-letter topic, in the same
transaction, and processing goes on. A transaction that fails is aborted, and the consumer
reads its records again from where it began. A fatal client error stops the service.
Rebalances: revoked partitions get their open transaction committed first; lost ones get
it aborted.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import Message

from cdc_facts.changes import Change
from cdc_facts.errors import (
    CdcFactsError,
    FactTooLargeError,
    RecordError,
    StopRequested,
    TerminalError,
    TransientError,
)
from cdc_facts.facts import Fact, encode_fact, fact_headers
from cdc_facts.kafka import (
    AtLeastOnceProducer,
    BaseFactProducer,
    ChangeConsumer,
    ErrorPolicy,
    HighWaterMarks,
    MarkKey,
    Partition,
    PositionStore,
    TopicAdmin,
    TopicSpec,
    TransactionalProducer,
    dead_letter_headers,
    encode_mark,
    source_place,
)
from cdc_facts.metrics import Health, ServiceMetrics
from cdc_facts.settings import ServiceSettings
from cdc_facts.translator import Translator

log = logging.getLogger(__name__)

#: Records asked of one poll (fewer when the batch has less room).
CONSUME_CHUNK: Final = 500

#: How long a poll waits for the first record of a batch.
IDLE_WAIT_S: Final = 0.5

#: The pause after an aborted transaction, doubled for each abort in a row (the broker
#: refuses every transaction for a while, say), up to :data:`MAX_ABORT_PAUSE_S`.
FIRST_ABORT_PAUSE_S: Final = 0.1
MAX_ABORT_PAUSE_S: Final = 5.0

#: What a record may hold besides its key and value (headers, framing): a fact is a dead
#: letter when key and value alone exceed ``message.max.bytes`` minus this.
RECORD_OVERHEAD_BYTES: Final = 512

#: How long the last commit, at a stop, may retry a failing call before it gives up and
#: aborts (well inside the 30 s a container platform waits before it kills the process).
FINISH_RETRY_S: Final = 10.0

#: How long one admin request may wait while the service starts. A request that times out
#: is retried (up to the error policy's retry timeout), and between two requests the
#: service sees whether it was asked to stop: SIGTERM while the broker is unreachable
#: stops it within seconds, not after the whole retry timeout.
START_CALL_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True)
class BatchPolicy:
    """When a transaction ends: full, old enough, or the input went quiet (a poll of an
    open batch found no record waiting).

    >>> policy = BatchPolicy(max_records=1000, interval_s=1.0)
    >>> policy.due(records=1000, age_s=0.1, quiet=False), policy.due(10, 0.1, quiet=True)
    (True, True)
    >>> policy.due(10, 0.1, quiet=False), policy.due(0, 5.0, quiet=True)
    (False, False)
    """

    max_records: int = 1000
    interval_s: float = 1.0

    def room(self, records: int) -> int:
        """How many more records the batch takes."""
        return max(0, self.max_records - records)

    def due(self, records: int, age_s: float, quiet: bool) -> bool:
        """Whether a batch of ``records``, open for ``age_s``, should commit now."""
        if records <= 0:
            return False
        return records >= self.max_records or age_s >= self.interval_s or quiet


def poll_batch(consumer: ChangeConsumer, asked: int, batch_open: bool) -> list[Message]:
    """The next records, up to ``asked``.

    With a batch open, only what is waiting now: nothing means the input went quiet, and
    the batch ends at once. Without one, wait up to :data:`IDLE_WAIT_S` for the first
    record (not for a full batch), then take what else is waiting, so that a lone change
    becomes a fact at once.
    """
    messages = consumer.consume(asked, 0)
    if messages or batch_open:
        return messages
    messages = consumer.consume(1, IDLE_WAIT_S)
    if messages and asked > 1:
        messages.extend(consumer.consume(asked - 1, 0))
    return messages


#: A change's table and operation as its ``source`` block holds them, ``(schema or db,
#: table, op)``: counted for each change without making the table's name
#: (:attr:`Change.table <cdc_facts.changes.Change.table>`), which is made once a batch.
_TableOp = tuple[object, object, str]


class _Batch:
    """The open transaction: where it began reading, how far it got, what it made.

    What it made is noted cheaply for each record, and counted at the commit
    (:meth:`changes`, :meth:`facts`).
    """

    def __init__(self, opened_at: float) -> None:
        self.opened_at = opened_at
        self.first: dict[Partition, int] = {}  # the next offsets are the service's own
        self.records = 0
        self.table_ops: dict[_TableOp, int] = {}  # changes handled (repeats are not)
        self.table_names: dict[_TableOp, str] = {}  # the Change.table of each
        self.fact_types: list[str] = []  # one for each fact produced
        self.dead_letters: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self.source_times_ms: set[int] = set()
        #: The Kafka timestamp (ms) of its oldest change record: the earliest of each
        #: partition's first record (a partition's timestamps grow with its offsets when the
        #: broker stamps them, and nearly so when Connect does).
        self.oldest_ms: int | None = None

    def appended(self, message: Message) -> None:
        """Note the Kafka timestamp of a partition's first record in the batch."""
        millis = message.timestamp()[1]
        if millis > 0 and (self.oldest_ms is None or millis < self.oldest_ms):
            self.oldest_ms = millis

    def changes(self) -> Counter[tuple[str, str]]:
        """The changes handled, by table and operation."""
        counts: Counter[tuple[str, str]] = Counter()
        for table_op, count in self.table_ops.items():
            counts[(self.table_names[table_op], table_op[2])] += count
        return counts

    def facts(self) -> Counter[str]:
        """The facts produced, by type."""
        return Counter(self.fact_types)


class Service:
    """The translator service for one instance of a consumer group.

    Constructing it does no I/O; :meth:`run` (or :meth:`start`, :meth:`step`...,
    :meth:`close`) does.

    Args:
        settings: the resolved settings.
        translator: the rules, compiled.
        metrics: where to count (a fresh registry by default).
        policy: how Kafka client errors are retried or raised.
        producer: the fact producer (by default the one ``settings.guarantee`` asks for,
            made from :func:`producer_config`); a subclass can inject faults in tests.
    """

    def __init__(self, settings: ServiceSettings, translator: Translator, *,
                 metrics: ServiceMetrics | None = None,
                 policy: ErrorPolicy | None = None,
                 producer: BaseFactProducer | None = None) -> None:
        self.settings = settings
        self.translator = translator
        stall_s = max(30.0, 3 * settings.commit_interval_ms / 1000)
        self.metrics = metrics or ServiceMetrics(health=Health(stall_after_s=stall_s))
        self.batching = BatchPolicy(settings.batch_size, settings.commit_interval_ms / 1000)
        self._linger_s = settings.transaction_linger_ms / 1000
        self._committed_at = 0.0  # time.monotonic() of the last commit
        self._stop: threading.Event | None = None  # run's
        self._finish_until: float | None = None  # retries allowed at the stop, until then
        # after a stop request, a failing client call is not retried (see _stopping)
        policy = dataclasses.replace(policy or ErrorPolicy(), stopped=self._stopping)
        timeout_s = settings.transaction_timeout_ms / 1000 + 30
        self._admin = TopicAdmin(settings.kafka.config(), policy, timeout_s=START_CALL_TIMEOUT_S)
        self._consumer = ChangeConsumer(consumer_config(settings), policy)
        self._producer = producer or _producer(settings, policy)
        self._store = PositionStore(settings.kafka.config(), settings.positions_topic,
                                    self._admin, policy, timeout_s=timeout_s)
        self._committed_timeout_s = timeout_s
        self._marks = HighWaterMarks()
        self._mark_keys: dict[Partition, MarkKey] = {}  # the last one of each partition
        self._next: dict[Partition, int] = {}  # owned partitions -> next offset (-1: unknown)
        self._batch: _Batch | None = None
        self._failed = False
        self._assign_error: TransientError | None = None
        #: records a failed poll returned but never handled: where each partition resumes
        self._unread: dict[Partition, int] = {}
        self._aborts_in_a_row = 0
        self._max_fact_bytes = int(settings.kafka.config().get(
            "message.max.bytes", 1_000_000)) - RECORD_OVERHEAD_BYTES

    # --- life cycle ----------------------------------------------------------------------

    def change_topics(self) -> list[str]:
        """The change topics the mappings need: ``<connector>.<schema or db>.<table>``."""
        return sorted(f"{connector}.{table}" for connector, table in self.translator.tables())

    def output_topics(self) -> list[TopicSpec]:
        """The topics the service writes to: facts, dead letters and positions."""
        s = self.settings
        names = sorted({rule.topic for rule in self.translator.ruleset.rules})
        names.append(s.dead_letter_topic)
        specs = [TopicSpec(n, s.topic_partitions, s.topic_replication_factor) for n in names]
        specs.append(TopicSpec(s.positions_topic, 1, s.topic_replication_factor,
                               {"cleanup.policy": "compact"}))
        return specs

    def run(self, stop: threading.Event) -> None:
        """Start, loop until ``stop`` is set, then finish the open transaction and close.

        Raises:
            KafkaFatalError: a client cannot go on (fenced by a newer instance…).
            KafkaUnavailableError: the broker stayed unreachable past the retry timeout.

        Only a stop through ``stop`` commits the open transaction; when anything else
        ends the loop (an error, a bug), the transaction is aborted, so that a record
        whose handling failed half-way is never committed. A stop while the service still
        starts (waiting for an unreachable broker, say) ends it at once: it has read
        nothing, so there is nothing to commit. Later, a client call that keeps failing
        (the broker went away) is not retried past a stop request: the open transaction is
        aborted, and its records are read again by the next instance.

        Raises:
            KafkaFatalError: also when the open transaction could not be committed at the
                stop (fenced, say): its records are read again, but the stop was not clean.
        """
        try:
            self._stop = stop
            self.start()
            while not stop.is_set():
                self.step()
        except StopRequested as exc:  # a client call kept failing, and a stop was asked for
            log.warning("%s; the open transaction, if any, is aborted", exc)
            self._failed = True
        except BaseException:
            self._failed = True  # whatever stopped the loop, the open batch is aborted
            raise
        finally:
            self.close()

    def start(self) -> None:
        """Create missing topics, fence older instances, read the marks, subscribe."""
        log.info("starting with %s", self.settings.describe())
        self._admin.ensure(self.output_topics())
        self._producer.start()
        self._store.refresh()
        topics = self.change_topics()
        self._consumer.subscribe(topics, self)
        log.info("subscribed to %d change topics: %s", len(topics), ", ".join(topics))

    def step(self) -> None:
        """One poll, and the commit of the batch when it is due."""
        batch = self._batch
        if batch is None and self._linger_s:
            self._linger()
        asked = max(1, min(CONSUME_CHUNK, self.batching.room(batch.records if batch else 0)))
        try:
            messages = poll_batch(self._consumer, asked, batch is not None)
            self.metrics.health.polled()
            if messages:
                self._handle(messages)
            self._producer.serve()
            # quiet: the open batch asked for more and nothing was waiting
            quiet = batch is not None and not messages
            batch = self._batch
            if batch is not None and self.batching.due(
                    batch.records, time.monotonic() - batch.opened_at, quiet):
                self._commit()
        except TransientError as exc:
            if exc is self._assign_error:
                raise  # partitions were assigned but could not be taken over: start again
            self._abort(exc)
            self._pause_after_abort()

    def _pause_after_abort(self) -> None:
        """Wait a little before the next transaction: longer for each abort in a row, so a
        broker that refuses every transaction is not hammered (a stop cuts the wait)."""
        pause = min(FIRST_ABORT_PAUSE_S * 2 ** self._aborts_in_a_row, MAX_ABORT_PAUSE_S)
        self._aborts_in_a_row += 1
        stop = self._stop
        if stop is not None:
            stop.wait(pause)
        else:
            time.sleep(pause)

    def _stopping(self) -> bool:
        """Whether a stop was asked for: then a failing client call is not retried, but
        for the last commit, which may retry for :data:`FINISH_RETRY_S`."""
        stop = self._stop
        if stop is None or not stop.is_set():
            return False
        until = self._finish_until
        return until is None or time.monotonic() > until

    def _linger(self) -> None:
        """Wait out ``transaction_linger_ms`` since the last commit before a new transaction
        may begin: what arrives meanwhile joins it, and the coordinator has finished the
        previous one, so adding the first partition is not refused and retried after 20 ms."""
        remaining = self._committed_at + self._linger_s - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def close(self) -> None:
        """Finish (or abort) the open transaction, leave the group, close the clients."""
        self.metrics.health.stopping()
        try:
            self._finish()
        finally:
            self._batch = None
            for close in (self._consumer.close, self._producer.close, self._store.close):
                try:
                    close()
                except Exception as exc:  # noqa: BLE001 - close every client whatever happens
                    log.warning("closing a Kafka client failed: %s", exc)
            log.info("stopped")

    def _finish(self) -> None:
        if self._batch is None:
            return
        self._finish_until = time.monotonic() + FINISH_RETRY_S
        try:
            if self._failed:
                self._producer.abort()
            else:
                self._commit()
        except CdcFactsError as exc:
            log.error("could not finish the open transaction: %s", exc)
            if not self._failed:
                self._abort_quietly()
            if isinstance(exc, TerminalError):
                raise  # fenced or refused: the stop must not look clean

    # --- records ---------------------------------------------------------------------------

    def _handle(self, messages: list[Message]) -> None:
        owned, batch, process = self._next, self._batch, self._process
        index = 0
        try:
            for index, message in enumerate(messages):  # noqa: B007 - read in the except
                partition = (message.topic() or "", message.partition() or 0)
                offset = message.offset() or 0
                expected = owned.get(partition)
                if expected is None or offset < expected:
                    continue  # not ours (any more), or read before a rewind
                if batch is None:
                    batch = self._open()
                if partition not in batch.first:
                    batch.first[partition] = offset
                    batch.appended(message)
                batch.records += 1
                owned[partition] = offset + 1
                process(message, partition, offset, batch)
        except TransientError:
            self._unread = _first_offsets(messages[index:], owned)
            raise

    def _open(self) -> _Batch:
        self._producer.begin()
        self._batch = _Batch(time.monotonic())
        self.metrics.health.transaction(self._batch.opened_at)
        return self._batch

    def _process(self, message: Message, partition: Partition, offset: int,
                 batch: _Batch) -> None:
        record_key = message.key()
        try:
            change = self.translator.decode(message.value(), record_key, partition[0],
                                            partition[1], offset)
        except RecordError as exc:
            self._dead_letter(message, partition, offset, exc, batch)
            return
        if change is None:
            return
        # A new change moves its mark before it is translated: when that fails, the change
        # becomes a dead letter (the mark still moves) or the transaction aborts (it rolls
        # back with it).
        place = source_place(change, record_key)
        if place is not None and not self._marks.admit(self._mark_key(partition, change),
                                                       place):
            batch.duplicates[change.table] += 1
            return
        self._translate(message, partition, offset, change, batch)
        source, counts = change.source, batch.table_ops
        table_op = (source.get("schema") or source.get("db"), source.get("table"), change.op)
        count = counts.get(table_op)
        if count is None:
            batch.table_names[table_op] = change.table
            count = 0
        counts[table_op] = count + 1

    def _mark_key(self, partition: Partition, change: Change) -> MarkKey:
        """The mark key of ``change`` (one object per partition while its connector stays)."""
        key = self._mark_keys.get(partition)
        # the same connector (``source.name``, text): no need to make its name
        if key is not None and key.connector == change.source.get("name", ""):
            return key
        connector = change.connector
        if key is None or key.connector != connector:
            key = self._mark_keys[partition] = MarkKey(partition[0], partition[1], connector)
        return key

    def _translate(self, message: Message, partition: Partition, offset: int, change: Change,
                   batch: _Batch) -> None:
        try:
            facts = self.translator.translate(change)
            if not facts:
                return
            records = []
            for fact in facts:  # all encoded, then all checked, before any is produced
                records.append((fact, fact.subject.encode(), encode_fact(fact)))
            for fact, key, value in records:
                if len(key) + len(value) > self._max_fact_bytes:
                    raise _too_large(fact, len(value), self._max_fact_bytes)
        except RecordError as exc:
            self._dead_letter(message, partition, offset, exc, batch)
            return
        produce, types = self._producer.produce, batch.fact_types
        for fact, key, value in records:
            produce(fact.topic, key, value, fact_headers(fact))
            types.append(fact.type)
        millis = change.source.get("ts_ms")  # mostly the int _source_ms would return
        batch.source_times_ms.add(millis if type(millis) is int else _source_ms(change))

    def _dead_letter(self, message: Message, partition: Partition, offset: int,
                     error: RecordError, batch: _Batch) -> None:
        headers = dead_letter_headers(error, partition[0], partition[1], offset,
                                      message.headers())
        self._producer.produce(self.settings.dead_letter_topic, message.key(), message.value(),
                               headers)
        batch.dead_letters[error.reason] += 1
        log.warning("dead letter %s[%d]@%d (%s): %s", partition[0], partition[1], offset,
                    error.reason, error.message)

    # --- transactions ----------------------------------------------------------------------

    def _commit(self) -> None:
        batch = self._batch
        if batch is None:
            return
        # the producer writes the marks: in the transaction, or (at least once) only after
        # the facts they stand for were delivered
        topic = self.settings.positions_topic
        marks = [(topic, *encode_mark(key, mark)) for key, mark in self._marks.pending().items()]
        owned = self._next
        offsets = {p: owned[p] for p in batch.first if p in owned}
        started = time.monotonic()
        self._producer.commit(offsets, self._consumer, marks=marks)
        self._committed_at = time.monotonic()
        self._aborts_in_a_row = 0
        commit_s = self._committed_at - started
        self._batch = None
        self._marks.commit()
        self.metrics.health.transaction(None)
        self._count(batch, commit_s)
        log.debug("committed %d records, open %.1f ms, in %.1f ms: %d facts, %d dead "
                  "letters, %d repeats dropped", batch.records,
                  (started - batch.opened_at) * 1000, commit_s * 1000, len(batch.fact_types),
                  batch.dead_letters.total(), batch.duplicates.total())

    def _count(self, batch: _Batch, commit_s: float) -> None:
        now_ms = time.time() * 1000
        self.metrics.committed(
            records=batch.records, changes=batch.changes(), facts=batch.facts(),
            dead_letters=batch.dead_letters, duplicates=batch.duplicates,
            latencies_s=[max(0.0, now_ms - t) / 1000 for t in batch.source_times_ms if t],
            commit_s=commit_s, oldest_change_s=None if batch.oldest_ms is None
            else max(0.0, now_ms - batch.oldest_ms) / 1000)
        known = {p: n for p, n in self._next.items() if n >= 0}
        self.metrics.partitions(len(self._next), self._consumer.lag(known))

    def _abort(self, error: CdcFactsError) -> None:
        log.warning("aborting the transaction; its records are read again: %s", error)
        batch, self._batch = self._batch, None
        # where to read again: the batch's first records, and those of the failed poll that
        # were never handled (a poll can hold partitions the batch had not reached yet)
        rewind, self._unread = self._unread, {}
        rewind.update(batch.first if batch else {})
        self._marks.rollback()
        self.metrics.health.transaction(None)
        self._producer.abort()
        self.metrics.aborted()
        for partition, offset in rewind.items():
            if partition in self._next:
                self._consumer.seek(partition, offset)
                self._next[partition] = offset
        known = {p: n for p, n in self._next.items() if n >= 0}
        self.metrics.lags(self._consumer.lag(known))  # cached watermarks: no request

    def _abort_quietly(self) -> None:
        try:
            self._abort(TransientError("the service is stopping"))
        except CdcFactsError as exc:
            log.error("could not abort the open transaction: %s", exc)

    def _commit_or_abort(self) -> None:
        try:
            self._commit()
        except TransientError as exc:
            self._abort(exc)

    # --- rebalances (called by the consumer, inside consume) --------------------------------

    def on_assign(self, partitions: list[Partition]) -> dict[Partition, int | None]:
        """Partitions arrive: read their committed offsets and high-water marks.

        When that fails (the broker stayed unreachable past the retry timeout), the
        service stops with the error: it cannot take the partitions over, and a restart
        tries again.
        """
        log.info("assigned %s", _names(partitions))
        try:
            return self._take_over(partitions)
        except TransientError as exc:
            self._assign_error = exc
            raise

    def _take_over(self, partitions: list[Partition]) -> dict[Partition, int | None]:
        if self._batch is not None:
            self._commit_or_abort()
        committed = self._consumer.committed(partitions, self._committed_timeout_s)
        self._store.refresh()
        self._marks.load(self._store.marks(partitions))
        for partition in partitions:
            start = committed.get(partition)
            self._next[partition] = -1 if start is None else start
        self.metrics.partitions(len(self._next), {})
        return committed

    def on_revoke(self, partitions: list[Partition]) -> None:
        """Partitions go: commit what was read from them first."""
        log.info("revoked %s", _names(partitions))
        if self._batch is not None and not self._failed:
            self._commit_or_abort()
        self._forget(partitions)

    def on_lost(self, partitions: list[Partition]) -> None:
        """Partitions are gone already: their records must not be committed."""
        log.warning("lost %s", _names(partitions))
        if self._batch is not None:
            self._abort_quietly()
        self._forget(partitions)

    def _forget(self, partitions: list[Partition]) -> None:
        for partition in partitions:
            self._next.pop(partition, None)
            self._mark_keys.pop(partition, None)
        self._marks.forget(partitions)
        self.metrics.forget(partitions)
        self.metrics.partitions(len(self._next), {})


# --- client configurations -----------------------------------------------------------------


def consumer_config(settings: ServiceSettings) -> dict[str, str]:
    """The change consumer's configuration: defaults, the user's client settings, and what
    exactly-once needs (which no setting overrides)."""
    defaults = {"auto.offset.reset": "earliest", "session.timeout.ms": "10000",
                "topic.metadata.refresh.interval.ms": "5000",
                "client.id": f"cdc-facts-{settings.instance_id}"}
    if settings.static_membership:
        # A restarted instance takes its partitions back without a rebalance.
        defaults["group.instance.id"] = settings.instance_id
    return {**defaults, **settings.kafka.config(), "group.id": settings.group_id,
            "isolation.level": "read_committed", "enable.auto.commit": "false",
            "enable.auto.offset.store": "false"}


def producer_config(settings: ServiceSettings) -> dict[str, str]:
    """The fact producer's configuration (transactional for exactly-once).

    ``retry.backoff.ms`` is 10 rather than librdkafka's 100: a transaction that begins
    while the coordinator still completes the previous one is told to retry
    (CONCURRENT_TRANSACTIONS), and each such retry added 100 ms to a fact's latency.
    Repeated retries still back off exponentially, up to ``retry.backoff.max.ms`` (1 s).
    """
    defaults = {"linger.ms": "5", "retry.backoff.ms": "10",
                "client.id": f"cdc-facts-{settings.instance_id}"}
    config = {**defaults, **settings.kafka.config(), "enable.idempotence": "true"}
    if settings.guarantee == "exactly-once":
        config["transactional.id"] = settings.transactional_id
        config["transaction.timeout.ms"] = str(settings.transaction_timeout_ms)
    return config


def _producer(settings: ServiceSettings, policy: ErrorPolicy) -> BaseFactProducer:
    if settings.guarantee == "exactly-once":
        return TransactionalProducer(producer_config(settings), policy)
    return AtLeastOnceProducer(producer_config(settings), policy)


def _source_ms(change: Change) -> int:
    millis: Any = change.source.get("ts_ms")
    if not isinstance(millis, int):
        millis = change.ts_ms or 0
    return int(millis)


def _names(partitions: list[Partition]) -> str:
    return ", ".join(f"{topic}[{partition}]" for topic, partition in sorted(partitions)) or "none"


def _first_offsets(messages: list[Message], owned: dict[Partition, int]) -> dict[Partition, int]:
    """The first offset of each owned partition among ``messages``."""
    first: dict[Partition, int] = {}
    for message in messages:
        partition = (message.topic() or "", message.partition() or 0)
        if partition in owned and partition not in first:
            first[partition] = message.offset() or 0
    return first


def _too_large(fact: Fact, size: int, limit: int) -> FactTooLargeError:
    return FactTooLargeError(
        f"fact `{fact.type}` with key {fact.subject[:80]!r} is {size} bytes: more than the "
        f"producer sends ({limit} bytes, message.max.bytes less {RECORD_OVERHEAD_BYTES} "
        "for headers)", rule=fact.rule,
        hint="raise message.max.bytes (in the kafka settings) and the fact topic's "
        "max.message.bytes, or leave large columns out of the fact's data")
