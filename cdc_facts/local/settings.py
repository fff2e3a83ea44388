"""Settings of the local stack: where its state lives and which loopback ports it uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from cdc_facts.errors import ConfigError

SERVICES = ("postgres", "kafka", "connect", "mariadb", "registry")
OPTIONAL_SERVICES = ("mariadb", "registry")


@dataclass(frozen=True)
class LocalPorts:
    """Loopback ports of the local stack. Chosen off the usual defaults so a stack a user
    already runs (Kafka on 9092, PostgreSQL on 5432...) does not collide with this one."""

    kafka: int = 19092
    controller: int = 19093
    connect: int = 18083
    postgres: int = 15432
    mariadb: int = 13306
    registry: int = 18080
    registry_management: int = 18081


def fields_of(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def _port(variable: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{variable}={text!r} is not a TCP port", key=variable,
                          hint="use a number from 1 to 65535")
    return int(text)


@dataclass(frozen=True)
class LocalStackSettings:
    """Where the local stack keeps its state, its jar cache and its ports.

    ``home`` defaults to ``$CDC_FACTS_HOME`` or ``.cdc-facts/`` in the working directory.
    ``cache`` (resolved jars, shared by every checkout) defaults to
    ``$CDC_FACTS_CACHE`` or ``~/.cache/cdc-facts``.
    """

    home: Path
    cache: Path
    ports: LocalPorts = field(default_factory=LocalPorts)
    host: str = "127.0.0.1"
    #: JVM heap of each Java service, e.g. "768m".
    heap: str = "768m"

    @classmethod
    def from_env(cls, home: Path | None = None, **ports: int) -> LocalStackSettings:
        """Settings from arguments, then the environment, then the defaults.

        Ports: ``CDC_FACTS_LOCAL__KAFKA_PORT``, ``..._CONTROLLER_PORT``, ``..._CONNECT_PORT``,
        ``..._POSTGRES_PORT``, ``..._MARIADB_PORT``, ``..._REGISTRY_PORT``.
        """
        for name in fields_of(LocalPorts):
            variable = f"CDC_FACTS_LOCAL__{name.upper()}_PORT"
            if not ports.get(name) and os.environ.get(variable):
                ports[name] = _port(variable, os.environ[variable])
        env_home = os.environ.get("CDC_FACTS_HOME")
        resolved_home = home or (Path(env_home) if env_home else Path.cwd() / ".cdc-facts")
        cache_env = os.environ.get("CDC_FACTS_CACHE")
        xdg = os.environ.get("XDG_CACHE_HOME")
        cache = Path(cache_env) if cache_env else Path(xdg or Path.home() / ".cache") / "cdc-facts"
        chosen = replace(LocalPorts(), **{k: v for k, v in ports.items() if v})
        return cls(home=resolved_home.absolute(), cache=cache.absolute(), ports=chosen)

    def service_dir(self, service: str) -> Path:
        return self.home / service

    def log_file(self, service: str) -> Path:
        return self.home / "logs" / f"{service}.log"

    def pid_file(self, service: str) -> Path:
        return self.home / "run" / f"{service}.pid"
