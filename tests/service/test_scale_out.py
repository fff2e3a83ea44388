"""Two translators share one consumer group; one dies mid-load; the other takes over."""

from __future__ import annotations

import time
from pathlib import Path

from tests.service.helpers import (
    OrdersWorkload,
    ServiceProcess,
    fact_counts,
    orders_mapping,
    pg_capture,
    read_topic,
    unique,
    wait_for_facts,
)


def _assigned(translator: ServiceProcess) -> float:
    status, text = translator.http("/metrics")
    for line in text.splitlines() if status == 200 else ():
        if line.startswith("cdc_facts_assigned_partitions "):
            return float(line.split()[1])
    return -1.0


def _wait_assigned(translator: ServiceProcess, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _assigned(translator) != count:
        translator.check()
        assert time.monotonic() < deadline, f"never owned {count} partitions\n{translator.tail()}"
        time.sleep(0.3)


def test_a_second_instance_shares_the_work_and_its_death_loses_nothing(
    tmp_path: Path, pg_dsn: str, pg_cdc_dsn: str, connect_url: str, kafka_bootstrap: str
) -> None:
    with pg_capture(pg_dsn, pg_cdc_dsn, connect_url, kafka_bootstrap, ["orders"],
                    partitions=4) as capture:
        table = capture.tables[0]
        facts_topic, group = unique("facts"), unique("grp")
        mappings = orders_mapping(tmp_path / "mappings", capture.prefix, table, facts_topic)
        workload = OrdersWorkload(capture, table)
        first, second = (ServiceProcess(mappings, group, kafka_bootstrap, name,
                                        tmp_path / f"{name}.log") for name in ("a", "b"))
        try:
            first.start().wait_ready()
            with workload.running(batch=20):
                second.start().wait_ready()
                _wait_assigned(first, 2)
                time.sleep(2.0)
                second.kill()
                _wait_assigned(first, 4)
                time.sleep(1.0)
            wait_for_facts(kafka_bootstrap, facts_topic, workload.expected, check=first.check)
            assert first.terminate() == 0, first.tail()
        finally:
            first.ensure_stopped()
            second.ensure_stopped()
        changes = read_topic(kafka_bootstrap, capture.topic(table))

    assert {c["partition"] for c in changes} == {0, 1, 2, 3}
    facts = read_topic(kafka_bootstrap, facts_topic)
    counts = fact_counts(facts)
    lost = set(workload.expected) - set(counts)
    repeated = {fact: n for fact, n in counts.items() if n > 1}
    assert (len(lost), len(repeated)) == (0, 0), f"lost {sorted(lost)[:10]}, " \
        f"repeated {sorted(repeated.items())[:10]}\n{first.tail()}"
    assert counts == workload.expected
    assert len({f["value"]["id"] for f in facts}) == len(facts)
