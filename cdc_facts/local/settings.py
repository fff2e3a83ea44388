"""Settings of the local stack: where its state lives and which loopback ports it uses."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
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
        """Settings from arguments, then the environment, then the ports the stack in
        ``home`` was last started with (``ports.json``), then the defaults.

        Ports: ``CDC_FACTS_LOCAL__KAFKA_PORT``, ``..._CONTROLLER_PORT``, ``..._CONNECT_PORT``,
        ``..._POSTGRES_PORT``, ``..._MARIADB_PORT``, ``..._REGISTRY_PORT``.
        """
        for name in fields_of(LocalPorts):
            variable = f"CDC_FACTS_LOCAL__{name.upper()}_PORT"
            if not ports.get(name) and os.environ.get(variable):
                ports[name] = _port(variable, os.environ[variable])
        env_home = os.environ.get("CDC_FACTS_HOME")
        resolved_home = (home or (Path(env_home) if env_home else Path.cwd() / ".cdc-facts"))
        resolved_home = resolved_home.absolute()
        cache_env = os.environ.get("CDC_FACTS_CACHE")
        xdg = os.environ.get("XDG_CACHE_HOME")
        cache = Path(cache_env) if cache_env else Path(xdg or Path.home() / ".cache") / "cdc-facts"
        saved = saved_ports(resolved_home) or LocalPorts()
        chosen = replace(saved, **{k: v for k, v in ports.items() if v})
        return cls(home=resolved_home, cache=cache.absolute(), ports=chosen)

    def save_ports(self) -> None:
        """Keep the ports for the commands that follow `up` (`env`, `status`, `demo`...)."""
        ports_file(self.home).write_text(json.dumps(asdict(self.ports), indent=2) + "\n")

    def service_dir(self, service: str) -> Path:
        return self.home / service

    def log_file(self, service: str) -> Path:
        return self.home / "logs" / f"{service}.log"

    def pid_file(self, service: str) -> Path:
        return self.home / "run" / f"{service}.pid"


def ports_file(home: Path) -> Path:
    return home / "ports.json"


def saved_ports(home: Path) -> LocalPorts | None:
    """The ports the stack in ``home`` was last started with, if it was."""
    path = ports_file(home)
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the saved ports in {path}: {exc}", key=str(path),
                          hint="delete the file: the next `cdc-facts local up` writes it "
                          "again") from exc
    if not isinstance(saved, dict):
        saved = {}
    known = {name: _port(f"{path}: {name}", str(saved[name]))
             for name in fields_of(LocalPorts) if name in saved}
    return replace(LocalPorts(), **known)
