"""The service benchmark leaves nothing of its runs on the broker."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import AdminClient

from benchmarks import service_bench


def _still_there(bootstrap: str, topics: set[str], groups: set[str],
                 wait_s: float = 0) -> tuple[set[str], set[str]]:
    """The topics (deleted asynchronously: waited for up to ``wait_s``) and groups still
    listed."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + wait_s
    while True:
        listed = topics & set(admin.list_topics(timeout=10).topics)
        if not listed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    known = {g.group_id for g in admin.list_consumer_groups(request_timeout=10).result().valid}
    return listed, groups & known


@pytest.mark.timeout(120)
def test_a_latency_run_deletes_its_topics_and_consumer_group(kafka_bootstrap: str) -> None:
    made = service_bench.MADE
    row = service_bench.run_latency(kafka_bootstrap, rate=20, seconds=2)
    topics, groups = set(made.topics), set(made.groups)
    assert row["changes"] == 40
    assert row["fact_readable_ms"]["p50"] > 0  # the facts were read: the run did its work
    # the change and fact topics, and the translator's dead-letter and positions topics
    assert len(topics) == 4 and len(groups) == 1
    assert _still_there(kafka_bootstrap, topics, groups) == (topics, groups)

    made.clean(kafka_bootstrap)

    assert _still_there(kafka_bootstrap, topics, groups, wait_s=15) == (set(), set())
    assert not made.topics and not made.groups
