"""Unit tests of the local stack's plumbing: settings, versions, secrets, processes."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from cdc_facts.errors import LocalStackError
from cdc_facts.local import jars
from cdc_facts.local.processes import (
    check_port_free,
    log_tail,
    pid_alive,
    port_in_use,
    read_pid,
    spawn,
    terminate,
)
from cdc_facts.local.secrets import StackSecrets
from cdc_facts.local.settings import LocalPorts, LocalStackSettings
from cdc_facts.local.stack import LocalStack
from cdc_facts.local.versions import stack_versions


def test_home_defaults_to_dot_dir_in_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CDC_FACTS_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert LocalStackSettings.from_env().home == tmp_path / ".cdc-facts"


def test_home_and_cache_come_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KAFKA", "CONNECT"):
        monkeypatch.delenv(f"CDC_FACTS_LOCAL__{name}_PORT", raising=False)
    monkeypatch.setenv("CDC_FACTS_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("CDC_FACTS_CACHE", str(tmp_path / "c"))
    settings = LocalStackSettings.from_env(kafka=29092)
    assert settings.home == tmp_path / "h"
    assert settings.cache == tmp_path / "c"
    assert settings.ports.kafka == 29092
    assert settings.ports.connect == LocalPorts().connect


def test_versions_are_matched_kafka_4_and_debezium_3() -> None:
    v = stack_versions()
    assert v.kafka.startswith("4.") and v.debezium.startswith("3.")
    assert v.debezium_short == v.debezium.removesuffix(".Final")


def test_jar_cache_folder_names_the_pinned_versions(tmp_path: Path) -> None:
    v = stack_versions()
    target = jars.stack_dir(tmp_path)
    assert v.kafka in target.name and v.debezium in target.name
    assert not jars.is_resolved(target)


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    first = StackSecrets.load_or_create(tmp_path)
    second = StackSecrets.load_or_create(tmp_path)
    assert first == second
    assert len(set(first.values())) == 4
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """One id in 64 would: `kafka-storage format -t -x...` then fails to start the stack."""
    import uuid

    from cdc_facts.local import secrets

    dashed = uuid.UUID(bytes=b"\xfb" + bytes(15))  # URL-safe base64 "-w..."
    plain = uuid.UUID(bytes=bytes(16))
    ids = iter([dashed, plain])
    monkeypatch.setattr(secrets.uuid, "uuid4", lambda: next(ids))
    assert secrets.kafka_cluster_id() == "AAAAAAAAAAAAAAAAAAAAAA"


def test_the_storage_format_takes_a_cluster_id_that_starts_with_a_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state dir made before ids were kept from starting with `-` still formats."""
    from cdc_facts.local import java_services

    commands: list[list[str]] = []
    monkeypatch.setattr(java_services, "run", lambda args, **_: commands.append(list(args)))
    home = tmp_path / "home"
    home.mkdir()
    (home / "secrets.json").write_text(json.dumps({
        "postgres_admin": "a", "postgres_cdc": "b", "mariadb_root": "c", "mariadb_cdc": "d",
        "kafka_cluster_id": "-wAAAAAAAAAAAAAAAAAAAA"}))
    settings = LocalStackSettings(home=home, cache=tmp_path / "cache")
    service = java_services.KafkaService(settings, StackSecrets.load_or_create(home),
                                         tmp_path / "jars")
    service.provision()
    assert "--cluster-id=-wAAAAAAAAAAAAAAAAAAAA" in commands[0]


def test_port_checks_see_a_listening_socket() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
        with pytest.raises(LocalStackError, match=f"127.0.0.1:{port} for kafka") as info:
            check_port_free("kafka", "127.0.0.1", port)
        assert "--kafka-port" in (info.value.hint or "")
    assert not port_in_use("127.0.0.1", port)


def test_spawn_logs_and_terminate_stops_the_process_group(tmp_path: Path) -> None:
    log, pid_file = tmp_path / "logs" / "svc.log", tmp_path / "run" / "svc.pid"
    code = "import time; print('hello', flush=True); time.sleep(60)"
    pid = spawn([sys.executable, "-c", code], log=log, pid_file=pid_file)
    assert read_pid(pid_file) == pid and pid_alive(pid)
    deadline = time.monotonic() + 10
    while "hello" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log_tail(log) == ["hello"]
    assert terminate(pid_file, timeout=5)
    assert not pid_alive(pid) and not pid_file.exists()
    assert not terminate(pid_file)


def test_enabled_services_remember_the_extras(tmp_path: Path) -> None:
    stack = LocalStack(LocalStackSettings(home=tmp_path, cache=tmp_path / "cache"))
    StackSecrets.load_or_create(tmp_path)  # what `up` does first
    assert stack.enabled() == ["postgres", "kafka", "connect"]
    stack._remember(["mariadb"])
    stack._remember([])
    assert stack.enabled() == ["postgres", "kafka", "connect", "mariadb"]
    assert {s.name for s in stack.status()} == {"postgres", "kafka", "connect", "mariadb"}
    assert not any(s.running for s in stack.status())


def test_unknown_service_is_a_clear_error(tmp_path: Path) -> None:
    stack = LocalStack(LocalStackSettings(home=tmp_path, cache=tmp_path / "cache"))
    with pytest.raises(LocalStackError, match="unknown service 'zookeeper'"):
        stack.service("zookeeper")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the databases as another OS user")
def test_a_state_dir_the_database_user_cannot_reach_is_refused(tmp_path: Path) -> None:
    from cdc_facts.local.services import PostgresService

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    settings = LocalStackSettings(home=private / "home", cache=tmp_path / "cache")
    service = PostgresService(settings, StackSecrets.load_or_create(tmp_path))
    with pytest.raises(LocalStackError, match="cannot enter") as info:
        service.provision()
    assert "chmod o+x" in (info.value.hint or "")


def test_ports_come_from_env_and_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDC_FACTS_LOCAL__POSTGRES_PORT", "25432")
    monkeypatch.setenv("CDC_FACTS_LOCAL__KAFKA_PORT", "29092")
    settings = LocalStackSettings.from_env(kafka=39092)
    assert settings.ports.postgres == 25432
    assert settings.ports.kafka == 39092


def test_a_bad_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from cdc_facts.errors import ConfigError

    monkeypatch.setenv("CDC_FACTS_LOCAL__CONNECT_PORT", "80800")
    with pytest.raises(ConfigError, match="CDC_FACTS_LOCAL__CONNECT_PORT='80800'"):
        LocalStackSettings.from_env()
