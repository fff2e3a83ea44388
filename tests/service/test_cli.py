"""`cdc-facts run` as a process: refusing bad mappings, health endpoints, JSON logs, SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.service.helpers import (
    REPO,
    ServiceProcess,
    create_topics,
    orders_mapping,
    read_until,
    unique,
)

BAD_MAPPING = """\
domain: sales
source:
  connector: shop
  table: public.orders
facts:
  - name: OrderPlaced
    version: 1
    when: op = 'c' AND after.stauts = 1 AND
    key: after.id
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cdc_facts", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                                 "COLUMNS": "200"})


def test_a_bad_mapping_file_stops_run_with_the_messages_of_validate(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(BAD_MAPPING)
    validate = _cli("validate", str(tmp_path))
    run = _cli("run", "--mappings", str(tmp_path), "--group", "g",
               "--bootstrap-servers", "127.0.0.1:9")
    assert (validate.returncode, run.returncode) == (1, 1)
    problems = [line for line in validate.stdout.splitlines() if "error:" in line]
    assert len(problems) == 2 and "operand is missing" in problems[1]
    assert run.stdout.splitlines() == validate.stdout.splitlines()[:-1]
    assert "the service does not start" in run.stderr


def test_sigterm_while_the_broker_is_unreachable_stops_run_within_seconds(
        tmp_path: Path) -> None:
    mappings = orders_mapping(tmp_path, "shop", "orders", "facts")
    run = subprocess.Popen(  # nothing listens on port 9: the start retries and waits
        [sys.executable, "-m", "cdc_facts", "run", "--mappings", str(mappings), "--group", "g",
         "--bootstrap-servers", "127.0.0.1:9"], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    time.sleep(4)
    assert run.poll() is None, run.communicate()
    asked = time.monotonic()
    run.terminate()
    _, stderr = run.communicate(timeout=60)
    took = time.monotonic() - asked
    assert run.returncode == 0, stderr
    assert took < 15, f"stopped {took:.1f} s after SIGTERM (the start retries for 60 s)"
    assert "stopped while waiting to" in stderr


def test_a_missing_setting_names_every_source_tried(tmp_path: Path) -> None:
    mappings = orders_mapping(tmp_path, "shop", "orders", "facts")
    run = _cli("run", "--mappings", str(mappings), "--bootstrap-servers", "127.0.0.1:9")
    assert run.returncode == 1
    message = " ".join(run.stderr.split())
    assert "ConfigError: missing setting: the consumer group id; tried the option --group" \
        in message
    assert "--group" in message and "CDC_FACTS__SERVICE__GROUP_ID" in message
    assert "`service.group_id` in a config file (none given with --config)" in message


def test_health_json_logs_and_a_clean_stop_on_sigterm(tmp_path: Path,
                                                       kafka_bootstrap: str) -> None:
    connector = unique("cli")
    create_topics(kafka_bootstrap, [f"{connector}.public.orders"], 2)
    mappings = orders_mapping(tmp_path / "m", connector, "orders", unique("facts"))
    translator = ServiceProcess(mappings, unique("grp"), kafka_bootstrap, "a",
                                tmp_path / "run.log", "--log-format", "json")
    try:
        translator.start()
        translator.wait_ready()
        assert translator.http("/healthz") == (200, "ok\n")
        status, reason = translator.http("/readyz")
        assert (status, reason) == (200, "ready: 2 partitions assigned\n")
        status, metrics = translator.http("/metrics")
        assert status == 200 and "cdc_facts_assigned_partitions 2.0" in metrics
        assert translator.http("/nope")[0] == 404
        assert translator.terminate() == 0
    finally:
        translator.ensure_stopped()
    lines = [line for line in translator.log.read_text().splitlines() if line.strip()]
    logs = [json.loads(line) for line in lines]  # every line, the Kafka clients' too
    messages = [entry["message"] for entry in logs]
    assert {"level", "logger", "time", "message"} <= set(logs[0])
    assert any(m.startswith("assigned ") for m in messages)
    assert messages[-1] == "stopped"
    assert any("SIGTERM" in m for m in messages)


@pytest.mark.parametrize("membership", ["--static-membership", "--no-static-membership"])
def test_an_instance_fenced_by_a_newer_one_with_its_id_stops_with_a_clear_message(
    tmp_path: Path, kafka_bootstrap: str, membership: str
) -> None:
    """A second instance with the same id fences the first: as a consumer at once (static
    membership: the newer member takes the group membership over), or as a producer at its
    next transaction (dynamic membership: the two share the partitions until then)."""
    connector, group = unique("fence"), unique("grp")
    topic = f"{connector}.public.orders"
    create_topics(kafka_bootstrap, [topic], 2)
    mappings = orders_mapping(tmp_path / "m", connector, "orders", unique("facts"))
    old, new = (ServiceProcess(mappings, group, kafka_bootstrap, "same", tmp_path / f"{n}.log",
                               membership)
                for n in ("old", "new"))
    try:
        old.start().wait_ready()
        new.start().wait_ready()  # registering the same transactional.id fences the old one
        if membership == "--no-static-membership":
            _wait_until_assigned(old, 1)
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        for partition in (0, 1):
            producer.produce(topic, _order(connector, partition + 1),
                             b'{"id": %d}' % (partition + 1),
                             partition=partition)
        producer.flush(10)
        _wait_fenced(old)
        new.wait_ready()
        _wait_until_assigned(new, 2)
        assert new.terminate() == 0
    finally:
        old.ensure_stopped()
        new.ensure_stopped()
    assert "give each instance its own --instance-id" in _fenced_log(old)


def test_a_zombie_whose_turn_is_on_the_second_transactional_id_is_fenced_too(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    """The producer alternates two transactional ids. An instance that has committed one
    transaction runs its next on `<group>-<id>.alt`; a newer instance with its id fences
    that one too, and the older one stops at that next transaction."""
    connector, group, facts = unique("fence2"), unique("grp"), unique("facts")
    topic = f"{connector}.public.orders"
    create_topics(kafka_bootstrap, [topic], 2)
    mappings = orders_mapping(tmp_path / "m", connector, "orders", facts)
    old, new = (ServiceProcess(mappings, group, kafka_bootstrap, "same", tmp_path / f"{n}.log",
                               "--no-static-membership")
                for n in ("old", "new"))
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    try:
        old.start().wait_ready()
        producer.produce(topic, _order(connector, 1), b'{"id": 1}', partition=0)
        producer.flush(10)
        read_until(kafka_bootstrap, facts, 1)  # one transaction committed: .alt is next
        new.start().wait_ready()  # both ids registered again: the old instance is fenced
        _wait_until_assigned(old, 1)
        for partition in (0, 1):
            producer.produce(topic, _order(connector, partition + 2),
                             b'{"id": %d}' % (partition + 2), partition=partition)
        producer.flush(10)
        _wait_fenced(old)
        _wait_until_assigned(new, 2)  # the newer one takes the older one's partition over
        facts_read = read_until(kafka_bootstrap, facts, 3)
        assert new.terminate() == 0
    finally:
        old.ensure_stopped()
        new.ensure_stopped()
    _fenced_log(old)
    assert sorted(f["value"]["subject"] for f in facts_read) == ["1", "2", "3"]


def _wait_fenced(translator: ServiceProcess) -> None:
    """It exits with 1 (a fatal error) within a minute."""
    assert translator.process is not None
    assert translator.process.wait(60) == 1


def _fenced_log(translator: ServiceProcess) -> str:
    """Its log, which must say it was fenced."""
    text = " ".join(translator.log.read_text().split())
    assert "KafkaFatalError" in text and "fenced" in text.lower()
    return text


def _wait_until_assigned(translator: ServiceProcess, count: int) -> None:
    deadline = time.monotonic() + 60
    while f"cdc_facts_assigned_partitions {count}.0" not in translator.http("/metrics")[1]:
        assert time.monotonic() < deadline, translator.tail()
        time.sleep(0.3)


def _order(connector: str, order: int) -> bytes:
    return json.dumps({"op": "c", "before": None, "after": {
        "id": order, "status": "placed", "total_cents": 100, "qty": 1}, "source": {
        "name": connector, "schema": "public", "table": "orders", "lsn": order,
        "sequence": f'[null,"{order}"]'}}).encode()


@pytest.mark.parametrize(("membership", "expected"), [("--static-membership", "pod-a"),
                                                      ("--no-static-membership", None)])
def test_the_instance_joins_its_group_as_a_static_member_named_by_its_id(
    tmp_path: Path, kafka_bootstrap: str, membership: str, expected: str | None
) -> None:
    from confluent_kafka.admin import AdminClient

    connector, group = unique("static"), unique("grp")
    create_topics(kafka_bootstrap, [f"{connector}.public.orders"], 1)
    mappings = orders_mapping(tmp_path / "m", connector, "orders", unique("facts"))
    service = ServiceProcess(mappings, group, kafka_bootstrap, "pod-a", tmp_path / "log",
                             membership)
    try:
        service.start().wait_ready()
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        described = admin.describe_consumer_groups([group])[group].result(30)
        assert [m.group_instance_id for m in described.members] == [expected]
        assert service.terminate() == 0
    finally:
        service.ensure_stopped()
