"""Helpers for the service's tests against the real stack: a captured PostgreSQL table, a
mapping over it, the translator as a thread or a process, and reading topics to their end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from cdc_facts.connect.client import ConnectClient
from cdc_facts.kafka import BaseFactProducer
from cdc_facts.preflight import admin_params
from cdc_facts.preflight.slots import drop_slot_and_publication
from cdc_facts.rules.loader import load_mappings
from cdc_facts.service import Service
from cdc_facts.settings import ServiceSettings, load_settings
from cdc_facts.translator import Translator
from tests.stack.helpers import dsn_parts, unique, wait_slot_active

ORDERS_COLUMNS = ("id int PRIMARY KEY, status text NOT NULL, total_cents int NOT NULL, "
                  "qty int NOT NULL")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- mappings ------------------------------------------------------------------------------


def orders_mapping(directory: Path, connector: str, table: str, facts_topic: str) -> Path:
    """A mapping over ``public.<table>``: OrderPlaced on insert (with a data field that
    divides by ``qty``), OrderPaid when the status becomes ``paid``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{table}.yaml"
    path.write_text(f"""\
domain: sales
owner: tests
source:
  connector: {connector}
  table: public.{table}
  key: [id]
facts:
  - name: OrderPlaced
    version: 1
    when: op = 'c'
    key: after.id
    topic: {facts_topic}
    data:
      order_id: {{expr: after.id, type: integer, nullable: false}}
      total_cents: {{expr: after.total_cents, type: integer, nullable: false}}
      unit_cents: {{expr: after.total_cents / after.qty, type: integer}}
  - name: OrderPaid
    version: 1
    when: op = 'u' AND before.status IS DISTINCT FROM 'paid' AND after.status = 'paid'
    key: after.id
    topic: {facts_topic}
    data:
      order_id: {{expr: after.id, type: integer, nullable: false}}
      total_cents: {{expr: after.total_cents, type: integer, nullable: false}}
""")
    return path


# --- PostgreSQL captured by Debezium -------------------------------------------------------


@dataclass
class Capture:
    """Tables owned by the ``cdc`` role, captured by one Debezium connector."""

    prefix: str
    tables: list[str]
    pg_cdc_dsn: str

    def topic(self, table: str) -> str:
        return f"{self.prefix}.public.{table}"

    def execute(self, *statements: str) -> None:
        """Run the statements in one transaction, as the ``cdc`` role."""
        with psycopg.connect(self.pg_cdc_dsn) as conn, conn.transaction():
            for statement in statements:
                conn.execute(statement)


def connector_config(prefix: str, tables: list[str], cdc_dsn: str) -> dict[str, str]:
    db = dsn_parts(cdc_dsn)
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": db["host"], "database.port": str(db["port"]),
        "database.user": db["user"], "database.password": db["password"],
        "database.dbname": db["dbname"], "topic.prefix": prefix,
        "plugin.name": "pgoutput", "publication.autocreate.mode": "filtered",
        "publication.name": f"{prefix}_pub", "slot.name": f"{prefix}_slot",
        "table.include.list": ",".join(f"public.{t}" for t in tables),
        "snapshot.mode": "no_data",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false",
    }


@contextmanager
def pg_capture(pg_dsn: str, pg_cdc_dsn: str, connect_url: str, bootstrap: str,
               tables: list[str], *, partitions: int = 1) -> Iterator[Capture]:
    """Create ``tables`` (orders-like), pre-create their change topics with ``partitions``
    partitions, capture them with a fresh connector; drop everything afterwards."""
    prefix = unique("svc")
    tables = [f"{t}_{prefix}" for t in tables]
    with psycopg.connect(pg_cdc_dsn, autocommit=True) as conn:
        for table in tables:
            conn.execute(f"CREATE TABLE public.{table} ({ORDERS_COLUMNS})")
            conn.execute(f"ALTER TABLE public.{table} REPLICA IDENTITY FULL")
    capture = Capture(prefix, tables, pg_cdc_dsn)
    create_topics(bootstrap, [capture.topic(t) for t in tables], partitions)
    client = ConnectClient(connect_url)
    try:
        client.put_config(prefix, connector_config(prefix, tables, pg_cdc_dsn))
        client.wait_running(prefix, timeout=120)
        wait_slot_active(pg_dsn, f"{prefix}_slot")
        yield capture
    finally:
        _drop_capture(client, pg_dsn, prefix, tables)


def _drop_capture(client: ConnectClient, pg_dsn: str, prefix: str, tables: list[str]) -> None:
    if client.exists(prefix):
        client.delete(prefix)
    drop_slot_and_publication(admin_params("postgres", pg_dsn), f"{prefix}_slot", f"{prefix}_pub")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for table in tables:
            conn.execute(f"DROP TABLE IF EXISTS public.{table}")


def create_topics(bootstrap: str, topics: list[str], partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    for future in futures.values():
        future.result()


# --- a workload of orders ------------------------------------------------------------------


@dataclass
class OrdersWorkload:
    """Places orders and pays some of them; knows the facts that must come out."""

    capture: Capture
    table: str
    expected: Counter[tuple[str, str]] = field(default_factory=Counter)
    next_id: int = 1

    def place(self, count: int, *, pay_every: int = 2) -> None:
        """Place ``count`` orders in one transaction; pay every ``pay_every``-th in another."""
        ids = list(range(self.next_id, self.next_id + count))
        self.next_id += count
        values = ", ".join(f"({i}, 'placed', {i * 100}, {1 + i % 3})" for i in ids)
        self.capture.execute(f"INSERT INTO {self.table} VALUES {values}")
        paid = [i for i in ids if i % pay_every == 0]
        if paid:
            self.capture.execute(f"UPDATE {self.table} SET status = 'paid' WHERE id IN "
                                 f"({', '.join(map(str, paid))})")
        self.expected.update(("sales.OrderPlaced.v1", str(i)) for i in ids)
        self.expected.update(("sales.OrderPaid.v1", str(i)) for i in paid)

    def run_until(self, stop: threading.Event, batch: int = 5, pause_s: float = 0.05) -> None:
        """Place orders continuously until ``stop`` is set."""
        while not stop.is_set():
            self.place(batch)
            time.sleep(pause_s)

    @contextmanager
    def running(self, batch: int = 5, pause_s: float = 0.05) -> Iterator[None]:
        """Place orders in a background thread while the block runs."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run_until, args=(stop, batch, pause_s))
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(60)


# --- reading topics ------------------------------------------------------------------------


def read_topic(bootstrap: str, topic: str, *, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every committed record of ``topic``, read from the start to its current end."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("read"),
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = [TopicPartition(topic, p) for p in metadata.topics[topic].partitions]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1]
                for p in partitions}
        consumer.assign([TopicPartition(topic, p.partition, OFFSET_BEGINNING)
                         for p in partitions])
        return _read_to(consumer, topic, ends, timeout)
    finally:
        consumer.close()


def _read_to(consumer: Consumer, topic: str, ends: dict[int, int],
             timeout: float) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        positions = consumer.position([TopicPartition(topic, p) for p in ends])
        if all(tp.offset >= ends[tp.partition] for tp in positions if ends[tp.partition] > 0):
            return records
        assert time.monotonic() < deadline, f"could not read {topic} to its end"
        for msg in consumer.consume(500, 0.5):
            if msg.error():
                continue
            value = msg.value()
            records.append({"partition": msg.partition(), "offset": msg.offset(),
                            "key": msg.key(), "headers": dict(msg.headers() or []),
                            "value": _json(value), "raw": value})


def _json(value: bytes | None) -> Any:
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None


def read_until(bootstrap: str, topic: str, count: int,
               timeout: float = 60.0) -> list[dict[str, Any]]:
    """Read ``topic`` to its end, again and again, until it holds ``count`` records."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_topic(bootstrap, topic)
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


def fact_counts(facts: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((f["value"]["type"], f["value"]["subject"]) for f in facts)


def wait_for_facts(bootstrap: str, topic: str, expected: Counter[tuple[str, str]],
                   timeout: float = 90.0,
                   check: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Read ``topic`` until every expected fact is there (or the timeout passes);
    ``check`` raises when the translator has died."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        facts = read_topic(bootstrap, topic)
        if set(fact_counts(facts)) >= set(expected) or time.monotonic() > deadline:
            return facts
        time.sleep(1.0)


# --- the translator ------------------------------------------------------------------------


class ServiceThread:
    """The service in a thread of the test process (for tests not about processes)."""

    def __init__(self, mappings: Path, group: str, bootstrap: str,
                 producer: Callable[[ServiceSettings], BaseFactProducer] | None = None,
                 **settings: object) -> None:
        self.settings = load_settings({"mappings": (str(mappings),), "group_id": group,
                                       "bootstrap_servers": bootstrap, **settings}, environ={})
        self.service = Service(self.settings, Translator(load_mappings([mappings])),
                               producer=producer(self.settings) if producer else None)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.service.run(self.stop)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc

    def __enter__(self) -> ServiceThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the service did not stop within 60 s"
        if self.error is not None:
            raise self.error

    def check(self) -> None:
        """Raise what stopped the service, if it stopped."""
        if self.error is not None:
            raise AssertionError(f"the service stopped: {self.error!r}") from self.error

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.service.metrics.health.ready()[0]:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, self.service.metrics.health.ready()[1]
            time.sleep(0.2)


class ServiceProcess:
    """``python -m cdc_facts run`` as a child process, its log in ``log``."""

    def __init__(self, mappings: Path, group: str, bootstrap: str, instance: str,
                 log: Path, *extra: str) -> None:
        self.port = free_port()
        self.args = [sys.executable, "-m", "cdc_facts", "run", "--mappings", str(mappings),
                     "--group", group, "--instance-id", instance, "--bootstrap-servers",
                     bootstrap, "--metrics-port", str(self.port), *extra]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDC_FACTS_")}
        env["CDC_FACTS__KAFKA__SESSION_TIMEOUT_MS"] = "6000"
        env["CDC_FACTS__KAFKA__HEARTBEAT_INTERVAL_MS"] = "1000"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=log, cwd=REPO,
                                            env=env)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.tail()
            if self.http("/readyz")[0] == 200:
                return
            time.sleep(0.3)
        raise AssertionError(f"the translator was not ready within {timeout} s\n{self.tail()}")

    def http(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=3) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError as exc:
            return 0, str(exc)

    def check(self) -> None:
        """Raise when the process has exited."""
        assert self.process is not None and self.process.poll() is None, self.tail()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def ensure_stopped(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
