"""Helpers for tests against the real stack: read topics, register connectors, clean up."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from cdc_facts.connect.client import ConnectClient

#: Every name :func:`unique` made in this test session. When the session ends, the topics
#: and consumer groups whose names hold one are deleted from the broker (tests/conftest.py).
MADE: set[str] = set()


def unique(prefix: str) -> str:
    """A name no other test run uses: lowercase letters, digits, underscores."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    MADE.add(name)
    return name


def delete_made(bootstrap: str, names: Collection[str]) -> tuple[list[str], list[str]]:
    """Delete the topics and consumer groups whose names hold one of ``names``; the ones
    deleted. A group that still has a member (a static one not yet timed out) stays."""
    if not names:
        return [], []
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def made(name: str) -> bool:
        return any(n in name for n in names)

    topics = sorted(t for t in admin.list_topics(timeout=10).topics if made(t))
    listed = admin.list_consumer_groups(request_timeout=10).result().valid
    groups = sorted(g.group_id for g in listed if made(g.group_id))
    return (_settled(admin.delete_topics(topics, operation_timeout=30) if topics else {}),
            _settled(admin.delete_consumer_groups(groups, request_timeout=10) if groups else {}))


def _settled(futures: Mapping[str, Future[Any]]) -> list[str]:
    """The names whose deletion succeeded."""
    done = []
    for name, future in futures.items():
        try:
            future.result()
        except KafkaException:
            continue
        done.append(name)
    return done


def consume(bootstrap: str, topics: list[str], *, until: Callable[[list[dict[str, Any]]], bool],
            timeout: float = 90.0, isolation: str = "read_committed") -> list[dict[str, Any]]:
    """Read JSON records from the start of ``topics`` until ``until(records)`` holds."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": unique("test"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": isolation,
        "topic.metadata.refresh.interval.ms": 1000,
    })
    consumer.subscribe(topics)
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(records):
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() in (KafkaError._PARTITION_EOF,
                                          KafkaError.UNKNOWN_TOPIC_OR_PART):
                    continue
                raise RuntimeError(msg.error())
            records.append({
                "topic": msg.topic(),
                "key": json.loads(msg.key()) if msg.key() else None,
                "value": json.loads(msg.value()) if msg.value() else None,
                "offset": msg.offset(),
            })
    finally:
        consumer.close()
    return records


def left_on_broker(bootstrap: str, topic: Callable[[str], bool], group: Callable[[str], bool],
                   wait_s: float = 0) -> tuple[set[str], set[str]]:
    """The topics and consumer groups still listed whose names ``topic`` and ``group``
    accept. A deleted topic leaves the listing asynchronously: it is waited for, up to
    ``wait_s``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + wait_s
    while True:
        topics = {t for t in admin.list_topics(timeout=10).topics if topic(t)}
        if not topics or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    listed = admin.list_consumer_groups(request_timeout=10).result().valid
    return topics, {g.group_id for g in listed if group(g.group_id)}


def dsn_parts(dsn: str) -> dict[str, Any]:
    """Host, port, user, password and database of a PostgreSQL DSN."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return {"host": info["host"], "port": info["port"], "user": info["user"],
            "password": info["password"], "dbname": info["dbname"]}


def wait_slot_active(admin_dsn: str, slot: str, timeout: float = 60) -> None:
    """Wait until a connector streams from its replication slot."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                               (slot,)).fetchone()
            if row and row[0]:
                return
            time.sleep(0.5)
    raise AssertionError(f"replication slot {slot} never became active")


def remove_connector(client: ConnectClient, name: str) -> None:
    if client.exists(name):
        client.delete(name)
        deadline = time.monotonic() + 30
        while client.exists(name) and time.monotonic() < deadline:
            time.sleep(0.5)
