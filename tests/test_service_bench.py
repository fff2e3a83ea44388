"""The service benchmark leaves nothing of its runs on the broker."""

from __future__ import annotations

import pytest

from benchmarks import service_bench
from tests.stack.helpers import left_on_broker


@pytest.mark.timeout(120)
def test_a_latency_run_deletes_its_topics_and_consumer_group(kafka_bootstrap: str) -> None:
    made = service_bench.MADE
    row = service_bench.run_latency(kafka_bootstrap, rate=20, seconds=2)
    topics, groups = set(made.topics), set(made.groups)
    assert row["changes"] == 40
    assert row["fact_readable_ms"]["p50"] > 0  # the facts were read: the run did its work
    # the change and fact topics, and the translator's dead-letter and positions topics
    assert len(topics) == 4 and len(groups) == 1
    assert left_on_broker(kafka_bootstrap, topics.__contains__, groups.__contains__) == (
        topics, groups)

    made.clean(kafka_bootstrap)

    assert left_on_broker(kafka_bootstrap, topics.__contains__, groups.__contains__,
                          wait_s=15) == (set(), set())
    assert not made.topics and not made.groups
