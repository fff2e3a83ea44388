"""The pipeline benchmark's report judges each goal by the run's own figures
(benchmarks/pipeline/report.py)."""

from __future__ import annotations

from typing import Any

from benchmarks.pipeline.measure import busy_fraction, machine_cpu_times
from benchmarks.pipeline.report import goal_lines, markdown


def _phase(label: str, committed_p99: float | None, read_p99: float) -> dict[str, Any]:
    return {"phase": label, "latency_ms": {"translate_committed": {"p99": committed_p99},
                                           "translate_read": {"p99": read_p99}}}


def test_each_phase_meets_or_misses_the_p99_goal_by_its_commit_time_not_its_read_time() -> None:
    result = {"phases": [_phase("c=4 rate=100/s", 18.0, 51.0), _phase("c=4 rate=600/s", 50.0, 55.0),
                         _phase("c=4 rate=900/s", 50.1, 52.0)],
              "ceiling": {"ratio_translator_to_debezium": 7.5}}

    lines = goal_lines(result)

    assert "  - c=4 rate=100/s: 18 ms, met" in lines
    assert "  - c=4 rate=600/s: 50 ms, met" in lines  # at most 50 ms
    assert "  - c=4 rate=900/s: 50.1 ms, missed" in lines
    assert lines[-1].endswith("Debezium's maximum rate**: 7.5×, met")


def test_without_the_brokers_log_the_goal_is_not_judged_and_the_read_time_is_shown() -> None:
    result = {"phases": [_phase("c=4 rate=100/s", None, 23.2)],
              "ceiling": {"ratio_translator_to_debezium": 2.9}}

    lines = goal_lines(result)

    assert ("  - c=4 rate=100/s: not measured (the broker's log was not at hand); read by a "
            "consumer at p99: 23.2 ms") in lines
    assert lines[-1].endswith("2.9×, missed")
    assert goal_lines({"phases": [], "ceiling": None})[-1].endswith("not measured in this run")


def test_a_goal_line_says_how_busy_the_cores_were_when_the_run_measured_it() -> None:
    busy = {**_phase("c=4 unthrottled", 96.0, 102.7), "machine_busy": 0.974}
    result = {"phases": [busy, _phase("c=4 rate=100/s", 7.0, 8.6)], "ceiling": None}

    lines = goal_lines(result)

    assert "  - c=4 unthrottled: 96 ms, missed (cores 97 % busy)" in lines
    assert "  - c=4 rate=100/s: 7 ms, met" in lines  # an older run: no such figure


def test_the_cores_busy_share_counts_every_tick_but_idle_and_iowait() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    start = machine_cpu_times("cpu  100 5 50 800 20 1 2 3 7 0\ncpu0 50 2 25 400 10 1 1 2 3 0")
    end = machine_cpu_times("cpu  160 5 70 860 40 1 2 3 9 0")

    assert start == (161, 981)  # guest time is part of user time: not counted twice
    assert end == (241, 1141)
    assert busy_fraction(start, end) == 0.5  # 80 busy ticks of 160
    assert busy_fraction(end, end) is None


def test_the_cpu_table_has_the_cores_busy_column_with_a_dash_for_older_runs() -> None:
    phase = {"phase": "c=4 rate=600/s", "source_tps": 597.3, "change_records_per_s": 1194.0,
             "facts_per_s": 1195.2, "drain_s": 0.2, "pgbench_cpu_s": 4.34,
             "cpu_s": {"postgres": 14.89, "connect": 4.85, "kafka": 8.69, "translator": 4.0,
                       "benchmark": 0.66},
             "latency_ms": {stage: {"p50": 1.0, "p99": 2.0, "p99.9": 3.0} for stage in
                            ("capture", "translate_appended", "translate_committed",
                             "translate_read", "end_to_end")},
             "translator_transactions": None}
    result = {"run_id": "pgb_test", "scale": 1, "commit_interval_ms": 1000, "duration_s": 9,
              "machine": {"cpus": 2, "cpu_model": "x", "memory_gb": 1},
              "phases": [{**phase, "machine_busy": 0.612}, {**phase, "phase": "older"}],
              "ceiling": None,
              "verification": {"pgbench_transactions": 1, "pgbench_history_rows": 1,
                               "pgbench_accounts_updates": 1, "FundsMoved": 1,
                               "AccountBalanceChanged": 1, "duplicate_fact_ids": 0,
                               "ok": True}}

    lines = markdown(result).splitlines()

    assert "| c=4 rate=600/s | 14.89 | 4.85 | 8.69 | 4 | 4.34 | 0.66 | 61 % |" in lines
    assert "| older | 14.89 | 4.85 | 8.69 | 4 | 4.34 | 0.66 | – |" in lines
