"""`LocalStack.up`, `down`, `status` and `env` over fake services: what a failed or partial
`up` leaves behind, which ports and extras are kept, and where a stack must exist."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cdc_facts.errors import LocalStackError
from cdc_facts.local import stack as stack_module
from cdc_facts.local.services import BaseService
from cdc_facts.local.settings import LocalPorts, LocalStackSettings
from cdc_facts.local.stack import LocalStack


@dataclass
class World:
    """What the fake services share: which run, which are ready, what happened."""

    running: set[str] = field(default_factory=set)
    never_ready: set[str] = field(default_factory=set)
    missing_tools: set[str] = field(default_factory=set)
    events: list[str] = field(default_factory=list)


class FakeService(BaseService):
    def __init__(self, world: World, name: str, settings: LocalStackSettings) -> None:
        self.name = name
        super().__init__(settings, None)  # type: ignore[arg-type]
        self.world = world

    @property
    def pid(self) -> int | None:
        return 4242 if self.name in self.world.running else None

    def running(self) -> bool:
        return self.name in self.world.running

    def check_tools(self) -> None:
        if self.name in self.world.missing_tools:
            raise LocalStackError(f"{self.name} needs a tool")

    def provision(self) -> None:
        self.world.events.append(f"provision {self.name}")

    def start(self) -> None:
        self.world.events.append(f"start {self.name}")
        self.world.running.add(self.name)

    def ready(self) -> bool:
        return self.name not in self.world.never_ready

    def bootstrap(self) -> None:
        self.world.events.append(f"bootstrap {self.name}")

    def stop(self) -> bool:
        if self.name not in self.world.running:
            return False
        self.world.events.append(f"stop {self.name}")
        self.world.running.discard(self.name)
        return True

    def endpoint(self) -> str:
        return f"{self.name}:{self.port}"

    def env(self) -> dict[str, str]:
        return {f"{self.name.upper()}_PORT": str(self.port)}


class FakeStack(LocalStack):
    def __init__(self, settings: LocalStackSettings, world: World) -> None:
        super().__init__(settings)
        self.world = world

    def service(self, name: str) -> BaseService:
        return FakeService(self.world, name, self.settings)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    world = World()
    monkeypatch.setattr(stack_module.jars, "resolve", lambda *_a, **_k: None)
    monkeypatch.setattr(stack_module, "READY_TIMEOUTS", dict.fromkeys(
        ("postgres", "mariadb", "kafka", "connect", "registry"), 0.1))

    def check_port_free(service: str, host: str, port: int) -> None:
        world.events.append(f"port {service}")
        if port == 1:
            raise LocalStackError(f"port {host}:{port} for {service} is already in use")

    monkeypatch.setattr(stack_module, "check_port_free", check_port_free)
    return world


def _stack(home: Path, world: World, **ports: int) -> FakeStack:
    return FakeStack(LocalStackSettings(home=home, cache=home / "cache",
                                        ports=LocalPorts(**ports)), world)


def test_up_starts_everything_and_remembers_extras_and_ports(tmp_path: Path,
                                                             world: World) -> None:
    stack = _stack(tmp_path, world, postgres=25432)
    statuses = stack.up(["mariadb"], progress=lambda _m: None)
    assert [s.name for s in statuses if s.ready] == ["postgres", "kafka", "connect", "mariadb"]
    assert world.events.index("bootstrap mariadb") < world.events.index("start connect")
    assert stack.extras() == ["mariadb"]
    assert json.loads((tmp_path / "ports.json").read_text())["postgres"] == 25432


def test_every_port_is_checked_before_anything_starts(tmp_path: Path, world: World) -> None:
    with pytest.raises(LocalStackError, match="for connect is already in use"):
        _stack(tmp_path, world, connect=1).up(progress=lambda _m: None)
    assert not [e for e in world.events if not e.startswith("port")]
    assert {"port kafka", "port controller", "port postgres"} <= set(world.events)


def test_a_failed_up_stops_what_it_started_and_remembers_nothing(tmp_path: Path,
                                                                 world: World) -> None:
    world.never_ready.add("kafka")
    world.running.add("postgres")  # ran before this `up`: it stays
    said: list[str] = []
    with pytest.raises(LocalStackError, match="kafka was not ready"):
        _stack(tmp_path, world).up(["mariadb"], progress=said.append)
    assert world.running == {"postgres"}
    assert "stop mariadb" in world.events and "stop kafka" in world.events
    assert "mariadb: stopped again, since `up` did not finish" in said
    assert not (tmp_path / "services").exists() and not (tmp_path / "ports.json").exists()


def test_services_left_running_are_waited_for_and_bootstrapped(tmp_path: Path,
                                                               world: World) -> None:
    """After a failed or interrupted `up`: the next one finishes the work."""
    world.running |= {"postgres", "mariadb"}
    said: list[str] = []
    _stack(tmp_path, world).up(["mariadb"], progress=said.append)
    assert "bootstrap postgres" in world.events and "bootstrap mariadb" in world.events
    assert "start postgres" not in world.events and "provision postgres" not in world.events
    assert "postgres: already running (pid 4242)" in said
    assert "port postgres" not in world.events


def test_a_failed_up_with_an_extra_does_not_break_the_next_plain_up(tmp_path: Path,
                                                                    world: World) -> None:
    world.missing_tools.add("registry")  # no JDK 21
    stack = _stack(tmp_path, world)
    with pytest.raises(LocalStackError, match="registry needs a tool"):
        stack.up(["registry"], progress=lambda _m: None)
    assert not world.running
    stack.up(progress=lambda _m: None)
    assert world.running == {"postgres", "kafka", "connect"}
    assert stack.extras() == []


def test_down_of_some_services_stops_only_those(tmp_path: Path, world: World) -> None:
    stack = _stack(tmp_path, world)
    stack.up(["mariadb"], progress=lambda _m: None)
    stack.down(progress=lambda _m: None, only=["mariadb"])
    assert world.running == {"postgres", "kafka", "connect"}
    stack.forget(["mariadb"])
    assert stack.enabled() == ["postgres", "kafka", "connect"]


def test_a_running_service_does_not_move_to_another_port(tmp_path: Path,
                                                         world: World) -> None:
    _stack(tmp_path, world).up(progress=lambda _m: None)
    with pytest.raises(LocalStackError, match="kafka already runs with kafka port 19092, "
                       "not 29092") as info:
        _stack(tmp_path, world, kafka=29092).up(progress=lambda _m: None)
    assert "local down" in (info.value.hint or "")


def test_saved_ports_are_used_unless_a_flag_or_variable_says_otherwise(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in LocalPorts.__dataclass_fields__:
        monkeypatch.delenv(f"CDC_FACTS_LOCAL__{name.upper()}_PORT", raising=False)
    _stack(tmp_path, world, postgres=25432, kafka=29092).up(progress=lambda _m: None)
    later = LocalStackSettings.from_env(tmp_path)
    assert (later.ports.postgres, later.ports.kafka) == (25432, 29092)
    assert later.ports.connect == LocalPorts().connect
    assert FakeStack(later, world).env()["POSTGRES_PORT"] == "25432"
    monkeypatch.setenv("CDC_FACTS_LOCAL__KAFKA_PORT", "39092")
    assert LocalStackSettings.from_env(tmp_path, postgres=35432).ports.kafka == 39092
    assert LocalStackSettings.from_env(tmp_path, postgres=35432).ports.postgres == 35432


def test_without_a_stack_status_and_env_fail_and_down_creates_nothing(tmp_path: Path,
                                                                      world: World) -> None:
    home = tmp_path / "elsewhere"
    stack = _stack(home, world)
    for command in (stack.status, stack.env):
        with pytest.raises(LocalStackError, match=f"no local stack in {home}") as info:
            command()
        assert "--home" in (info.value.hint or "")
    said: list[str] = []
    stack.down(purge=True, progress=said.append)
    assert said == [f"no local stack in {home}: nothing to stop"]
    assert not home.exists()


def test_the_session_fixture_stops_only_what_it_started(tmp_path: Path, world: World) -> None:
    from tests.conftest import _stop_what_the_session_started

    stack = _stack(tmp_path, world)
    stack.up(progress=lambda _m: None)  # the user's stack, without MariaDB
    stack.up(["mariadb"], progress=lambda _m: None)  # the session's
    _stop_what_the_session_started(stack, {"postgres", "kafka", "connect"}, [])
    assert world.running == {"postgres", "kafka", "connect"}
    assert stack.extras() == []

    _stop_what_the_session_started(stack, set(), [])  # nothing ran before: all of it
    assert world.running == set()
