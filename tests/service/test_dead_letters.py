"""Records that cannot become facts go to the dead-letter topic; processing goes on."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from confluent_kafka import Producer

from cdc_facts.metrics import MetricsServer
from tests.service.helpers import (
    ServiceThread,
    create_topics,
    orders_mapping,
    read_topic,
    read_until,
    unique,
)


def _change(connector: str, table: str, lsn: int, row: dict[str, object]) -> bytes:
    return json.dumps({
        "before": None, "after": row, "op": "c", "ts_ms": 1_700_000_000_000,
        "source": {"name": connector, "schema": "public", "table": table, "lsn": lsn,
                   "sequence": f'["{lsn - 8}","{lsn}"]', "ts_ms": 1_700_000_000_000,
                   "snapshot": "false", "db": "shop"},
    }).encode()


def _metric(port: int, line_start: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_poison_records_become_dead_letters_and_processing_goes_on(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    connector, table = unique("poison"), "orders"
    topic, facts_topic, group = f"{connector}.public.{table}", unique("facts"), unique("grp")
    create_topics(kafka_bootstrap, [topic], 1)
    mappings = orders_mapping(tmp_path, connector, table, facts_topic)
    records = [
        (b'{"id": 1}', b"this is not JSON {"),
        (b'{"id": 2}', _change(connector, "customers", 100, {"id": 2})),
        (b'{"id": 3}', _change(connector, table, 200,
                               {"id": 3, "status": "placed", "total_cents": 500, "qty": 0})),
        (b'{"id": 4}', _change(connector, table, 300,
                               {"id": 4, "status": "placed", "total_cents": 900, "qty": 3})),
    ]
    with ServiceThread(mappings, group, kafka_bootstrap) as running:
        server = MetricsServer(running.service.metrics, "127.0.0.1", 0)
        server.start()
        try:
            running.wait_ready()
            dead = 'cdc_facts_dead_letters_total{reason="evaluation-error"}'
            before = _metric(server.port, dead)
            producer = Producer({"bootstrap.servers": kafka_bootstrap})
            for key, value in records:
                producer.produce(topic, value, key, headers=[("origin", b"test")])
            producer.flush(10)
            facts = read_until(kafka_bootstrap, facts_topic, 1)
            after = _metric(server.port, dead)
            reasons = {r: _metric(server.port, f'cdc_facts_dead_letters_total{{reason="{r}"}}')
                       for r in ("undecodable", "unknown-table")}
            placed = _metric(server.port,
                             'cdc_facts_facts_produced_total{type="sales.OrderPlaced.v1"}')
        finally:
            server.stop()

    assert [f["value"]["subject"] for f in facts] == ["4"]
    letters = read_topic(kafka_bootstrap, f"{group}.dead-letter")
    assert [(d["key"], d["raw"]) for d in letters] == [(k, v) for k, v in records[:3]]
    headers = [d["headers"] for d in letters]
    assert [h["cdc-facts.reason"] for h in headers] == [
        b"undecodable", b"unknown-table", b"evaluation-error"]
    assert [h["cdc-facts.error-class"] for h in headers] == [
        b"ChangeDecodeError", b"UnknownTableError", b"EvaluationError"]
    assert b"division by zero" in headers[2]["cdc-facts.message"]
    assert headers[2]["cdc-facts.rule"] == b"sales.OrderPlaced.v1"
    assert headers[0]["cdc-facts.rule"] == b""
    assert all(h["cdc-facts.topic"] == topic.encode() for h in headers)
    assert [h["cdc-facts.partition"] for h in headers] == [b"0"] * 3
    assert [h["cdc-facts.offset"] for h in headers] == [b"0", b"1", b"2"]
    assert all(h["origin"] == b"test" for h in headers)
    assert (before, after) == (0.0, 1.0)
    assert reasons == {"undecodable": 1.0, "unknown-table": 1.0}
    assert placed == 1.0

