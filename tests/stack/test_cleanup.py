"""The test session deletes from the broker the topics and consumer groups named after the
names its tests made (tests/conftest.py, with ``delete_made``)."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.stack.helpers import MADE, delete_made, left_on_broker, unique


def _group_with_offsets(bootstrap: str, group: str, topic: str) -> None:
    """An empty consumer group that the broker lists: one with a committed offset."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        consumer.close()


def test_the_topics_and_groups_holding_a_made_name_are_deleted_and_nothing_else(
        kafka_bootstrap: str) -> None:
    made, other = unique("clean"), unique("keep")
    assert {made, other} <= MADE
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topics = [f"{made}.facts", f"{made}.dead-letter", f"{other}.facts"]
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        future.result()
    _group_with_offsets(kafka_bootstrap, made, f"{made}.facts")
    _group_with_offsets(kafka_bootstrap, other, f"{other}.facts")
    try:
        deleted_topics, deleted_groups = delete_made(kafka_bootstrap, {made})

        assert deleted_topics == [f"{made}.dead-letter", f"{made}.facts"]
        assert deleted_groups == [made]
        assert left_on_broker(kafka_bootstrap, lambda t: made in t, lambda g: made in g,
                              wait_s=15) == (set(), set())
        assert left_on_broker(kafka_bootstrap, lambda t: other in t, lambda g: other in g) == (
            {f"{other}.facts"}, {other})
    finally:
        delete_made(kafka_bootstrap, {other})


def test_nothing_is_deleted_when_no_name_was_made(kafka_bootstrap: str) -> None:
    assert delete_made(kafka_bootstrap, set()) == ([], [])
