"""The local stack as a whole: provision, start in order, wait until ready, stop."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cdc_facts.errors import LocalStackError
from cdc_facts.local import jars
from cdc_facts.local.processes import check_port_free, log_tail
from cdc_facts.local.secrets import StackSecrets
from cdc_facts.local.services import (
    BaseService,
    ConnectService,
    KafkaService,
    MariaDbService,
    PostgresService,
    RegistryService,
)
from cdc_facts.local.settings import OPTIONAL_SERVICES, SERVICES, LocalStackSettings

Progress = Callable[[str], None]

#: Seconds each service may take to become ready.
READY_TIMEOUTS = {"postgres": 60, "mariadb": 90, "kafka": 120, "connect": 240, "registry": 180}


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    ready: bool
    pid: int | None
    endpoint: str
    log: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "running": self.running, "ready": self.ready,
                "pid": self.pid, "endpoint": self.endpoint, "log": self.log}


class LocalStack:
    """Kafka (KRaft), Kafka Connect with Debezium, PostgreSQL, and optionally MariaDB and
    Apicurio Registry, as local processes on loopback."""

    def __init__(self, settings: LocalStackSettings) -> None:
        self.settings = settings

    # --- services ------------------------------------------------------------------------

    def _secrets(self) -> StackSecrets:
        return StackSecrets.load_or_create(self.settings.home)

    def service(self, name: str) -> BaseService:
        secrets = self._secrets()
        stack_jars = jars.stack_dir(self.settings.cache)
        if name == "postgres":
            return PostgresService(self.settings, secrets)
        if name == "mariadb":
            return MariaDbService(self.settings, secrets)
        if name == "kafka":
            return KafkaService(self.settings, secrets, stack_jars)
        if name == "connect":
            return ConnectService(self.settings, secrets, stack_jars)
        if name == "registry":
            return RegistryService(self.settings, secrets, jars.registry_dir(self.settings.cache))
        raise LocalStackError(f"unknown service {name!r}", hint=f"one of: {', '.join(SERVICES)}")

    def enabled(self) -> list[str]:
        """Services this stack has been started with (core ones plus chosen extras)."""
        marker = self.settings.home / "services"
        extras = marker.read_text().split() if marker.exists() else []
        return [s for s in SERVICES if s not in OPTIONAL_SERVICES or s in extras]

    def _remember(self, extras: Iterable[str]) -> None:
        self.settings.home.mkdir(parents=True, exist_ok=True)
        marker = self.settings.home / "services"
        known = set(marker.read_text().split()) if marker.exists() else set()
        marker.write_text(" ".join(sorted(known | set(extras))) + "\n")

    # --- up ----------------------------------------------------------------------------------

    def up(self, extras: Iterable[str] = (), progress: Progress = print) -> list[ServiceStatus]:
        """Start what is not running yet and wait until everything is ready. Idempotent."""
        extras = [e for e in extras if e in OPTIONAL_SERVICES]
        self._remember(extras)
        wanted = self.enabled()
        services = [self.service(name) for name in wanted]
        for svc in services:
            if not svc.running():
                svc.check_tools()
        if any(not s.running() for s in services if s.name in ("kafka", "connect", "registry")):
            jars.resolve(self.settings.cache, registry="registry" in wanted, progress=progress)
        first_wave = [s for s in services if s.name != "connect"]
        self._start(first_wave, progress)
        self._start([s for s in services if s.name == "connect"], progress)
        return self.status()

    def _start(self, services: list[BaseService], progress: Progress) -> None:
        started: list[BaseService] = []
        for svc in services:
            if svc.running():
                progress(f"{svc.name}: already running (pid {svc.pid})")
                continue
            check_port_free(svc.name, self.settings.host, svc.port)
            if svc.name == "kafka":
                check_port_free("controller", self.settings.host, self.settings.ports.controller)
            if svc.name == "registry":
                check_port_free("registry-management", self.settings.host,
                                self.settings.ports.registry_management)
            svc.provision()
            progress(f"{svc.name}: starting on {self.settings.host}:{svc.port}")
            svc.start()
            started.append(svc)
        for svc in started:
            self._wait_ready(svc, progress)
            svc.bootstrap()

    def _wait_ready(self, svc: BaseService, progress: Progress) -> None:
        timeout = READY_TIMEOUTS[svc.name]
        deadline = time.monotonic() + timeout
        began, last_note = time.monotonic(), time.monotonic()
        while not svc.ready():
            if not svc.running():
                raise LocalStackError(
                    f"{svc.name} died during start", service=svc.name,
                    log_tail=log_tail(svc.log), hint=f"see the full log: {svc.log}",
                )
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"{svc.name} was not ready after {timeout}s", service=svc.name,
                    log_tail=log_tail(svc.log),
                    hint=f"see {svc.log}; `cdc-facts local down` then `up` again",
                )
            if time.monotonic() - last_note > 10:
                progress(f"{svc.name}: waiting for readiness ({time.monotonic() - began:.0f}s)")
                last_note = time.monotonic()
            time.sleep(0.5)
        progress(f"{svc.name}: ready ({time.monotonic() - began:.1f}s)")

    # --- down, status, env -------------------------------------------------------------------

    def down(self, purge: bool = False, progress: Progress = print) -> None:
        """Stop every service, in reverse start order. ``purge`` also deletes the state."""
        for name in reversed(SERVICES):
            svc = self.service(name)
            if svc.stop():
                progress(f"{name}: stopped")
        if purge and self.settings.home.exists():
            shutil.rmtree(self.settings.home)
            progress(f"removed {self.settings.home}")

    def status(self) -> list[ServiceStatus]:
        result = []
        for name in self.enabled():
            svc = self.service(name)
            running = svc.running()
            result.append(ServiceStatus(
                name=name, running=running, ready=running and svc.ready(), pid=svc.pid,
                endpoint=svc.endpoint(), log=str(svc.log),
            ))
        return result

    def env(self) -> dict[str, str]:
        """Variables that point clients (tests, the CLI, users) at this stack."""
        values: dict[str, str] = {"CDC_FACTS_HOME": str(self.settings.home)}
        for name in self.enabled():
            values.update(self.service(name).env())
        return values
