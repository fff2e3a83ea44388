"""What an aborted transaction reads again, and what a record too large for Kafka becomes.

The service runs here on fake Kafka clients (a consumer over in-memory partition logs, a
producer that keeps what each transaction made visible), so that a failure can be put at
an exact record of a poll.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from cdc_facts import service as service_module
from cdc_facts.errors import KafkaFatalError, TransactionAbortedError
from cdc_facts.kafka import BaseFactProducer, ChangeConsumer
from cdc_facts.rules import load_mappings
from cdc_facts.service import FINISH_RETRY_S, BatchPolicy, Service
from cdc_facts.settings import load_settings
from cdc_facts.translator import Translator

TOPIC = "shop.public.orders"
MAPPING = """\
domain: sales
owner: tests
source: {connector: shop, table: public.orders, key: [id]}
facts:
  - name: OrderPlaced
    version: 1
    when: op = 'c'
    key: after.id
    topic: facts.orders
    data:
      order_id: {expr: after.id, type: integer, nullable: false}
      note: after.note
"""


class _Message:
    def __init__(self, partition: int, offset: int, order: int, note: str = "") -> None:
        self._partition, self._offset, self._order = partition, offset, order
        lsn = 1000 * (partition + 1) + offset * 10
        self._value = json.dumps({
            "before": None, "after": {"id": order, "note": note}, "op": "c", "ts_ms": 1,
            "source": {"name": "shop", "schema": "public", "table": "orders", "lsn": lsn,
                       "sequence": json.dumps([str(lsn), str(lsn)]), "ts_ms": 1}}).encode()

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return 2, 1_700_000_000_000 + self._offset  # the broker's append time

    def key(self) -> bytes:
        return json.dumps({"id": self._order}).encode()

    def value(self) -> bytes:
        return self._value

    def headers(self) -> None:
        return None

    def error(self) -> None:
        return None


class _ConsumerClient:
    """Partition logs, read in partition order, with a position per partition."""

    def __init__(self, logs: dict[int, list[_Message]]) -> None:
        self.logs = logs
        self.position = dict.fromkeys(logs, 0)

    def consume(self, count: int, _timeout: float) -> list[_Message]:
        out: list[_Message] = []
        for partition in sorted(self.logs):
            while len(out) < count and self.position[partition] < len(self.logs[partition]):
                out.append(self.logs[partition][self.position[partition]])
                self.position[partition] += 1
        return out

    def seek(self, tp: TopicPartition) -> None:
        self.position[tp.partition] = tp.offset

    def committed(self, asked: list[TopicPartition], _timeout: float) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, -1001) for tp in asked]

    def consumer_group_metadata(self) -> object:
        return object()

    def get_watermark_offsets(self, tp: TopicPartition, **_: Any) -> tuple[int, int]:
        return 0, len(self.logs[tp.partition])

    def close(self) -> None:
        pass


class _Producer(BaseFactProducer):
    """Transactions in memory: ``visible`` holds what committed transactions made."""

    def __init__(self, fail_produce: set[int] | None = None, fail_begin: int = 0) -> None:
        super().__init__({})
        self.visible: list[tuple[str, bytes | None, bytes | None]] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self._open: list[tuple[str, bytes | None, bytes | None]] = []
        self._produced, self._begun = 0, 0
        self._fail_produce, self._fail_begin = fail_produce or set(), fail_begin

    def begin(self) -> None:
        self._begun += 1
        if self._begun == self._fail_begin:
            raise TransactionAbortedError("could not begin a transaction: _STATE")
        self._open = []

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None) -> None:
        self._produced += 1
        if self._produced in self._fail_produce:
            raise TransactionAbortedError("could not produce to facts.orders: _STATE")
        self._open.append((topic, key, value))

    def serve(self) -> None:
        pass

    def commit(self, offsets: Any, consumer: Any, *args: Any, **kwargs: Any) -> None:
        for record in kwargs.get("marks", ()):
            self._open.append(record)
        self.visible += self._open
        self._open = []
        self.offsets.update(offsets)

    def abort(self) -> None:
        self._open = []

    def close(self) -> None:
        pass

    def orders(self, topic: str = "facts.orders") -> list[int]:
        return sorted(json.loads(v or b"")["data"]["order_id"] for t, _k, v in self.visible
                      if t == topic)


class _Store:
    def refresh(self) -> None:
        pass

    def marks(self, _partitions: Any) -> dict[Any, Any]:
        return {}

    def close(self) -> None:
        pass


def _service(tmp_path: Path, producer: _Producer, logs: dict[int, list[_Message]],
             environ: dict[str, str] | None = None) -> Service:
    (tmp_path / "orders.yaml").write_text(MAPPING)
    settings = load_settings({"group_id": "g", "mappings": (str(tmp_path),),
                              "bootstrap_servers": "127.0.0.1:9", "instance_id": "i"},
                             environ or {})
    service = Service(settings, Translator(load_mappings([tmp_path])), producer=producer)
    client = _ConsumerClient(logs)
    service._consumer = ChangeConsumer({}, factory=lambda _config: client)  # type: ignore[arg-type]
    service._store = _Store()  # type: ignore[assignment]
    service.on_assign([(TOPIC, p) for p in logs])
    return service


def _logs(*partitions: int, per_partition: int = 3) -> dict[int, list[_Message]]:
    return {p: [_Message(p, o, p * 100 + o) for o in range(per_partition)] for p in partitions}


@pytest.fixture(autouse=True)
def _no_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(service_module.time, "sleep", pauses.append)
    return pauses


def test_an_abort_half_way_through_a_poll_reads_every_partition_of_it_again(
        tmp_path: Path) -> None:
    # one poll holds partitions 0 and 1; the second fact (order 1, partition 0) fails, so
    # partition 1's records were returned by the poll but never handled
    producer = _Producer(fail_produce={2})
    service = _service(tmp_path, producer, _logs(0, 1))
    for _ in range(6):
        service.step()
    assert producer.orders() == [0, 1, 2, 100, 101, 102]
    assert producer.offsets == {(TOPIC, 0): 3, (TOPIC, 1): 3}


def test_a_transaction_that_cannot_begin_reads_its_poll_again(tmp_path: Path) -> None:
    producer = _Producer(fail_begin=1)
    service = _service(tmp_path, producer, _logs(0, 1))
    for _ in range(6):
        service.step()
    assert producer.orders() == [0, 1, 2, 100, 101, 102]


def test_aborts_in_a_row_wait_longer_each_time_and_a_commit_resets_the_wait(
        tmp_path: Path, _no_pauses: list[float]) -> None:
    producer = _Producer(fail_begin=1)
    service = _service(tmp_path, producer, _logs(0))
    for failure in range(1, 4):
        producer._begun, producer._fail_begin = 0, 1  # the next begin fails again
        service.step()
        assert len(_no_pauses) == failure
    assert _no_pauses == [0.1, 0.2, 0.4]
    producer._fail_begin = 0
    for _ in range(3):
        service.step()
    assert producer.orders() == [0, 1, 2]
    producer._fail_begin, producer._begun = 1, 0
    service._consumer.client.logs[0].append(_Message(0, 3, 3))  # type: ignore[attr-defined]
    service.step()
    assert _no_pauses[-1] == 0.1  # the streak ended with the commit


def test_a_fact_too_large_for_kafka_is_a_dead_letter_and_the_rest_goes_on(
        tmp_path: Path) -> None:
    logs = {0: [_Message(0, 0, 1), _Message(0, 1, 2, note="x" * 5000), _Message(0, 2, 3)]}
    producer = _Producer()
    service = _service(tmp_path, producer, logs,
                       {"CDC_FACTS__KAFKA__MESSAGE_MAX_BYTES": "4000"})
    for _ in range(4):
        service.step()
    assert producer.orders() == [1, 3]
    dead = [(k, v) for t, k, v in producer.visible if t == "g.dead-letter"]
    assert dead == [(logs[0][1].key(), logs[0][1].value())]
    assert service.metrics.value("cdc_facts_dead_letters_total", reason="fact-too-large") == 1


@pytest.mark.parametrize("source", ["x", {"name": ["shop"], "schema": "public",
                                           "table": "orders", "lsn": 1015}])
def test_a_record_whose_source_is_not_what_debezium_writes_is_a_dead_letter(
        tmp_path: Path, source: object) -> None:
    # it used to raise AttributeError (source.get) or TypeError (an unhashable name) out of
    # the step, so the service stopped and, restarted, met the same record again
    poison = _Message(0, 1, 2)
    poison._value = json.dumps({"before": None, "after": {"id": 2, "note": ""}, "op": "c",
                                "ts_ms": 1, "source": source}).encode()
    logs = {0: [_Message(0, 0, 1), poison, _Message(0, 2, 3)]}
    producer = _Producer()
    service = _service(tmp_path, producer, logs)
    for _ in range(4):
        service.step()
    assert producer.orders() == [1, 3]
    dead = [(k, v) for t, k, v in producer.visible if t == "g.dead-letter"]
    assert dead == [(poison.key(), poison.value())]
    assert service.metrics.value("cdc_facts_dead_letters_total", reason="undecodable") == 1
    assert producer.offsets == {(TOPIC, 0): 3}


class _FencedAtCommit(_Producer):
    def commit(self, offsets: Any, consumer: Any, *args: Any, **kwargs: Any) -> None:
        raise KafkaFatalError("could not commit the transaction: fenced", code="_FENCED")


def test_a_stop_whose_last_commit_is_fenced_does_not_look_clean(tmp_path: Path) -> None:
    producer = _FencedAtCommit()
    service = _service(tmp_path, producer, _logs(0))
    service.batching = BatchPolicy(max_records=1000, interval_s=60)
    service.step()  # one batch open, not yet due
    with pytest.raises(KafkaFatalError):
        service.close()
    assert producer.visible == []


def test_after_a_stop_failing_calls_are_not_retried_but_the_last_commit_may_retry(
        tmp_path: Path) -> None:
    service = _service(tmp_path, _Producer(), _logs(0))
    stop = threading.Event()
    service._stop = stop
    assert not service._stopping()
    stop.set()
    assert service._stopping()  # a step's call gives up at once: its batch is aborted
    service._finish_until = time.monotonic() + FINISH_RETRY_S
    assert not service._stopping()  # the last commit retries for a while
    service._finish_until = time.monotonic() - 1
    assert service._stopping()
