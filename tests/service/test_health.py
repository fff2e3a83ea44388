"""Readiness and the metrics that show progress: commits, aborts, lag."""

from __future__ import annotations

import time

from cdc_facts.metrics import Health, ServiceMetrics


class _Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _metrics(clock: _Clock) -> ServiceMetrics:
    """Metrics of a service that owns two partitions and has just polled."""
    metrics = ServiceMetrics(health=Health(stall_after_s=30, clock=clock))
    metrics.partitions(2, {})
    metrics.health.polled()
    return metrics


def _commit(metrics: ServiceMetrics) -> None:
    metrics.health.transaction(None)
    metrics.committed(records=1, changes={}, facts={}, dead_letters={}, duplicates={},
                      latencies_s=[])


def _abort(metrics: ServiceMetrics) -> None:
    metrics.health.transaction(None)
    metrics.aborted()


def test_a_loop_of_aborts_turns_not_ready_although_each_transaction_is_short() -> None:
    clock = _Clock()
    metrics = _metrics(clock)
    health = metrics.health
    health.transaction(clock.now)
    _commit(metrics)
    clock.now += 5
    for _ in range(40):  # read, fail, abort, read again: one second each
        health.polled()
        health.transaction(clock.now)
        clock.now += 1
        _abort(metrics)
    health.polled()
    assert health.ready() == (False, "records read but no transaction committed for more "
                                     "than 30 s (40 aborted; last commit: 45 s ago)")
    health.transaction(clock.now)
    _commit(metrics)
    assert health.ready() == (True, "ready: 2 partitions assigned")


def test_aborts_from_the_start_turn_not_ready_too() -> None:
    clock = _Clock()
    metrics = _metrics(clock)
    metrics.health.transaction(clock.now)
    _abort(metrics)
    clock.now += 31
    metrics.health.polled()
    assert metrics.health.ready() == (False, "records read but no transaction committed for "
                                             "more than 30 s (1 aborted; last commit: none "
                                             "yet)")


def test_an_idle_service_stays_ready_with_or_without_a_commit() -> None:
    clock = _Clock()
    metrics = _metrics(clock)
    clock.now += 600  # started, nothing to read
    metrics.health.polled()
    assert metrics.health.ready() == (True, "ready: 2 partitions assigned")
    metrics.health.transaction(clock.now)
    _commit(metrics)
    clock.now += 600  # committed, then nothing more to read
    metrics.health.polled()
    assert metrics.health.ready()[0]


def test_records_that_went_to_another_instance_no_longer_wait() -> None:
    """Partitions lost with an aborted batch: this instance has nothing left to commit."""
    clock = _Clock()
    metrics = _metrics(clock)
    metrics.health.transaction(clock.now)
    _abort(metrics)
    metrics.forget([("shop.public.orders", 0)])
    metrics.partitions(1, {})
    clock.now += 60
    metrics.health.polled()
    assert metrics.health.ready() == (True, "ready: 1 partitions assigned")


def test_the_lag_moves_without_a_commit_and_the_last_commit_time_is_exported() -> None:
    metrics = ServiceMetrics()
    assert metrics.value("cdc_facts_last_commit_timestamp_seconds") == 0
    metrics.lags({("shop.public.orders", 0): 12})
    assert metrics.value("cdc_facts_consumer_lag", topic="shop.public.orders",
                         partition="0") == 12
    before = time.time()
    _commit(metrics)
    last = metrics.value("cdc_facts_last_commit_timestamp_seconds")
    assert last is not None and before <= last <= time.time()
    assert b"cdc_facts_last_commit_timestamp_seconds" in metrics.render()
