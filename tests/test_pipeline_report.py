"""The pipeline benchmark's report judges each goal by the run's own figures
(benchmarks/pipeline/report.py)."""

from __future__ import annotations

from typing import Any

from benchmarks.pipeline.report import goal_lines


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
