"""Crashes: the translator killed at random moments, then the Connect worker killed.

Whatever dies, every expected fact exists exactly once afterwards: 0 lost, 0 repeated.
"""

from __future__ import annotations

import random
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
            facts = wait_for_facts(kafka_bootstrap, facts_topic, workload.expected)
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
