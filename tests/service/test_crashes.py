"""Crashes: the translator killed at random moments, then the Connect worker killed.

Whatever dies, every expected fact exists exactly once afterwards: 0 lost, 0 repeated.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from cdc_facts.connect.client import ConnectClient
from cdc_facts.local.services import BaseService
from cdc_facts.local.settings import LocalStackSettings
from cdc_facts.local.stack import LocalStack
from tests.service.helpers import (
    OrdersWorkload,
    ServiceProcess,
    ServiceThread,
    fact_counts,
    orders_mapping,
    pg_capture,
    read_topic,
    unique,
    wait_for_facts,
)


def test_killing_the_translator_loses_and_repeats_nothing(
    tmp_path: Path, pg_dsn: str, pg_cdc_dsn: str, connect_url: str, kafka_bootstrap: str
) -> None:
    seed = random.randrange(1_000_000)
    chance = random.Random(seed)
    with pg_capture(pg_dsn, pg_cdc_dsn, connect_url, kafka_bootstrap, ["orders"]) as capture:
        table = capture.tables[0]
        facts_topic = unique("facts")
        mappings = orders_mapping(tmp_path / "mappings", capture.prefix, table, facts_topic)
        workload = OrdersWorkload(capture, table)
        translator = ServiceProcess(mappings, unique("grp"), kafka_bootstrap, "a",
                                    tmp_path / "translator.log")
        try:
            translator.start()
            with workload.running(batch=20):
                for _ in range(3):
                    translator.wait_ready()  # then it works through what came while it was down
                    time.sleep(chance.uniform(0.02, 0.4))
                    translator.kill()
                    translator.start()
                translator.wait_ready()
                time.sleep(1.0)
            facts = wait_for_facts(kafka_bootstrap, facts_topic, workload.expected,
                                   check=translator.check)
            assert translator.terminate() == 0, translator.tail()
        finally:
            translator.ensure_stopped()

    facts = read_topic(kafka_bootstrap, facts_topic)
    counts = fact_counts(facts)
    lost = set(workload.expected) - set(counts)
    repeated = {fact: n for fact, n in counts.items() if n > 1}
    assert (len(lost), len(repeated)) == (0, 0), f"seed {seed}: lost {sorted(lost)[:10]}, " \
        f"repeated {sorted(repeated.items())[:10]}\n{translator.tail()}"
    assert counts == workload.expected
    assert len({f["value"]["id"] for f in facts}) == len(facts)
    assert len(facts) > 100


def _kill_connect_worker(connect: BaseService) -> None:
    pid = connect.pid
    assert pid is not None and connect.running(), "the Connect worker is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while connect.running() and time.monotonic() < deadline:
        time.sleep(0.1)


def _restart_connect_worker(connect: BaseService, timeout: float = 240) -> None:
    if not connect.running():
        connect.start()
    deadline = time.monotonic() + timeout
    while not connect.ready():
        assert time.monotonic() < deadline, "the Connect worker did not come back"
        time.sleep(1.0)


def test_killing_the_connect_worker_loses_and_repeats_nothing(
    tmp_path: Path, pg_dsn: str, pg_cdc_dsn: str, connect_url: str, kafka_bootstrap: str
) -> None:
    connect = LocalStack(LocalStackSettings.from_env()).service("connect")
    with pg_capture(pg_dsn, pg_cdc_dsn, connect_url, kafka_bootstrap, ["orders"]) as capture:
        table = capture.tables[0]
        facts_topic = unique("facts")
        mappings = orders_mapping(tmp_path / "mappings", capture.prefix, table, facts_topic)
        workload = OrdersWorkload(capture, table)
        with ServiceThread(mappings, unique("grp"), kafka_bootstrap) as translator:
            translator.wait_ready()
            try:
                with workload.running(batch=20):
                    time.sleep(3.0)
                    _kill_connect_worker(connect)
                    time.sleep(1.0)
                    _restart_connect_worker(connect)
                    ConnectClient(connect_url).wait_running(capture.prefix, timeout=120)
                    time.sleep(2.0)
            finally:
                _restart_connect_worker(connect)
            wait_for_facts(kafka_bootstrap, facts_topic, workload.expected, timeout=120,
                           check=translator.check)
            dropped = translator.service.metrics.value(
                "cdc_facts_duplicates_dropped_total", table=f"public.{table}")
        changes = read_topic(kafka_bootstrap, capture.topic(table))

    positions = Counter(json.dumps(c["value"]["source"]["sequence"]) for c in changes
                        if c["value"] is not None)
    resent = sum(n - 1 for n in positions.values())
    counts = fact_counts(read_topic(kafka_bootstrap, facts_topic))
    lost = set(workload.expected) - set(counts)
    repeated = {fact: n for fact, n in counts.items() if n > 1}
    assert (len(lost), len(repeated)) == (0, 0), f"lost {sorted(lost)[:10]}, " \
        f"repeated {sorted(repeated.items())[:10]}"
    assert counts == workload.expected
    assert resent > 0, "Debezium sent nothing twice: the crash did not test duplicates"
    assert dropped == resent
