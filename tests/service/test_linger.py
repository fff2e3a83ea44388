"""``transaction_linger_ms``: after a commit, the next transaction begins at the earliest
that much later, so that what arrives meanwhile shares one transaction."""

from __future__ import annotations

import json
import time
from pathlib import Path

from confluent_kafka import Producer

from tests.service.helpers import (
    ServiceThread,
    create_topics,
    orders_mapping,
    read_until,
    unique,
)

COMMITS = "cdc_facts_transaction_commits_total"


def _placed(connector: str, table: str, order_id: int) -> bytes:
    lsn = 1000 + 100 * order_id
    return json.dumps({
        "before": None, "op": "c", "ts_ms": 1_700_000_000_000,
        "after": {"id": order_id, "status": "placed", "total_cents": 100, "qty": 1},
        "source": {"name": connector, "schema": "public", "table": table, "lsn": lsn,
                   "sequence": f'["{lsn}","{lsn}"]', "ts_ms": 1_700_000_000_000,
                   "snapshot": "false", "db": "shop"},
    }).encode()


def _wait_commits(running: ServiceThread, count: float, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (running.service.metrics.value(COMMITS) or 0) < count:
        running.check()
        assert time.monotonic() < deadline, f"fewer than {count} commits"
        time.sleep(0.005)


def test_changes_arriving_within_the_linger_share_one_transaction(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    connector, table = unique("linger"), "orders"
    topic, facts_topic = f"{connector}.public.{table}", unique("facts")
    create_topics(kafka_bootstrap, [topic], 1)
    mappings = orders_mapping(tmp_path, connector, table, facts_topic)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 0})

    def send(order_id: int) -> None:
        producer.produce(topic, _placed(connector, table, order_id), f'{{"id": {order_id}}}')
        assert producer.flush(10) == 0

    with ServiceThread(mappings, unique("grp"), kafka_bootstrap,
                       transaction_linger_ms=1500) as running:
        running.wait_ready()
        send(1)
        _wait_commits(running, 1)
        send(2)  # both arrive well within 1.5 s of the first commit, apart enough that
        time.sleep(0.3)  # without the linger the first would commit alone
        send(3)
        facts = read_until(kafka_bootstrap, facts_topic, 3)
        commits = running.service.metrics.value(COMMITS)
    assert sorted(f["value"]["subject"] for f in facts) == ["1", "2", "3"]
    assert commits == 2
