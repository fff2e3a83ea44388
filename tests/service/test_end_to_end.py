"""PostgreSQL -> Debezium -> Kafka -> the translator -> facts on Kafka, read committed."""

from __future__ import annotations

from pathlib import Path

from tests.service.helpers import (
    OrdersWorkload,
    ServiceThread,
    fact_counts,
    orders_mapping,
    pg_capture,
    read_topic,
    unique,
    wait_for_facts,
)


def test_a_workload_makes_exactly_the_expected_facts(
    tmp_path: Path, pg_dsn: str, pg_cdc_dsn: str, connect_url: str, kafka_bootstrap: str
) -> None:
    with pg_capture(pg_dsn, pg_cdc_dsn, connect_url, kafka_bootstrap, ["orders"]) as capture:
        table = capture.tables[0]
        facts_topic = unique("facts")
        mappings = orders_mapping(tmp_path / "mappings", capture.prefix, table, facts_topic)
        workload = OrdersWorkload(capture, table)
        group = unique("grp")
        with ServiceThread(mappings, group, kafka_bootstrap) as service:
            service.wait_ready()
            for _ in range(4):
                workload.place(10, pay_every=2)
            facts = wait_for_facts(kafka_bootstrap, facts_topic, workload.expected,
                                   check=service.check)
            metrics = service.service.metrics

    assert fact_counts(facts) == workload.expected
    assert len(facts) == 60
    by_subject = {(f["value"]["type"], f["value"]["subject"]): f for f in facts}
    placed = by_subject[("sales.OrderPlaced.v1", "7")]
    assert placed["key"] == b"7"
    assert placed["headers"]["content-type"].startswith(b"application/cloudevents+json")
    assert placed["value"]["data"] == {"order_id": 7, "total_cents": 700, "unit_cents": 350}
    assert placed["value"]["source"] == f"/cdc-facts/{capture.prefix}/public.{table}"
    assert placed["value"]["cdcop"] == "c"
    paid = by_subject[("sales.OrderPaid.v1", "8")]
    assert paid["value"]["data"] == {"order_id": 8, "total_cents": 800}
    assert len({f["value"]["id"] for f in facts}) == 60
    # every fact of one order lands in one partition, in order: placed before paid
    assert [f["value"]["type"] for f in facts if f["value"]["subject"] == "8"] == [
        "sales.OrderPlaced.v1", "sales.OrderPaid.v1"]
    assert metrics.value("cdc_facts_facts_produced_total", type="sales.OrderPlaced.v1") == 40
    assert metrics.value("cdc_facts_facts_produced_total", type="sales.OrderPaid.v1") == 20
    assert metrics.value("cdc_facts_changes_consumed_total", table=f"public.{table}",
                         op="c") == 40
    commits = metrics.value("cdc_facts_transaction_commits_total") or 0
    assert commits >= 1
    # every committed transaction read records stamped by the broker: one observation each,
    # well under the minute the test may take
    translation = "cdc_facts_translation_latency_seconds"
    assert metrics.value(f"{translation}_count") == commits
    assert metrics.value(f"{translation}_bucket", le="60.0") == commits
    # nothing went to the dead-letter topic, and the positions topic holds the mark
    assert read_topic(kafka_bootstrap, f"{group}.dead-letter") == []
    positions = read_topic(kafka_bootstrap, f"{group}.positions")
    assert positions and positions[-1]["value"]["scope"] == "pg"
