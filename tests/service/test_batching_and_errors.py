"""Pure parts of the service: when a batch commits, dead-letter headers, the error policy,
health, the order in which a commit writes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from cdc_facts.errors import (
    ChangeDecodeError,
    ContractViolationError,
    KafkaFatalError,
    KafkaUnavailableError,
    StopRequested,
    TransactionAbortedError,
)
from cdc_facts.kafka.consumer import ChangeConsumer
from cdc_facts.kafka.deadletters import dead_letter_headers
from cdc_facts.kafka.errors import ErrorPolicy
from cdc_facts.kafka.positions import HighWaterMark, MarkKey
from cdc_facts.kafka.producer import AtLeastOnceProducer, TransactionalProducer
from cdc_facts.metrics import Health, ServiceMetrics
from cdc_facts.rules.loader import load_mappings
from cdc_facts.service import BatchPolicy, Service, producer_config
from cdc_facts.settings import load_settings
from cdc_facts.translator import Translator
from tests.service.helpers import orders_mapping


@pytest.mark.parametrize(("records", "age", "quiet", "due"), [
    (0, 10.0, True, False),  # nothing read: nothing to commit
    (1000, 0.0, False, True),  # full
    (999, 0.5, False, False),
    (10, 1.0, False, True),  # the interval passed
    (1, 0.0, True, True),  # the input went quiet
])
def test_a_batch_commits_when_full_old_or_quiet(records: int, age: float, quiet: bool,
                                               due: bool) -> None:
    assert BatchPolicy(1000, 1.0).due(records, age, quiet) is due


class _Queue:
    """A consumer client holding what is waiting; notes how long each poll may wait."""

    def __init__(self, waiting: int) -> None:
        self.waiting, self.timeouts = waiting, []

    def consume(self, asked: int, timeout: float) -> list[object]:
        self.timeouts.append(timeout)
        taken = min(asked, self.waiting)
        self.waiting -= taken
        return [_Record()] * taken


class _Record:
    def error(self) -> None:
        return None


def test_an_open_batch_polls_without_waiting_and_a_new_one_waits_for_its_first_record(
) -> None:
    from cdc_facts.service import IDLE_WAIT_S, poll_batch

    queue = _Queue(waiting=0)
    consumer = ChangeConsumer({}, factory=lambda _config: queue)  # type: ignore[arg-type,return-value]
    assert poll_batch(consumer, 500, batch_open=True) == []  # quiet: the batch ends
    assert queue.timeouts == [0]
    queue.timeouts.clear()
    assert poll_batch(consumer, 500, batch_open=False) == []
    assert queue.timeouts == [0, IDLE_WAIT_S]
    queue.waiting, queue.timeouts = 700, []
    assert len(poll_batch(consumer, 500, batch_open=True)) == 500  # a backlog: no wait
    assert len(poll_batch(consumer, 500, batch_open=True)) == 200
    assert queue.timeouts == [0, 0]


def test_dead_letter_headers_say_why_and_where() -> None:
    error = ContractViolationError("field `total` is not a decimal", rule="sales.OrderPlaced.v1")
    headers = dead_letter_headers(error, "shop.public.orders", 3, 1234,
                                  [("traceparent", b"00-ab"), ("empty", None)])
    assert headers == [
        ("cdc-facts.reason", b"contract-violation"),
        ("cdc-facts.error-class", b"ContractViolationError"),
        ("cdc-facts.message", b"field `total` is not a decimal"),
        ("cdc-facts.rule", b"sales.OrderPlaced.v1"),
        ("cdc-facts.topic", b"shop.public.orders"),
        ("cdc-facts.partition", b"3"),
        ("cdc-facts.offset", b"1234"),
        ("traceparent", b"00-ab"),
        ("empty", None),
    ]
    long = dead_letter_headers(ChangeDecodeError("x" * 10_000), "t", 0, 0, {"a": b"1"})
    assert dict(long)["cdc-facts.message"] == b"x" * 4096
    assert dict(long)["cdc-facts.rule"] == b"" and dict(long)["a"] == b"1"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def _failing(*errors: KafkaError) -> Callable[[], str]:
    remaining = list(errors)

    def call() -> str:
        if remaining:
            raise KafkaException(remaining.pop(0))
        return "done"

    return call


def test_retriable_errors_are_retried_with_growing_backoff() -> None:
    clock = _Clock()
    policy = ErrorPolicy(initial_backoff_s=0.1, max_backoff_s=0.3, sleep=clock.sleep,
                         clock=lambda: clock.now)
    timed_out = KafkaError(KafkaError._TIMED_OUT, "timed out", retriable=True)
    assert policy.call("commit", _failing(*[timed_out] * 4)) == "done"
    assert clock.pauses == [0.1, 0.2, 0.3, 0.3]


def test_a_leader_election_is_waited_out_even_when_not_flagged_retriable() -> None:
    clock = _Clock()
    policy = ErrorPolicy(sleep=clock.sleep, clock=lambda: clock.now)
    election = KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION, "Not leader for partition")
    assert not election.retriable()
    assert policy.call("read the end offsets", _failing(election, election)) == "done"
    assert len(clock.pauses) == 2


def test_retrying_stops_at_the_retry_timeout() -> None:
    clock = _Clock()
    policy = ErrorPolicy(retry_timeout_s=1.0, sleep=clock.sleep, clock=lambda: clock.now)
    down = KafkaError(KafkaError._TRANSPORT, "broker down")
    with pytest.raises(KafkaUnavailableError, match="could not commit: broker down"):
        policy.call("commit", _failing(*[down] * 100))
    assert clock.now <= 1.0


def test_a_stop_request_ends_the_retries_of_a_failing_call() -> None:
    clock, stop = _Clock(), threading.Event()
    policy = ErrorPolicy(sleep=clock.sleep, clock=lambda: clock.now, stopped=stop.is_set)
    down = KafkaError(KafkaError._TRANSPORT, "broker down")
    calls = _failing(*[down] * 100)

    def failing_then_asked_to_stop() -> str:
        if len(clock.pauses) == 2:
            stop.set()  # SIGTERM arrives during the third try
        return calls()

    with pytest.raises(StopRequested, match="stopped while waiting to list the topics"):
        policy.call("list the topics", failing_then_asked_to_stop)
    assert len(clock.pauses) == 2 and StopRequested.exit_code == 0


def test_abortable_and_fatal_errors_are_not_retried() -> None:
    policy = ErrorPolicy(sleep=lambda _s: pytest.fail("no retry expected"))
    abortable = KafkaError(KafkaError._STATE, "txn failed", txn_requires_abort=True)
    with pytest.raises(TransactionAbortedError) as aborted:
        policy.call("commit the transaction", _failing(abortable))
    assert aborted.value.code == "_STATE"
    fenced = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    with pytest.raises(KafkaFatalError) as fatal:
        policy.call("commit the transaction", _failing(fenced))
    assert fatal.value.hint is not None and "--instance-id" in fatal.value.hint
    unknown = KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED, "no")
    with pytest.raises(KafkaFatalError, match="could not join: no"):
        policy.call("join", _failing(unknown))


def test_readiness_needs_partitions_a_recent_poll_and_no_stalled_transaction() -> None:
    now = [100.0]
    health = Health(stall_after_s=30, clock=lambda: now[0])
    assert health.ready() == (False, "no partitions assigned")
    health.assigned(3)
    assert health.ready() == (False, "no poll of the consumer for more than 30 s")
    health.polled()
    assert health.ready() == (True, "ready: 3 partitions assigned")
    health.transaction(open_since=100.0)
    now[0] = 131.0
    health.polled()
    assert health.ready() == (False, "a transaction is open for more than 30 s")
    health.transaction(None)
    health.committed()
    assert health.ready()[0]
    health.stopping()
    assert health.ready() == (False, "stopping")


def test_metrics_count_what_a_commit_made_visible() -> None:
    metrics = ServiceMetrics()
    metrics.committed(records=5, changes={("public.orders", "u"): 4}, facts={"t.v1": 2},
                      dead_letters={"undecodable": 1}, duplicates={"public.orders": 3},
                      latencies_s=[0.02, 0.3], commit_s=0.004, oldest_change_s=0.03)
    metrics.aborted()
    metrics.partitions(2, {("shop.public.orders", 0): 7})
    assert metrics.value("cdc_facts_changes_consumed_total", table="public.orders",
                         op="u") == 4
    assert metrics.value("cdc_facts_dead_letters_total", reason="undecodable") == 1
    assert metrics.value("cdc_facts_duplicates_dropped_total", table="public.orders") == 3
    assert metrics.value("cdc_facts_transaction_commits_total") == 1
    assert metrics.value("cdc_facts_transaction_aborts_total") == 1
    assert metrics.value("cdc_facts_batch_records_sum") == 5
    assert metrics.value("cdc_facts_end_to_end_latency_seconds_count") == 2
    assert metrics.value("cdc_facts_transaction_commit_seconds_bucket", le="0.005") == 1
    assert metrics.value("cdc_facts_transaction_commit_seconds_bucket", le="0.002") == 0
    assert metrics.value("cdc_facts_translation_latency_seconds_bucket", le="0.025") == 0
    assert metrics.value("cdc_facts_translation_latency_seconds_bucket", le="0.05") == 1
    assert metrics.value("cdc_facts_consumer_lag", topic="shop.public.orders",
                         partition="0") == 7
    assert metrics.value("cdc_facts_assigned_partitions") == 2
    metrics.forget([("shop.public.orders", 0)])
    assert metrics.value("cdc_facts_consumer_lag", topic="shop.public.orders",
                         partition="0") is None
    assert b"cdc_facts_facts_produced_total" in metrics.render()


class _Records:
    """A consumer client holding records of one partition (``(key, value)`` pairs)."""

    class _Message:
        def __init__(self, offset: int, key: bytes, value: bytes, appended_ms: int) -> None:
            self._offset, self._key, self._value = offset, key, value
            self._appended_ms = appended_ms

        def timestamp(self) -> tuple[int, int]:
            return (2, self._appended_ms) if self._appended_ms > 0 else (0, -1)

        def error(self) -> None:
            return None

        def topic(self) -> str:
            return "shop.public.orders"

        def partition(self) -> int:
            return 0

        def offset(self) -> int:
            return self._offset

        def key(self) -> bytes:
            return self._key

        def value(self) -> bytes:
            return self._value

        def headers(self) -> None:
            return None

    def __init__(self, records: list[tuple[bytes, bytes]], appended_ms: int = -1) -> None:
        """``appended_ms``: the first record's broker timestamp, one ms more for each next
        one (-1: no timestamp)."""
        self.waiting = [self._Message(n, k, v, appended_ms + n if appended_ms > 0 else -1)
                        for n, (k, v) in enumerate(records)]

    def consume(self, asked: int, _timeout: float) -> list[_Message]:
        taken, self.waiting = self.waiting[:asked], self.waiting[asked:]
        return taken

    def get_watermark_offsets(self, _partition: object, cached: bool) -> tuple[int, int]:
        return 0, 8

    def consumer_group_metadata(self) -> object:
        return object()


def _order(op: str, lsn: int, status: str = "placed", **source: object) -> tuple[bytes, bytes]:
    row = {"id": 1, "status": status, "total_cents": 100, "qty": 1}
    return b'{"id": 1}', json.dumps({
        "op": op, "before": row if op == "u" else None, "after": row, "ts_ms": 1,
        "source": {"name": "shop", "table": "orders", "lsn": lsn,
                   "sequence": f'["{lsn - 5}","{lsn}"]', **source}}).encode()


def test_a_commit_counts_what_its_batch_read_made_and_dropped(tmp_path: Path) -> None:
    """Changes by table and operation (however the source block names the table), facts by
    type, repeats, dead letters, and one latency for each source time of a fact."""
    mappings = orders_mapping(tmp_path, "shop", "orders", "facts")
    settings = load_settings({"mappings": (str(mappings),), "group_id": "grp",
                              "bootstrap_servers": "unused:9092"}, environ={})
    calls: list[tuple[str, str]] = []
    producer = TransactionalProducer(
        {}, factory=lambda config: _TxnClient(config, calls))  # type: ignore[arg-type,return-value]
    service = Service(settings, Translator(load_mappings([mappings])), producer=producer)
    records = _Records([
        _order("c", 1010, schema="public", ts_ms=1_000),  # OrderPlaced
        _order("c", 1020, db="public", ts_ms=2_000),  # OrderPlaced: a MySQL-like block
        _order("c", 1030, table="public.orders", ts_ms=4_000),  # no mapping: dead letter
        _order("u", 1040, schema="public", ts_ms=3_000),  # no fact
        _order("c", 1010, schema="public", ts_ms=1_000),  # a repeat
        (b"k", b"not json"),  # undecodable: dead letter
        _order("c", 1060, schema="public", name="other"),  # another connector: dead letter
        _order("c", 1070, schema="public", ts_ms=2_000),  # the first connector again
    ], appended_ms=int(time.time() * 1000) - 5_000)  # appended 5 s ago
    service._consumer = ChangeConsumer({}, factory=lambda _config: records)  # type: ignore[arg-type,return-value]
    service._next[("shop.public.orders", 0)] = 0
    service.step()  # reads the eight records
    service.step()  # finds nothing more: commits
    metrics = service.metrics

    def count(name: str, **labels: str) -> float | None:
        return metrics.value(f"cdc_facts_{name}_total", **labels)

    assert count("changes_consumed", table="public.orders", op="c") == 5
    assert count("changes_consumed", table="public.orders", op="u") == 1
    assert count("facts_produced", type="sales.OrderPlaced.v1") == 3
    assert count("duplicates_dropped", table="public.orders") == 1
    assert count("dead_letters", reason="unknown-table") == 2
    assert count("dead_letters", reason="undecodable") == 1
    # the source times of facts, each once: 1 s and 2 s (not 3 s: no fact; not 4 s)
    assert metrics.value("cdc_facts_end_to_end_latency_seconds_count") == 2
    assert metrics.value("cdc_facts_batch_records_sum") == 8
    # once for the transaction, from its oldest record's broker timestamp: 5 s and a little
    translation = "cdc_facts_translation_latency_seconds"
    assert metrics.value(f"{translation}_count") == 1
    assert metrics.value(f"{translation}_bucket", le="2.5") == 0
    assert metrics.value(f"{translation}_bucket", le="10.0") == 1
    assert count("transaction_commits") == 1 and service._marks.pending() == {}
    assert service._marks.get(MarkKey("shop.public.orders", 0, "shop")) == HighWaterMark(
        "pg", (1065, 1070), frozenset({'{"id": 1}'}))
    assert service._marks.get(MarkKey("shop.public.orders", 0, "other")) == HighWaterMark(
        "pg", (1055, 1060), frozenset({'{"id": 1}'}))


class _FencedClient:
    """A consumer client whose poll relays the client's fatal error, as librdkafka does when
    a newer member joins with the same group.instance.id."""

    class _Message:
        def error(self) -> KafkaError:
            return KafkaError(KafkaError._FATAL, "Fatal error: Broker: Static consumer fenced "
                              "by other consumer with same group.instance.id")

        def topic(self) -> str:
            return "shop.public.orders"

    def consume(self, _max: int, _timeout: float) -> list[object]:
        return [self._Message()]


def test_a_relayed_fatal_error_stops_the_consumer_and_names_the_instance_id() -> None:
    consumer = ChangeConsumer({}, factory=lambda _config: _FencedClient())  # type: ignore[arg-type,return-value]
    with pytest.raises(KafkaFatalError, match="group.instance.id") as fatal:
        consumer.consume(10, 0)
    assert fatal.value.hint is not None and "give each instance its own --instance-id" in \
        fatal.value.hint


class _TxnClient:
    """A fake transactional client noting what it was asked, by its transactional id."""

    def __init__(self, config: dict[str, Any], calls: list[tuple[str, str]]) -> None:
        self.id = str(config.get("transactional.id"))
        self.calls = calls

    def __getattr__(self, name: str) -> Callable[..., int]:
        def call(*_args: object, **_kwargs: object) -> int:
            self.calls.append((self.id, name))
            return 0
        return call


class _Group:
    def group_metadata(self) -> object:
        return object()

    def forget_group_metadata(self) -> None:
        pass


def test_transactions_alternate_between_two_transactional_ids() -> None:
    """The next transaction runs on the other id, whose coordinator state is not still
    completing the last commit; both ids are initialised (fencing older instances)."""
    calls: list[tuple[str, str]] = []
    producer = TransactionalProducer(
        {"transactional.id": "cdc-facts-grp-a"},
        factory=lambda config: _TxnClient(config, calls))  # type: ignore[arg-type,return-value]
    assert producer.transactional_ids == ("cdc-facts-grp-a", "cdc-facts-grp-a.alt")
    producer.start()
    for _ in range(2):
        producer.begin()
        producer.produce("facts", b"k", b"v")
        producer.commit({("changes", 0): 1}, _Group())  # type: ignore[arg-type]
    producer.begin()
    producer.abort()
    producer.begin()
    producer.serve()
    producer.close()
    first, second = "cdc-facts-grp-a", "cdc-facts-grp-a.alt"
    turns = [(who, what) for who, what in calls if what in (
        "init_transactions", "begin_transaction", "commit_transaction", "abort_transaction")]
    assert turns == [(first, "init_transactions"), (second, "init_transactions"),
                     (first, "begin_transaction"), (first, "commit_transaction"),
                     (second, "begin_transaction"), (second, "commit_transaction"),
                     (first, "begin_transaction"), (first, "abort_transaction"),
                     (second, "begin_transaction")]
    assert {who for who, what in calls if what == "poll"} == {first, second}
    assert {who for who, what in calls if what == "flush"} >= {first, second}  # closed


def test_without_a_transactional_id_there_is_one_client() -> None:
    calls: list[tuple[str, str]] = []
    producer = TransactionalProducer(
        {}, factory=lambda config: _TxnClient(config, calls))  # type: ignore[arg-type,return-value]
    producer.begin()
    producer.commit({}, _Group())  # type: ignore[arg-type]
    producer.begin()
    assert [who for who, what in calls if what == "begin_transaction"] == ["None", "None"]


def test_a_transaction_takes_the_marks_and_offsets_then_commits_without_a_flush() -> None:
    """commit_transaction delivers the records itself: a flush before the offsets would
    only put the marks' delivery in a row before them."""
    calls: list[tuple[str, str]] = []
    producer = TransactionalProducer(
        {"transactional.id": "t"},
        factory=lambda config: _TxnClient(config, calls))  # type: ignore[arg-type,return-value]
    producer.begin()
    producer.commit({("changes", 0): 1}, _Group(),  # type: ignore[arg-type]
                    marks=[("grp.positions", b"k", b"v")])
    steps = [what for _who, what in calls if what in (
        "produce", "flush", "send_offsets_to_transaction", "commit_transaction")]
    assert steps == ["produce", "send_offsets_to_transaction", "commit_transaction"]


class _DeliveringClient:
    """A fake producer client: records are delivered on flush, those to a ``failing``
    topic with an error (reported, as confluent-kafka does, only for those when the config
    asks for ``delivery.report.only.error``); notes each produce and flush, in order, in
    ``events``."""

    def __init__(self, config: dict[str, Any], events: list[tuple[str, str]]) -> None:
        self.delivered = config["on_delivery"]
        self.only_errors = config.get("delivery.report.only.error") is True
        self.events = events
        self.failing: set[str] = set()
        self.queued: list[str] = []

    def produce(self, topic: str, _value: bytes, _key: bytes, headers: object = None) -> None:
        self.events.append(("produce", topic))
        self.queued.append(topic)

    def flush(self, _timeout: float) -> int:
        self.events.append(("flush", ""))
        for topic in self.queued:
            failed = KafkaError(KafkaError._MSG_TIMED_OUT, "Local: Message timed out")
            if topic in self.failing or not self.only_errors:
                self.delivered(failed if topic in self.failing else None, None)
        self.queued.clear()
        return 0

    def poll(self, _timeout: float) -> int:
        return 0


class _Offsets:
    """Stands in for the consumer: notes the offsets committed."""

    def __init__(self, events: list[tuple[str, str]]) -> None:
        self.events = events

    def commit(self, offsets: dict[tuple[str, int], int]) -> None:
        self.events.append(("commit offsets", repr(offsets)))


def _at_least_once(events: list[tuple[str, str]], config: dict[str, str] | None = None
                   ) -> tuple[AtLeastOnceProducer, _DeliveringClient]:
    """An at-least-once producer over a :class:`_DeliveringClient` (created at once)."""
    clients: list[_DeliveringClient] = []

    def factory(client_config: dict[str, Any]) -> _DeliveringClient:
        clients.append(_DeliveringClient(client_config, events))
        return clients[-1]

    producer = AtLeastOnceProducer(config or {}, factory=factory)  # type: ignore[arg-type]
    _ = producer.client
    return producer, clients[0]


def test_at_least_once_writes_the_marks_only_after_the_facts_were_delivered() -> None:
    """Without a transaction, a mark delivered with facts that failed would make the next
    owner of the partition drop the changes read again as repeats: a loss."""
    events: list[tuple[str, str]] = []
    producer, client = _at_least_once(events)
    marks = [("grp.positions", b"k", b"v")]
    producer.produce("facts", b"k", b"f")
    client.failing = {"facts"}
    with pytest.raises(KafkaUnavailableError, match="could not deliver the batch: Local: "):
        producer.commit({("changes", 0): 1}, _Offsets(events), marks=marks)  # type: ignore[arg-type]
    assert events == [("produce", "facts"), ("flush", "")]  # no mark, no offsets
    events.clear()
    client.failing = set()
    producer.produce("facts", b"k", b"f")
    producer.commit({("changes", 0): 1}, _Offsets(events), marks=marks)  # type: ignore[arg-type]
    assert events == [("produce", "facts"), ("flush", ""), ("produce", "grp.positions"),
                      ("flush", ""), ("commit offsets", "{('changes', 0): 1}")]


def test_at_least_once_asks_the_client_to_report_only_failed_deliveries() -> None:
    """A delivered record calls no Python; the failures still reach the producer."""
    events: list[tuple[str, str]] = []
    producer, client = _at_least_once(events)
    assert client.only_errors
    producer.produce("facts", b"k", b"f")
    producer.commit({}, _Offsets(events))  # type: ignore[arg-type]
    client.failing = {"facts"}
    producer.produce("facts", b"k", b"f")
    with pytest.raises(KafkaUnavailableError, match="could not deliver the batch"):
        producer.commit({}, _Offsets(events))  # type: ignore[arg-type]


def test_at_least_once_commits_no_offsets_when_the_marks_fail() -> None:
    events: list[tuple[str, str]] = []
    producer, client = _at_least_once(events)
    client.failing = {"grp.positions"}
    with pytest.raises(KafkaUnavailableError, match="could not deliver the high-water marks"):
        producer.commit({("changes", 0): 1}, _Offsets(events),  # type: ignore[arg-type]
                        marks=[("grp.positions", b"k", b"v")])
    assert ("commit offsets", "{('changes', 0): 1}") not in events


class _Change:
    """A change record as the consumer hands it over."""

    def __init__(self, topic: str, connector: str) -> None:
        self._topic = topic
        self._value = json.dumps({
            "op": "c", "before": None, "ts_ms": 1,
            "after": {"id": 1, "status": "placed", "total_cents": 100, "qty": 1},
            "source": {"name": connector, "schema": "public", "table": "orders",
                       "lsn": 1010, "sequence": '["1005","1010"]', "ts_ms": 1}}).encode()

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 0

    def timestamp(self) -> tuple[int, int]:
        return 0, -1  # no timestamp: the transaction's translation latency is not observed

    def key(self) -> bytes:
        return b'{"id": 1}'

    def value(self) -> bytes:
        return self._value

    def headers(self) -> None:
        return None


class _ChangesClient:
    """A fake consumer client holding one change record, read again after a seek."""

    def __init__(self, record: _Change, events: list[tuple[str, str]]) -> None:
        self.record, self.events = record, events
        self.waiting = [record]

    def consume(self, asked: int, _timeout: float) -> list[_Change]:
        taken, self.waiting = self.waiting[:asked], self.waiting[asked:]
        return taken

    def seek(self, _partition: object) -> None:
        self.waiting = [self.record]

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        self.events.append(("commit offsets", ",".join(f"{p.topic}@{p.offset}" for p in offsets)))

    def get_watermark_offsets(self, _partition: object, cached: bool) -> tuple[int, int]:
        return 0, 1


def test_the_service_hands_the_marks_to_the_at_least_once_producer_after_the_facts(
        tmp_path: Path) -> None:
    """A failed delivery of facts leaves no mark behind; the batch read again writes the
    facts, then the mark, then commits the offsets."""
    connector, topic = "shop", "shop.public.orders"
    mappings = orders_mapping(tmp_path, connector, "orders", "facts")
    settings = load_settings({"mappings": (str(mappings),), "group_id": "grp",
                              "bootstrap_servers": "unused:9092", "batch_size": 1,
                              "guarantee": "at-least-once"}, environ={})
    events: list[tuple[str, str]] = []
    producer, client = _at_least_once(events, producer_config(settings))
    service = Service(settings, Translator(load_mappings([mappings])), producer=producer)
    changes = _ChangesClient(_Change(topic, connector), events)
    service._consumer = ChangeConsumer({}, factory=lambda _config: changes)  # type: ignore[arg-type,return-value]
    service._next[(topic, 0)] = 0  # as if assigned, at the start of the partition
    client.failing = {"facts"}

    service.step()  # the facts are not delivered: the batch is aborted and read again
    assert events == [("produce", "facts"), ("flush", "")]
    assert service.metrics.value("cdc_facts_transaction_aborts_total") == 1
    events.clear()
    client.failing = set()
    service.step()
    assert events == [("produce", "facts"), ("flush", ""), ("produce", "grp.positions"),
                      ("flush", ""), ("commit offsets", f"{topic}@1")]
    assert service.metrics.value("cdc_facts_transaction_commits_total") == 1
