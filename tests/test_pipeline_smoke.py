"""The pipeline benchmark at tiny scale: pgbench -> PostgreSQL -> Debezium -> Kafka ->
``cdc-facts run`` -> fact topics, with exact counts at the end (benchmarks/pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from benchmarks.pipeline.report import write_reports
from benchmarks.pipeline.run import Plan, StackEnv, run
from benchmarks.pipeline.session import Phase
from cdc_facts.connect.client import ConnectClient
from tests.conftest import StackEndpoints
from tests.stack.helpers import left_on_broker


@pytest.fixture
def bench_env(monkeypatch: pytest.MonkeyPatch, pg_dsn: str, pg_cdc_dsn: str,
              connect_url: str, kafka_bootstrap: str, stack: StackEndpoints) -> StackEnv:
    """The variables the connector spec and the ``cdc-facts`` commands read, and the
    broker's log directory, where the commit markers are read."""
    assert stack.home is not None, "commit times need the local broker's log (CDC_FACTS_HOME)"
    cdc = psycopg.conninfo.conninfo_to_dict(pg_cdc_dsn)
    monkeypatch.setenv("SHOP_DB_HOST", str(cdc["host"]))
    monkeypatch.setenv("SHOP_DB_PORT", str(cdc["port"]))
    monkeypatch.setenv("SHOP_DB_PASSWORD", str(cdc["password"]))
    monkeypatch.setenv("CDC_FACTS_CONNECT_URL", connect_url)
    return StackEnv(kafka_bootstrap, pg_dsn, pg_cdc_dsn, stack.home / "kafka" / "data")


def _databases(pg_dsn: str) -> set[str]:
    with psycopg.connect(pg_dsn) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def _slots(pg_dsn: str) -> set[str]:
    with psycopg.connect(pg_dsn) as conn:
        return {row[0] for row in conn.execute("SELECT slot_name FROM pg_replication_slots")}


@pytest.mark.timeout(120)
def test_pgbench_through_the_pipeline_makes_exactly_one_fact_per_change(
    bench_env: StackEnv, pg_dsn: str, connect_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    plan = Plan(scale=1, phases=(Phase(clients=2, seconds=3),),
                ceiling=Phase(clients=2, seconds=2), warmup=Phase(clients=2, seconds=1, rate=50))

    result = run(plan, bench_env)

    verification = result["verification"]
    assert verification["pgbench_transactions"] > 0
    assert verification["FundsMoved"] == verification["pgbench_history_rows"]
    assert verification["AccountBalanceChanged"] == verification["pgbench_transactions"]
    assert verification["pgbench_accounts_updates"] == verification["pgbench_transactions"]
    assert verification["duplicate_fact_ids"] == 0
    assert verification["ok"] is True

    assert result["warmup"]["drained"] is True and len(result["phases"]) == 1  # not a phase
    phase = result["phases"][0]
    assert phase["drained"] is True
    assert phase["facts"] == phase["change_records"] == 2 * phase["transactions"]
    latency = phase["latency_ms"]
    # every fact joined to its change, and found its commit marker in the broker's log
    assert latency["translate_committed"]["n"] == latency["translate_read"]["n"] == phase["facts"]
    assert latency["capture"]["p50"] >= 0
    # appended, then committed (the marker comes after the records), then read
    assert (latency["translate_read"]["p50"] >= latency["translate_committed"]["p50"]
            >= latency["translate_appended"]["p50"] >= 0)

    ceiling = result["ceiling"]
    assert ceiling["drained"] is True
    assert ceiling["facts"] == ceiling["change_records"] == 2 * ceiling["transactions"]
    assert ceiling["translator_records_per_s"] > 0

    # the run cleaned up after itself: no connector, database, slot, topic (the change and
    # fact topics, Debezium's heartbeats and transaction metadata, the translator's dead
    # letters and positions) or consumer group of this run is left
    assert left_on_broker(kafka_bootstrap, lambda t: plan.run_id in t,
                          lambda g: g == plan.run_id, wait_s=15) == (set(), set())
    assert not ConnectClient(connect_url).exists(plan.run_id)
    assert plan.run_id not in _databases(pg_dsn)
    assert f"{plan.run_id}_slot" not in _slots(pg_dsn)

    paths = write_reports(result, tmp_path)
    assert json.loads(paths[0].read_text())["run_id"] == plan.run_id
    assert "exact: nothing lost, nothing twice" in paths[1].read_text()
    assert "after a warm-up load of 1 s at 50 tps (not reported)" in paths[1].read_text()
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
