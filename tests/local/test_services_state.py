"""What the database services leave on disk: their settings follow the ports, secrets and
sockets stay private, and paths too long for a socket are refused up front."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cdc_facts.errors import LocalStackError
from cdc_facts.local import jars, services
from cdc_facts.local import secrets as secrets_module
from cdc_facts.local.secrets import StackSecrets
from cdc_facts.local.settings import LocalPorts, LocalStackSettings

SECRETS = StackSecrets(postgres_admin="admin-pw", postgres_cdc="b", mariadb_root="c",
                       mariadb_cdc="d", kafka_cluster_id="AAAAAAAAAAAAAAAAAAAAAA")


@pytest.fixture(autouse=True)
def as_this_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """The databases run as the current OS user, whoever runs the tests."""
    monkeypatch.setattr(services, "_service_user", lambda _preferred: None)
    monkeypatch.setattr(services, "postgres_bin_dir", lambda: Path("/pg/bin"))
    monkeypatch.setattr(services, "_mariadb_binary", lambda *names: f"/usr/sbin/{names[0]}")


def _postgres(home: Path, port: int = 15432) -> services.PostgresService:
    settings = LocalStackSettings(home=home, cache=home / "cache", ports=LocalPorts(postgres=port))
    return services.PostgresService(settings, SECRETS)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_postgres_takes_the_port_of_each_start(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def initdb(argv: list[str], **_kwargs: object) -> None:
        (Path(argv[argv.index("-D") + 1]) / "PG_VERSION").parent.mkdir(parents=True)
        (Path(argv[argv.index("-D") + 1]) / "PG_VERSION").write_text("15\n")

    monkeypatch.setattr(services, "run", initdb)
    _postgres(tmp_path, 15432).provision()
    _postgres(tmp_path, 25432).provision()
    conf = (tmp_path / "postgres" / "data" / "postgresql.auto.conf").read_text()
    assert "port = 25432\n" in conf


def test_the_admin_password_file_is_private_and_removed_when_initdb_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def failing_initdb(argv: list[str], **_kwargs: object) -> None:
        pwfile = Path(next(a for a in argv if a.startswith("--pwfile=")).split("=", 1)[1])
        assert pwfile.read_text() == "admin-pw\n"
        seen.append(_mode(pwfile))
        raise LocalStackError("initdb failed")

    monkeypatch.setattr(services, "run", failing_initdb)
    with pytest.raises(LocalStackError, match="initdb failed"):
        _postgres(tmp_path).provision()
    assert seen == [0o600]
    assert not (tmp_path / "postgres" / "pwfile").exists()
    # local connections are trusted: only the server's OS user (and root) reach the socket
    assert _mode(tmp_path / "postgres" / "run") == 0o700
    assert _mode(tmp_path / "postgres") == 0o700


def test_an_existing_cluster_gets_a_private_socket_folder(tmp_path: Path) -> None:
    data = tmp_path / "postgres" / "data"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("15\n")
    (tmp_path / "postgres" / "run").mkdir(mode=0o755)
    _postgres(tmp_path).provision()
    assert _mode(tmp_path / "postgres" / "run") == 0o700


def test_the_mariadb_socket_folder_is_private(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "run", lambda *_a, **_k: None)
    settings = LocalStackSettings(home=tmp_path, cache=tmp_path / "cache")
    services.MariaDbService(settings, SECRETS).provision()
    assert _mode(tmp_path / "mariadb" / "run") == 0o700


@pytest.mark.parametrize("service", ["postgres", "mariadb"])
def test_a_socket_path_too_long_for_unix_is_refused(tmp_path: Path, service: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "run", lambda *_a, **_k: pytest.fail("must not run"))
    home = tmp_path / ("a-long-checkout-path-" * 4)
    settings = LocalStackSettings(home=home, cache=tmp_path / "cache")
    cls = services.PostgresService if service == "postgres" else services.MariaDbService
    with pytest.raises(LocalStackError, match=f"the {service} socket path is [0-9]+ "
                       "bytes long, over the 107") as info:
        cls(settings, SECRETS).provision()
    assert "--home" in (info.value.hint or "") and "CDC_FACTS_HOME" in (info.value.hint or "")
    assert not home.exists()


def test_secrets_are_private_from_the_first_byte(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets_module.os, "chmod", lambda *_a: pytest.fail("no chmod after"))
    old_umask = os.umask(0)
    try:
        created = StackSecrets.load_or_create(tmp_path)
    finally:
        os.umask(old_umask)
    path = tmp_path / "secrets.json"
    assert _mode(path) == 0o600
    assert json.loads(path.read_text())["postgres_admin"] == created.postgres_admin


def test_maven_runs_with_strict_checksums_and_a_time_limit(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], float | None]] = []

    def slow_maven(argv: list[str], **kwargs: object) -> None:
        calls.append((argv, kwargs.get("timeout")))  # type: ignore[arg-type]
        raise subprocess.TimeoutExpired(argv, 900, output=b"Downloading x.jar")

    monkeypatch.setattr(jars, "require_tool", lambda name, hint: name)
    monkeypatch.setattr(jars.subprocess, "run", slow_maven)
    with pytest.raises(LocalStackError, match="did not finish .* in 15 minutes") as info:
        jars.resolve(tmp_path)
    argv, timeout = calls[0]
    assert "--strict-checksums" in argv and timeout == jars.MAVEN_TIMEOUT
    assert info.value.log_tail == ["Downloading x.jar"]
    assert "Maven Central" in (info.value.hint or "")
