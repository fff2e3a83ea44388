"""The local stack as a whole: provision, start in order, wait until ready, stop."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cdc_facts.errors import LocalStackError
from cdc_facts.local import jars
from cdc_facts.local.java_services import ConnectService, KafkaService, RegistryService
from cdc_facts.local.processes import check_port_free, log_tail
from cdc_facts.local.secrets import StackSecrets, secrets_file
from cdc_facts.local.services import BaseService, MariaDbService, PostgresService
from cdc_facts.local.settings import (
    OPTIONAL_SERVICES,
    SERVICES,
    LocalStackSettings,
    saved_ports,
)

Progress = Callable[[str], None]

#: Seconds each service may take to become ready.
READY_TIMEOUTS = {"postgres": 60, "mariadb": 90, "kafka": 120, "connect": 240, "registry": 180}
#: The fields of ``LocalPorts`` each service listens on, when not just its own.
_PORTS_OF = {"kafka": ("kafka", "controller"), "registry": ("registry", "registry_management")}
#: Services that run from the jars Maven resolves.
_JAVA_SERVICES = ("kafka", "connect", "registry")


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

    def exists(self) -> bool:
        """True once `up` made a stack in the state dir (its secrets are there)."""
        return secrets_file(self.settings.home).exists()

    def require(self) -> None:
        """Raise unless the state dir holds a stack: only `up` creates one."""
        if not self.exists():
            raise LocalStackError(
                f"no local stack in {self.settings.home}",
                hint="run `cdc-facts local up`, or pass --home / set CDC_FACTS_HOME to the "
                "state dir of the stack",
            )

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

    def extras(self) -> list[str]:
        """The optional services a plain `up` starts: those of earlier successful `up`s."""
        marker = self.settings.home / "services"
        return marker.read_text().split() if marker.exists() else []

    def enabled(self) -> list[str]:
        """Services this stack has been started with (core ones plus chosen extras)."""
        extras = self.extras()
        return [s for s in SERVICES if s not in OPTIONAL_SERVICES or s in extras]

    def _remember(self, extras: Iterable[str]) -> None:
        self._write_extras(set(self.extras()) | set(extras))

    def forget(self, extras: Iterable[str]) -> None:
        """Leave optional services out of the next plain `up`."""
        if self.settings.home.exists():
            self._write_extras(set(self.extras()) - set(extras))

    def _write_extras(self, extras: set[str]) -> None:
        self.settings.home.mkdir(parents=True, exist_ok=True)
        (self.settings.home / "services").write_text(" ".join(sorted(extras)) + "\n")

    # --- up ----------------------------------------------------------------------------------

    def up(self, extras: Iterable[str] = (), progress: Progress = print) -> list[ServiceStatus]:
        """Start what is not running yet, wait until everything is ready and bootstrap it
        (roles, databases: idempotent). Idempotent. If it fails, it stops again what it
        started; the extras and ports are remembered only once it succeeds."""
        chosen = [e for e in extras if e in OPTIONAL_SERVICES]
        wanted = [s for s in SERVICES if s in {*self.enabled(), *chosen}]
        StackSecrets.load_or_create(self.settings.home)  # only `up` creates a stack
        services = [self.service(name) for name in wanted]
        running = {svc.name for svc in services if svc.running()}
        self._check_ports_unchanged(running)
        to_start = [svc for svc in services if svc.name not in running]
        for svc in to_start:
            svc.check_tools()
        for svc in to_start:
            self._check_ports_free(svc.name)
        if any(svc.name in _JAVA_SERVICES for svc in to_start):
            jars.resolve(self.settings.cache, registry="registry" in wanted, progress=progress)
        started: list[BaseService] = []
        try:
            self._start([s for s in services if s.name != "connect"], running, started, progress)
            self._start([s for s in services if s.name == "connect"], running, started, progress)
        except BaseException:
            self._stop_started(started, progress)
            raise
        self._remember(chosen)
        self.settings.save_ports()
        return self.status()

    def _check_ports_unchanged(self, running: set[str]) -> None:
        """A running service keeps its ports: moving it takes a `down` first."""
        saved = saved_ports(self.settings.home)
        if saved is None:
            return
        for name in running:
            for port in _PORTS_OF.get(name, (name,)):
                before, now = getattr(saved, port), getattr(self.settings.ports, port)
                if before != now:
                    raise LocalStackError(
                        f"{name} already runs with {port} port {before}, not {now}",
                        hint="stop the stack first (`cdc-facts local down`), then `up` with "
                        "the new ports", service=name,
                    )

    def _check_ports_free(self, name: str) -> None:
        for port in _PORTS_OF.get(name, (name,)):
            label = name if port == name else port.replace("_", "-")
            check_port_free(label, self.settings.host, getattr(self.settings.ports, port))

    def _start(self, services: list[BaseService], running: set[str],
               started: list[BaseService], progress: Progress) -> None:
        for svc in services:
            if svc.name in running:
                progress(f"{svc.name}: already running (pid {svc.pid})")
                continue
            svc.provision()
            progress(f"{svc.name}: starting on {self.settings.host}:{svc.port}")
            svc.start()
            started.append(svc)
        for svc in services:
            self._wait_ready(svc, progress)
            svc.bootstrap()

    def _stop_started(self, started: list[BaseService], progress: Progress) -> None:
        """Undo a failed `up`: stop what it started, leave what ran before it alone."""
        for svc in reversed(started):
            if svc.stop():
                progress(f"{svc.name}: stopped again, since `up` did not finish")

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

    def down(self, purge: bool = False, progress: Progress = print,
             only: Iterable[str] | None = None) -> None:
        """Stop every service (or the ones in ``only``), in reverse start order. ``purge``
        also deletes the state. Without a stack in the state dir, there is nothing to do."""
        if not self.exists():
            progress(f"no local stack in {self.settings.home}: nothing to stop")
            return
        names = list(SERVICES) if only is None else list(only)
        for name in reversed([s for s in SERVICES if s in names]):
            svc = self.service(name)
            if svc.stop():
                progress(f"{name}: stopped")
        if purge:
            shutil.rmtree(self.settings.home)
            progress(f"removed {self.settings.home}")

    def status(self) -> list[ServiceStatus]:
        self.require()
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
        self.require()
        values: dict[str, str] = {"CDC_FACTS_HOME": str(self.settings.home)}
        for name in self.enabled():
            values.update(self.service(name).env())
        return values
