"""Capturing the pgbench database: per-run mappings and topics, preflight --fix, register,
and removing the connector, its slot and publication, the run's topics and its consumer
group afterwards.

Everything goes through the ``cdc-facts`` command line, as a user would run it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from ruamel.yaml import YAML

from benchmarks.pipeline.workload import BenchDatabase, repo_root
from cdc_facts.envelope.records import HEARTBEAT_TOPIC_PREFIX

PIPELINE_DIR = Path(__file__).resolve().parent
SPEC = PIPELINE_DIR / "connector.yaml"
MAPPINGS = PIPELINE_DIR / "mappings"
TABLES = {"history": "public.pgbench_history", "accounts": "public.pgbench_accounts"}
FACT_TYPES = {"history": "bank.FundsMoved.v1", "accounts": "bank.AccountBalanceChanged.v1"}


@dataclass(frozen=True)
class Capture:
    """One run's connector, its change topics and its fact topics."""

    run_id: str
    connector: str
    mappings: Path
    db: BenchDatabase

    def change_topic(self, kind: str) -> str:
        return f"{self.connector}.{TABLES[kind]}"

    def fact_topic(self, kind: str) -> str:
        return f"{self.run_id}.{FACT_TYPES[kind]}"

    @property
    def change_topics(self) -> list[str]:
        return [self.change_topic(kind) for kind in TABLES]

    @property
    def fact_topics(self) -> list[str]:
        return [self.fact_topic(kind) for kind in TABLES]

    @property
    def group(self) -> str:
        """The translator's consumer group: the run id (its topics' names start with it)."""
        return self.run_id

    @property
    def own_topics(self) -> list[str]:
        """The topics the connector and the translator make for themselves: Debezium's
        transaction metadata and heartbeats, the translator's dead letters and positions."""
        return [f"{self.connector}.transaction", f"{HEARTBEAT_TOPIC_PREFIX}.{self.connector}",
                f"{self.group}.dead-letter", f"{self.group}.positions"]


def render_mappings(directory: Path, connector: str, run_id: str) -> Path:
    """Copy the benchmark's mappings into ``directory``, naming this run's connector and
    prefixing each fact topic with the run id."""
    yaml = YAML()
    directory.mkdir(parents=True, exist_ok=True)
    for source in sorted(MAPPINGS.glob("*.yaml")):
        document = yaml.load(source.read_text())
        document["source"]["connector"] = connector
        for fact in document["facts"]:
            fact["topic"] = f"{run_id}.{fact['topic'].removeprefix('facts.')}"
        out = io.StringIO()
        yaml.dump(document, out)
        (directory / source.name).write_text(out.getvalue())
    return directory


def cli(*args: str, env: dict[str, str] | None = None, check: bool = True,
        retries: int = 6) -> subprocess.CompletedProcess[str]:
    """Run ``cdc-facts ARGS``; retry while Kafka Connect is away (exit code 3)."""
    command = [sys.executable, "-m", "cdc_facts", *args]
    for attempt in range(retries):
        done = subprocess.run(command, env=env, cwd=repo_root(), capture_output=True,
                              text=True, check=False)
        if done.returncode != 3 or attempt == retries - 1:
            break
        time.sleep(10)
    if check and done.returncode != 0:
        raise RuntimeError(f"cdc-facts {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout}{done.stderr}")
    return done


def create_topics(bootstrap: str, topics: list[str]) -> None:
    """One partition each, stamped with the broker's append time (``LogAppendTime``), so
    record timestamps say when each record reached Kafka."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    config = {"message.timestamp.type": "LogAppendTime"}
    futures = admin.create_topics([NewTopic(t, 1, 1, config=config) for t in topics])
    for future in futures.values():
        future.result()


def delete_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(topics).values():
        try:
            future.result()
        except Exception:  # noqa: BLE001, S110 - already gone is fine
            pass


def delete_group(bootstrap: str, group: str, timeout: float = 30) -> None:
    """Delete a consumer group and its committed offsets. A static member stays in the
    group until its session times out, after the translator stopped: the broker refuses
    to delete a group that is not empty, so this tries again until then."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin.delete_consumer_groups([group], request_timeout=10)[group].result()
            return
        except KafkaException as exc:
            code = exc.args[0].code() if exc.args else None
            if code == KafkaError.GROUP_ID_NOT_FOUND:
                return  # never made, or already gone
            if code != KafkaError.NON_EMPTY_GROUP or time.monotonic() > deadline:
                print(f"consumer group {group} left behind: {exc}", file=sys.stderr)
                return
        time.sleep(1)


def _spec_env(capture_name: str, db_name: str) -> dict[str, str]:
    return {**os.environ, "BENCH_CONNECTOR": capture_name, "BENCH_DB": db_name}


@contextmanager
def captured(db: BenchDatabase, run_id: str, workdir: Path, bootstrap: str,
             keep_topics: bool = False) -> Iterator[Capture]:
    """Render the mappings, pre-create the topics, ``preflight --fix`` and ``register``;
    afterwards remove the connector with its slot and publication, every topic of the run
    (unless ``keep_topics``) and the translator's consumer group, which must have stopped."""
    connector = run_id
    mappings = render_mappings(workdir / "mappings", connector, run_id)
    capture = Capture(run_id, connector, mappings, db)
    env = _spec_env(connector, db.name)
    create_topics(bootstrap, capture.change_topics + capture.fact_topics)
    try:
        cli("preflight", str(SPEC), "--mappings", str(mappings), "--fix", env=env)
        cli("connector", "register", str(SPEC), "--mappings", str(mappings), env=env)
        wait_slot_active(db.admin_dsn, _slot(connector))
        yield capture
    finally:
        cli("connector", "remove", connector, "--drop-slot", "--spec", str(SPEC),
            "--admin-dsn", db.dsn(db.admin_dsn), env=env, check=False)
        drop_slot(db.admin_dsn, _slot(connector))
        if not keep_topics:
            delete_topics(bootstrap, capture.change_topics + capture.fact_topics
                          + capture.own_topics)
        delete_group(bootstrap, capture.group)


def _slot(connector: str) -> str:
    return f"{connector}_slot"  # run ids are [a-z0-9_], as slot names must be


def wait_slot_active(admin_dsn: str, slot: str, timeout: float = 90) -> None:
    """Wait until the connector streams from its replication slot."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                               (slot,)).fetchone()
            if row and row[0]:
                return
            time.sleep(0.5)
    raise RuntimeError(f"replication slot {slot} never became active")


def drop_slot(admin_dsn: str, slot: str, timeout: float = 60) -> None:
    """Drop the slot if ``connector remove`` left it (it stays active until the task ends)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                               (slot,)).fetchone()
            if row is None:
                return
            if not row[0]:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                return
            time.sleep(0.5)
