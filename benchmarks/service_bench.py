"""Service benchmark: the translator on the real broker, against a plain passthrough.

Pre-loads a change topic with ``--records`` generated Debezium records (PostgreSQL,
schemas off, orders placed and paid) that match a four-rule mapping, then reads all of
them, in one process, with each of:

* ``B1 passthrough``: consume -> produce the same bytes -> commit offsets (at-least-once),
  with the same client library, consumer and producer settings and batching as the service;
* ``translator at-least-once``: ``cdc-facts run --guarantee at-least-once``, 1 s commits;
* ``exactly-once 100ms / 1s / 5s``: the service with Kafka transactions, committing at
  that interval (the batch size is set high enough that the interval decides);
* ``exactly-once defaults``: 5000 records or 1 s, whichever comes first;
* ``engine alone``: decode, translate and encode the same records in a loop, without
  Kafka: the ceiling of any translator run on this machine.

Then the latency the translator adds, alone on the broker (no database, no Debezium):
for each of ``--latency-rates``, change records are written one by one at that rate for
``--latency-seconds`` into a fresh topic, the service runs with its default settings, and
a ``read_committed`` consumer notes when each fact becomes readable. Both topics stamp
records with the broker's append time (``LogAppendTime``); the figures are p50, p99 and
p99.9 of *change appended -> fact appended* and *change appended -> fact readable*,
leaving out the first second (the clients' first requests: metadata, coordinators).

Each run starts a fresh consumer group at the start of the topic and is timed from the
moment its partitions are assigned until every record is committed. Figures: records per
second (wall clock) and records per CPU-second (``time.process_time``, every thread of
the process, librdkafka's included), each the median of ``--repeat`` runs. At the end,
even after a failure, it deletes every topic and consumer group it made.

    eval "$(cdc-facts local env)"
    .venv/bin/python benchmarks/service_bench.py [--records 200000] [--repeat 3]
                                                 [--latency-rates 5,200,600]

Writes ``benchmarks/results/service.json``. Not a test: ``make test`` does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pipeline.capture import (  # noqa: E402
    create_topics,
    delete_group,
    delete_topics,
)
from cdc_facts.facts import encode_fact, fact_headers  # noqa: E402
from cdc_facts.kafka import AtLeastOnceProducer, ChangeConsumer, Partition  # noqa: E402
from cdc_facts.rules import load_mappings  # noqa: E402
from cdc_facts.service import (  # noqa: E402
    CONSUME_CHUNK,
    BatchPolicy,
    Service,
    consumer_config,
    poll_batch,
    producer_config,
)
from cdc_facts.settings import ServiceSettings, load_settings  # noqa: E402
from cdc_facts.translator import Translator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "service.json"
GOALS = {"translator_vs_passthrough": 0.6, "exactly_once_vs_at_least_once": 0.9}
ENGINE = "engine alone, no Kafka (decode, translate, encode)"
PARTITIONS = 3

MAPPING = """\
domain: bench
owner: benchmarks
source: {{connector: {connector}, table: public.orders, key: [id]}}
facts:
  - name: OrderPlaced
    version: 1
    when: op = 'c'
    key: after.id
    topic: {topic}
    occurred_at: after.placed_at
    data:
      order_id: {{expr: after.id, type: integer, nullable: false}}
      customer_id: {{expr: after.customer_id, type: integer, nullable: false}}
      total: {{expr: after.total, type: decimal, nullable: false}}
      currency: {{expr: after.currency, type: string, nullable: false}}
      placed_at: {{expr: after.placed_at, type: timestamp, nullable: false}}
  - name: OrderPaid
    version: 1
    when: op = 'u' AND before.status IS DISTINCT FROM 'paid' AND after.status = 'paid'
    key: after.id
    topic: {topic}
    occurred_at: COALESCE(after.paid_at, after.placed_at)
    data:
      order_id: {{expr: after.id, type: integer, nullable: false}}
      total: {{expr: after.total, type: decimal, nullable: false}}
      currency: {{expr: after.currency, type: string, nullable: false}}
  - name: OrderCancelled
    version: 1
    when: op = 'u' AND before.status IS DISTINCT FROM 'cancelled' AND after.status = 'cancelled'
    key: after.id
    topic: {topic}
    data:
      order_id: {{expr: after.id, type: integer, nullable: false}}
  - name: OrderTotalChanged
    version: 1
    when: op = 'u' AND before.total <> after.total
    key: after.id
    topic: {topic}
    data:
      order_id: {{expr: after.id, type: integer, nullable: false}}
      old_total: {{expr: before.total, type: decimal, nullable: false}}
      new_total: {{expr: after.total, type: decimal, nullable: false}}
"""


class _Made:
    """What the runs make on the broker, deleted at the end: topics and consumer groups
    (transactional ids cannot be deleted through Kafka's API)."""

    def __init__(self) -> None:
        self.topics: set[str] = set()
        self.groups: set[str] = set()

    def settings(self, settings: ServiceSettings) -> ServiceSettings:
        """Note the group of ``settings`` and the topics the service makes for it."""
        self.groups.add(settings.group_id)
        self.topics.update({settings.dead_letter_topic, settings.positions_topic})
        return settings

    def clean(self, bootstrap: str) -> None:
        print(f"deleting {len(self.topics)} topics and {len(self.groups)} consumer groups",
              file=sys.stderr)
        if self.topics:
            delete_topics(bootstrap, sorted(self.topics))
        for group in sorted(self.groups):  # a static member leaves when its session ends
            delete_group(bootstrap, group)
        self.topics.clear()
        self.groups.clear()


#: Everything this process made on the broker.
MADE = _Made()


# --- the input -----------------------------------------------------------------------------


def _row(order: int, status: str) -> dict[str, Any]:
    return {"id": order, "customer_id": order % 997, "status": status,
            "total": f"{order % 500}.{order % 100:02d}", "currency": "EUR", "carrier": None,
            "placed_at": "2024-05-01T10:00:00.123456Z",
            "paid_at": "2024-05-01T10:05:00Z" if status == "paid" else None,
            "shipped_at": None, "cancelled_at": None, "cancel_reason": None}


def change_record(connector: str, index: int) -> tuple[bytes, bytes]:
    """Record ``index``: even ones place order ``index // 2``, odd ones pay it."""
    order, paid = index // 2 + 1, index % 2 == 1
    lsn = 24_000_000 + index * 120
    source = {"version": "3.5.0.Final", "connector": "postgresql", "name": connector,
              "ts_ms": int(time.time() * 1000), "snapshot": "false", "db": "shop",
              "sequence": f'["{lsn - 40}","{lsn}"]', "ts_us": 0, "ts_ns": 0,
              "schema": "public", "table": "orders", "txId": 1000 + index // 2, "lsn": lsn,
              "xmin": None}
    value = {"before": _row(order, "placed") if paid else None,
             "after": _row(order, "paid" if paid else "placed"), "source": source,
             "transaction": None, "op": "u" if paid else "c",
             "ts_ms": source["ts_ms"], "ts_us": 0, "ts_ns": 0}
    return json.dumps({"id": order}).encode(), json.dumps(value).encode()


def preload(bootstrap: str, topic: str, connector: str, records: int) -> int:
    """Write the records (keyed by order, so an order's changes share a partition)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    MADE.topics.add(topic)
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                         "compression.type": "none", "enable.idempotence": True})
    size = 0
    for index in range(records):
        key, value = change_record(connector, index)
        size += len(value)
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(120)
    return size // records


# --- the runs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    name: str
    records: int
    wall_s: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.records / self.wall_s

    @property
    def per_cpu_s(self) -> float:
        return self.records / self.cpu_s


def _settings(mappings: Path, bootstrap: str, **options: object) -> ServiceSettings:
    return MADE.settings(load_settings(
        {"mappings": (str(mappings),), "group_id": f"bench-{uuid.uuid4().hex}",
         "bootstrap_servers": bootstrap, "instance_id": "bench", **options}, environ={}))


def run_service(name: str, mappings: Path, bootstrap: str, records: int,
                **options: object) -> Run:
    """The service, in a thread of this process, until every record is committed."""
    settings = _settings(mappings, bootstrap, **options)
    service = Service(settings, Translator(load_mappings([mappings])))
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    value = service.metrics.value
    _wait(lambda: (value("cdc_facts_assigned_partitions") or 0) >= PARTITIONS, thread)
    wall, cpu = time.perf_counter(), time.process_time()
    _wait(lambda: (value("cdc_facts_batch_records_sum") or 0) >= records, thread)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stop.set()
    thread.join(120)
    return Run(name, records, wall, cpu)


def _wait(condition: Callable[[], bool], thread: threading.Thread,
          timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the run stopped before it read every record")
        time.sleep(0.02)


class _Assigned:
    def __init__(self) -> None:
        self.at: tuple[float, float] | None = None

    def on_assign(self, partitions: list[Partition]) -> dict[Partition, int | None]:
        self.at = self.at or (time.perf_counter(), time.process_time())
        return {}

    def on_revoke(self, partitions: list[Partition]) -> None:
        pass

    def on_lost(self, partitions: list[Partition]) -> None:
        pass


def run_passthrough(topic: str, mappings: Path, bootstrap: str, records: int) -> Run:
    """B1: the same bytes to another topic, offsets committed after a flush, batched and
    polled as the service does."""
    settings = _settings(mappings, bootstrap, guarantee="at-least-once")
    consumer = ChangeConsumer(consumer_config(settings))
    producer = AtLeastOnceProducer(producer_config(settings))
    batching, assigned, out = BatchPolicy(1_000_000, 1.0), _Assigned(), f"{topic}.passthrough"
    MADE.topics.add(out)
    consumer.subscribe([topic], assigned)
    done, count, offsets, opened = 0, 0, {}, None
    while done < records:
        asked = min(CONSUME_CHUNK, batching.room(count))
        messages = poll_batch(consumer, asked, opened is not None)
        quiet = opened is not None and not messages
        for message in messages:
            producer.produce(out, message.key(), message.value(), message.headers())
            offsets[(message.topic() or "", message.partition() or 0)] = message.offset() + 1
        if messages and opened is None:
            opened = time.monotonic()
        count, done = count + len(messages), done + len(messages)
        if opened is not None and (done >= records or batching.due(
                count, time.monotonic() - opened, quiet)):
            producer.commit(offsets, consumer)
            count, offsets, opened = 0, {}, None
    assert assigned.at is not None
    wall, cpu = time.perf_counter() - assigned.at[0], time.process_time() - assigned.at[1]
    consumer.close()
    producer.close()
    return Run("B1 passthrough (at-least-once)", records, wall, cpu)


def run_engine(connector: str, mappings: Path, records: int) -> Run:
    """The ceiling: decode, translate and encode the same records, without Kafka."""
    translator = Translator(load_mappings([mappings]))
    inputs = [change_record(connector, index) for index in range(records)]
    decode, topic = translator.decode, f"{connector}.public.orders"
    wall, cpu = time.perf_counter(), time.process_time()
    for offset, (key, value) in enumerate(inputs):
        change = decode(value, key, topic, 0, offset)  # as the service decodes
        for fact in translator.translate(change):  # type: ignore[arg-type]
            encode_fact(fact)
            fact_headers(fact)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Run(ENGINE, records, wall, cpu)


# --- latency ---------------------------------------------------------------------------


class _Tail:
    """A read_committed consumer noting, per order id, when its fact became readable and
    when it was appended."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.seen: dict[int, tuple[float, int]] = {}
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                                   "enable.auto.commit": False,
                                   "isolation.level": "read_committed"})
        self._consumer.assign([TopicPartition(topic, 0, 0)])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _poll(self) -> list[Message]:
        messages = self._consumer.consume(1, 0.05)  # the first at once, not after 50 ms
        return messages + self._consumer.consume(999, 0) if messages else messages

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._poll():
                if message.error() is None:
                    fact = json.loads(message.value() or b"{}")
                    self.seen[fact["data"]["order_id"]] = (time.time() * 1000,
                                                           message.timestamp()[1])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def _write_at(bootstrap: str, topic: str, connector: str, rate: float,
              seconds: float) -> dict[int, int]:
    """Change records placing orders 1, 2... at ``rate`` a second; their append times."""
    appended: dict[int, int] = {}

    def delivered(error: object, message: Message) -> None:
        if error is None:
            appended[json.loads(message.key() or b"{}")["id"]] = message.timestamp()[1]

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    start = time.perf_counter()
    for index in range(int(rate * seconds)):
        key, value = change_record(connector, 2 * index)
        producer.produce(topic, value, key, on_delivery=delivered)
        while (wait := start + (index + 1) / rate - time.perf_counter()) > 0:
            producer.poll(min(wait, 0.005))
    producer.flush(30)
    return appended


def run_latency(bootstrap: str, rate: float, seconds: float,
                linger_ms: int = 0) -> dict[str, Any]:
    """The service with its defaults (but ``transaction_linger_ms``), fed ``rate`` change
    records a second."""
    connector = f"lat_{uuid.uuid4().hex[:8]}"
    topic, facts = f"{connector}.public.orders", f"{connector}.facts"
    MADE.topics.update((topic, facts))
    create_topics(bootstrap, [topic, facts])  # stamped with the broker's append time
    with tempfile.TemporaryDirectory() as tmp:
        mappings = Path(tmp) / "orders.yaml"
        mappings.write_text(MAPPING.format(connector=connector, topic=facts))
        settings = _settings(mappings, bootstrap, transaction_linger_ms=linger_ms)
        service = Service(settings, Translator(load_mappings([mappings])))
        stop = threading.Event()
        thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
        thread.start()
        _wait(lambda: (service.metrics.value("cdc_facts_assigned_partitions") or 0) >= 1,
              thread)
        tail = _Tail(bootstrap, facts)
        appended = _write_at(bootstrap, topic, connector, rate, seconds)
        _wait(lambda: len(tail.seen) >= len(appended), thread, timeout=60)
        stop.set()
        thread.join(60)
        tail.close()
    warm_up = max(5, int(rate))  # the first second: the clients' first requests
    seen = [(tail.seen[order], at) for order, at in appended.items()
            if order > warm_up and order in tail.seen]
    return {"rate": rate, "linger_ms": linger_ms, "seconds": seconds, "changes": len(appended),
            "fact_appended_ms": _percentiles([fact_at - at for (_, fact_at), at in seen]),
            "fact_readable_ms": _percentiles([readable - at for (readable, _), at in seen])}


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))], 1)

    return {"p50": rank(0.5), "p99": rank(0.99), "p99.9": rank(0.999)} if ordered else {}


# --- the report ----------------------------------------------------------------------------


VARIANTS: dict[str, dict[str, object]] = {
    "translator at-least-once (1s)": {"guarantee": "at-least-once",
                                      "commit_interval_ms": 1000, "batch_size": 1_000_000},
    "exactly-once 100ms": {"commit_interval_ms": 100, "batch_size": 1_000_000},
    "exactly-once 1s": {"commit_interval_ms": 1000, "batch_size": 1_000_000},
    "exactly-once 5s": {"commit_interval_ms": 5000, "batch_size": 1_000_000},
    "exactly-once defaults (5000 records or 1s)": {},
}


def benchmark(bootstrap: str, records: int, repeat: int) -> dict[str, Any]:
    connector = f"bench_{uuid.uuid4().hex[:8]}"
    topic = f"{connector}.public.orders"
    with tempfile.TemporaryDirectory() as tmp:
        mappings = Path(tmp) / "orders.yaml"
        mappings.write_text(MAPPING.format(connector=connector, topic=f"{connector}.facts"))
        MADE.topics.add(f"{connector}.facts")  # made by the producer, on first use
        print(f"pre-loading {records:,} records into {topic} ...", file=sys.stderr)
        size = preload(bootstrap, topic, connector, records)
        runs: dict[str, list[Run]] = {"B1 passthrough (at-least-once)": []}
        runs.update({name: [] for name in VARIANTS})
        runs[ENGINE] = []
        for round_ in range(repeat):
            print(f"round {round_ + 1}/{repeat}", file=sys.stderr)
            runs[ENGINE].append(run_engine(connector, mappings, min(records, 50_000)))
            runs["B1 passthrough (at-least-once)"].append(
                run_passthrough(topic, mappings, bootstrap, records))
            for name, options in VARIANTS.items():
                runs[name].append(run_service(name, mappings, bootstrap, records, **options))
    return _summary(runs, records, size)


def _summary(runs: dict[str, list[Run]], records: int, size: int) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {
        name: {"records_per_s": statistics.median(r.per_s for r in done),
               "records_per_cpu_s": statistics.median(r.per_cpu_s for r in done),
               "wall_s": [round(r.wall_s, 2) for r in done],
               "cpu_s": [round(r.cpu_s, 2) for r in done]}
        for name, done in runs.items()}
    b1 = rows["B1 passthrough (at-least-once)"]
    alo, eos = rows["translator at-least-once (1s)"], rows["exactly-once 1s"]
    return {
        "records": records, "record_bytes": size, "partitions": PARTITIONS,
        "repeat": len(next(iter(runs.values()))), "python": platform.python_version(),
        "cpus": os.cpu_count(), "load_average": os.getloadavg()[0], "runs": rows,
        "ratios": {
            "translator_vs_passthrough": alo["records_per_s"] / b1["records_per_s"],
            "translator_vs_passthrough_cpu": alo["records_per_cpu_s"] / b1["records_per_cpu_s"],
            "exactly_once_vs_at_least_once": eos["records_per_s"] / alo["records_per_s"],
            "exactly_once_vs_at_least_once_cpu":
                eos["records_per_cpu_s"] / alo["records_per_cpu_s"],
            "translator_vs_engine_alone_cpu":
                alo["records_per_cpu_s"] / rows[ENGINE]["records_per_cpu_s"],
        },
        "goals": GOALS,
    }


def print_latency(rows: list[dict[str, Any]]) -> None:
    print(f"{'added latency, translator alone (ms)':52} {'p50':>8} {'p99':>8} {'p99.9':>8}")
    for row in rows:
        for stage in ("fact_appended_ms", "fact_readable_ms"):
            cells = "".join(f"{row[stage].get(q, float('nan')):>9.1f}"
                            for q in ("p50", "p99", "p99.9"))
            linger = f", linger {row['linger_ms']} ms" if row.get("linger_ms") else ""
            label = f"{row['rate']:g} changes/s{linger}, appended -> {stage[5:-3]}"
            print(f"{label:52}{cells}")


def print_table(result: dict[str, Any]) -> None:
    print(f"{result['records']:,} records of {result['record_bytes']} bytes, "
          f"{result['partitions']} partitions, median of {result['repeat']}; "
          f"python {result['python']}, {result['cpus']} cpus, load {result['load_average']:.1f}")
    print(f"{'run':52} {'records/s':>11} {'records/cpu-s':>14}")
    for name, row in result["runs"].items():
        print(f"{name:52} {row['records_per_s']:>11,.0f} {row['records_per_cpu_s']:>14,.0f}")
    for name, ratio in result["ratios"].items():
        goal = GOALS.get(name)
        print(f"{name:52} {ratio:>11.2f}" + (f"   goal >= {goal}" if goal else ""))


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.skip_throughput:
        result: dict[str, Any] = json.loads(RESULTS.read_text())
    else:
        result = benchmark(args.bootstrap_servers, args.records, args.repeat)
    rates = [float(r) for r in args.latency_rates.split(",") if r.strip()]
    if rates:
        lingers = [int(m) for m in args.latency_linger_ms.split(",") if m.strip()] or [0]
        result["latency"] = [run_latency(args.bootstrap_servers, rate, args.latency_seconds,
                                         linger) for rate in rates for linger in lingers]
        result["latency_load_average"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-rates", default="5,200,600",
                        help="change records/s of the latency runs (empty: none)")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--latency-linger-ms", default="0,5",
                        help="transaction_linger_ms values each latency rate runs with")
    parser.add_argument("--skip-throughput", action="store_true",
                        help="only the latency runs (the throughput figures are kept)")
    parser.add_argument("--bootstrap-servers",
                        default=os.environ.get("CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS"))
    args = parser.parse_args()
    if not args.bootstrap_servers:
        raise SystemExit("set --bootstrap-servers, or eval \"$(cdc-facts local env)\"")
    try:
        result = run(args)
    finally:
        MADE.clean(args.bootstrap_servers)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print_latency(result.get("latency", []))


if __name__ == "__main__":
    main()
