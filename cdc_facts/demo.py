"""The legacy-shop demo: a real PostgreSQL database, captured by Debezium in Kafka Connect,
turned into business facts by the mapping rules in ``mappings/shop``.

The demo is the edge of the system (like the CLI): it wires the local stack, the connector
spec, the Connect client, Kafka and the translator together.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import requests
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from cdc_facts.connect.client import ConnectClient
from cdc_facts.connectors.render import render
from cdc_facts.connectors.spec import ConnectorSpec, load_spec
from cdc_facts.errors import DatabaseUnavailableError, KafkaUnavailableError, TerminalError
from cdc_facts.preflight.slots import drop_slot_and_publication

CONNECTOR = "legacy-shop"
TABLES = ("customers", "orders", "order_lines", "payments")

SCHEMA_SQL = """
DROP TABLE IF EXISTS public.payments, public.order_lines, public.orders, public.customers,
    public.debezium_signal;
CREATE TABLE public.customers (
    id bigint PRIMARY KEY, email text, name text,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz
);
CREATE TABLE public.orders (
    id bigint PRIMARY KEY, customer_id bigint REFERENCES public.customers(id),
    status text NOT NULL, total numeric(12,2) NOT NULL, currency char(3) NOT NULL,
    carrier text, placed_at timestamptz NOT NULL DEFAULT now(), paid_at timestamptz,
    shipped_at timestamptz, cancelled_at timestamptz, cancel_reason text
);
CREATE TABLE public.order_lines (
    id bigint PRIMARY KEY, order_id bigint REFERENCES public.orders(id) ON DELETE CASCADE,
    sku text NOT NULL, quantity int NOT NULL, unit_price numeric(12,2) NOT NULL
);
CREATE TABLE public.payments (
    id bigint PRIMARY KEY, order_id bigint REFERENCES public.orders(id),
    amount numeric(12,2) NOT NULL, method text NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.debezium_signal (
    id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)
);
ALTER TABLE public.customers REPLICA IDENTITY FULL;
ALTER TABLE public.orders REPLICA IDENTITY FULL;
ALTER TABLE public.order_lines REPLICA IDENTITY FULL;
ALTER TABLE public.payments REPLICA IDENTITY FULL;
-- Rows that exist before capture starts: the connector's snapshot reads them (op 'r').
INSERT INTO public.customers (id, email, name) VALUES
    (1, 'ada@example.com', 'Ada Lovelace'), (2, 'alan@example.com', 'Alan Turing');
"""


@dataclass(frozen=True)
class Operation:
    """One scripted business operation: a description and the SQL of one transaction."""

    story: str
    sql: str


OPERATIONS: tuple[Operation, ...] = (
    Operation("Grace registers as a new customer",
              "INSERT INTO customers (id, email, name) VALUES "
              "(3, 'grace@example.com', 'Grace Hopper')"),
    Operation("Ada places order 1001 with two lines",
              "INSERT INTO orders (id, customer_id, status, total, currency) "
              "VALUES (1001, 1, 'placed', 59.90, 'EUR');"
              "INSERT INTO order_lines VALUES (1, 1001, 'BOOK-42', 2, 19.95), "
              "(2, 1001, 'MUG-7', 1, 20.00)"),
    Operation("Alan places order 1002",
              "INSERT INTO orders (id, customer_id, status, total, currency) "
              "VALUES (1002, 2, 'placed', 12.50, 'EUR')"),
    Operation("Ada pays order 1001 by card",
              "INSERT INTO payments (id, order_id, amount, method, status) "
              "VALUES (501, 1001, 59.90, 'card', 'captured');"
              "UPDATE orders SET status = 'paid', paid_at = now() WHERE id = 1001"),
    Operation("The warehouse ships order 1001 with DHL",
              "UPDATE orders SET status = 'shipped', carrier = 'DHL', shipped_at = now() "
              "WHERE id = 1001"),
    Operation("Alan cancels order 1002",
              "UPDATE orders SET status = 'cancelled', cancelled_at = now(), "
              "cancel_reason = 'changed my mind' WHERE id = 1002"),
    Operation("Customer 2 is renamed",
              "UPDATE customers SET name = 'Alan M. Turing', updated_at = now() WHERE id = 2"),
    Operation("A line is removed from order 1001",
              "DELETE FROM order_lines WHERE id = 2"),
    Operation("Grace's account is deleted", "DELETE FROM customers WHERE id = 3"),
)


class ShopDemo:
    """Runs the legacy-shop story against a running local stack."""

    def __init__(self, env: dict[str, str], project: Path, progress: Callable[[str], None],
                 fact_topics: tuple[str, ...] = ()) -> None:
        self.env = env
        self.project = project
        self.progress = progress
        self.fact_topics = fact_topics
        self.group = f"{DEMO_GROUP_PREFIX}{int(time.time())}"
        self.translator: subprocess.Popen[bytes] | None = None
        self.bootstrap = env["CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS"]
        self.connect = ConnectClient(env["CDC_FACTS_CONNECT_URL"])

    def spec(self) -> ConnectorSpec:
        return load_spec(self.project / "connectors" / f"{CONNECTOR}.yaml", self.env)

    # --- setup ------------------------------------------------------------------------

    def reset(self) -> None:
        """Remove what an earlier run left: connector, offsets, slot, topics, tables."""
        if self.connect.exists(CONNECTOR):
            self.progress("removing the connector of an earlier run, with its offsets")
            self.connect.stop(CONNECTOR)
            _wait(lambda: self.connect.status(CONNECTOR)["connector"]["state"] == "STOPPED")
            self._reset_offsets()
            self.connect.delete(CONNECTOR)
        config = render(self.spec())
        drop_slot_and_publication({"conninfo": self.env["CDC_FACTS_POSTGRES_DSN"]},
                                  config["slot.name"], config["publication.name"], timeout=60)
        self._delete_topics()
        self.progress("creating the legacy-shop tables (REPLICA IDENTITY FULL) with 2 customers")
        with self._db() as conn:
            conn.execute(SCHEMA_SQL)

    def _reset_offsets(self) -> None:
        """Forget the connector's source offsets, so a new run snapshots afresh. Connect
        refuses this for a moment after the stop while the workers catch up: retry."""
        url = f"{self.connect.base_url}/connectors/{CONNECTOR}/offsets"
        for _ in range(20):
            response = requests.delete(url, timeout=30)
            if response.ok:
                return
            time.sleep(1)
        response.raise_for_status()

    def _delete_topics(self) -> None:
        """The change topics, the fact topics and the earlier demo translators' topics."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        prefixes = (f"{CONNECTOR}.", f"{DEMO_GROUP_PREFIX}", *self.fact_topics)
        topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefixes)]
        if topics:
            for future in admin.delete_topics(topics).values():
                future.result()
            _wait(lambda: not set(topics) & set(admin.list_topics(timeout=10).topics))

    def _db(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.env["CDC_FACTS_POSTGRES_CDC_DSN"], autocommit=True)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(f"cannot reach the demo database: {exc}") from exc

    def register(self) -> None:
        self.progress(f"registering the Debezium connector `{CONNECTOR}`")
        self.connect.put_config(CONNECTOR, render(self.spec()))
        self.connect.wait_running(CONNECTOR, timeout=120)
        slot = render(self.spec())["slot.name"]
        with psycopg.connect(self.env["CDC_FACTS_POSTGRES_DSN"], autocommit=True) as conn:
            _wait(lambda: bool(conn.execute(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active",
                (slot,)).fetchone()), timeout=120)
        self.progress("the connector runs: snapshot taken, streaming from the WAL")

    # --- the translator ---------------------------------------------------------------

    def start_translator(self, log: Path) -> None:
        """`cdc-facts run` as its own process, the way operators run it."""
        self.progress(f"starting the translator: cdc-facts run (group {self.group})")
        argv = [sys.executable, "-m", "cdc_facts", "run", "--mappings",
                str(self.project / "mappings" / "shop"), "--group", self.group,
                "--instance-id", "demo", "--bootstrap-servers", self.bootstrap,
                "--metrics-port", "0"]
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.translator = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def stop_translator(self) -> None:
        """SIGTERM: the translator finishes its open transaction and exits."""
        if self.translator is None or self.translator.poll() is not None:
            return
        self.translator.send_signal(signal.SIGTERM)
        try:
            self.translator.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.translator.kill()
            self.translator.wait()

    def read_facts(self, expected: int, timeout: float = 120.0,
                   linger: float = 2.0) -> Iterator[dict[str, Any]]:
        """CloudEvents from the fact topics, as they are committed (read_committed): until
        ``expected`` came and ``linger`` more seconds brought no other, or ``timeout``."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap,
                             "group.id": f"{self.group}-reader",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False,
                             "isolation.level": "read_committed",
                             "topic.metadata.refresh.interval.ms": 1000})
        consumer.subscribe(list(self.fact_topics))
        seen, deadline = 0, time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if seen >= expected:  # only to see facts beyond the expected ones
                    deadline = min(deadline, time.monotonic() + linger)
                self._check_translator()
                msg = consumer.poll(0.5)
                if msg is None or _skippable(msg.error()):
                    continue
                seen += 1
                yield dict(json.loads(msg.value() or b"{}"))
        finally:
            consumer.close()

    def count_changes(self) -> int:
        """The change records Debezium wrote for the shop's tables (their topics are new)."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap,
                             "group.id": f"{self.group}-counter"})
        try:
            topics = consumer.list_topics(timeout=10).topics
            total = 0
            for table in TABLES:
                topic = topics.get(f"{CONNECTOR}.public.{table}")
                for partition in (topic.partitions if topic else {}):
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic.topic, partition), timeout=10)
                    total += high - low
            return total
        finally:
            consumer.close()

    def _check_translator(self) -> None:
        if self.translator is not None and self.translator.poll() is not None:
            raise TerminalError(
                f"the translator stopped with exit code {self.translator.returncode}",
                hint="see its log under the stack's state dir (logs/demo-translator.log)")

    # --- the story --------------------------------------------------------------------

    def run_operations(self, pause: float = 0.3) -> Iterator[Operation]:
        with self._db() as conn:
            for operation in OPERATIONS:
                with conn.transaction():
                    for statement in operation.sql.split(";"):
                        conn.execute(statement)
                yield operation
                time.sleep(pause)


_RETRIABLE = (KafkaError.UNKNOWN_TOPIC_OR_PART,)


def _skippable(error: KafkaError | None) -> bool:
    """No error, or one that only says a topic does not exist yet."""
    if error is None:
        return False
    if error.code() in _RETRIABLE:
        return True
    raise KafkaUnavailableError(f"reading the demo's topics: {error}")


def _wait(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo's stack did not reach the expected state in time")
        time.sleep(0.5)


#: Changes the story makes: the 2 snapshot rows plus one per row each operation writes.
EXPECTED_CHANGES = 2 + 1 + 3 + 1 + 2 + 1 + 1 + 1 + 1 + 1
#: Facts the shop's rules make of them: one per change (the snapshot's customers included).
EXPECTED_FACTS = 14
#: Consumer groups (and their positions and dead-letter topics) of the demo's translators.
DEMO_GROUP_PREFIX = "cdc-facts-demo-"
