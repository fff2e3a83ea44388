"""Session fixtures for the real local stack.

The ``stack`` fixture reuses a running stack when the ``CDC_FACTS_*`` variables printed by
``cdc-facts local env`` are set, or when the stack in the default state dir is already up.
Otherwise it starts the stack through the same code as ``cdc-facts local up --with mariadb``
and, at the end of the session, stops what the session started: the whole stack when none
of it ran before. Either way, the topics and consumer groups named after the names the
tests made (``tests.stack.helpers.unique``) are deleted at the end. Tests that use it are
marked ``stack``.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from cdc_facts.local.services import unreachable_ancestor
from cdc_facts.local.settings import LocalStackSettings
from cdc_facts.local.stack import LocalStack
from tests.stack.helpers import MADE, delete_made

pytest_plugins = ["tests.cases.conftest"]

_STACK_FIXTURES = {"stack", "pg_dsn", "pg_cdc_dsn", "connect_url", "kafka_bootstrap",
                   "mariadb_dsn", "mariadb_cdc_dsn", "connect"}


@dataclass(frozen=True)
class StackEndpoints:
    """Where the tests find the stack's services."""

    kafka_bootstrap: str
    connect_url: str
    pg_dsn: str
    pg_cdc_dsn: str
    mariadb_dsn: str | None
    mariadb_cdc_dsn: str | None
    registry_url: str | None
    home: Path | None

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str]) -> StackEndpoints:
        home = env.get("CDC_FACTS_HOME")
        return cls(
            kafka_bootstrap=env["CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS"],
            connect_url=env["CDC_FACTS_CONNECT_URL"],
            pg_dsn=env["CDC_FACTS_POSTGRES_DSN"],
            pg_cdc_dsn=env.get("CDC_FACTS_POSTGRES_CDC_DSN", env["CDC_FACTS_POSTGRES_DSN"]),
            mariadb_dsn=env.get("CDC_FACTS_MARIADB_DSN"),
            mariadb_cdc_dsn=env.get("CDC_FACTS_MARIADB_CDC_DSN"),
            registry_url=env.get("CDC_FACTS_REGISTRY_URL"),
            home=Path(home) if home else None,
        )


def _env_points_at_stack() -> bool:
    return all(os.environ.get(k) for k in ("CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS",
                                            "CDC_FACTS_CONNECT_URL", "CDC_FACTS_POSTGRES_DSN"))


def _all_ready(stack: LocalStack) -> bool:
    statuses = stack.status()
    names = {s.name for s in statuses if s.ready}
    return {"postgres", "kafka", "connect", "mariadb"} <= names


def _test_settings() -> LocalStackSettings:
    """The default state dir, unless the databases' OS users could not reach it (a checkout
    under /root, say): then one under /tmp, named after the checkout."""
    settings = LocalStackSettings.from_env()
    if os.geteuid() != 0 or os.environ.get("CDC_FACTS_HOME"):
        return settings
    if any(unreachable_ancestor(settings.home, user) for user in ("postgres", "mysql")
           if _os_user_exists(user)):
        digest = hashlib.sha256(str(settings.home).encode()).hexdigest()[:10]
        home = Path(tempfile.gettempdir()) / f"cdc-facts-test-{digest}"
        home.mkdir(mode=0o755, exist_ok=True)
        return replace(settings, home=home)
    return settings


def _os_user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _running(stack: LocalStack) -> set[str]:
    return {s.name for s in stack.status() if s.running} if stack.exists() else set()


def _say(message: str) -> None:
    print(f"[stack] {message}")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackEndpoints]:
    with _stack() as endpoints:
        try:
            yield endpoints
        finally:
            _delete_what_the_session_made(endpoints.kafka_bootstrap)


def _delete_what_the_session_made(bootstrap: str) -> None:
    """The topics and consumer groups named after a name the tests made (``unique``)
    leave the broker, so that a local stack does not fill up run after run."""
    try:
        topics, groups = delete_made(bootstrap, MADE)
    except KafkaException as exc:
        _say(f"could not delete what the tests made on the broker: {exc}")
        return
    _say(f"deleted {len(topics)} topics and {len(groups)} consumer groups the tests made")


@contextmanager
def _stack() -> Iterator[StackEndpoints]:
    if _env_points_at_stack():
        yield StackEndpoints.from_env(os.environ)
        return
    local = LocalStack(_test_settings())
    if local.exists() and _all_ready(local):
        yield StackEndpoints.from_env(local.env())
        return
    before, extras_before = _running(local), local.extras()
    local.up(["mariadb"], progress=_say)
    try:
        yield StackEndpoints.from_env(local.env())
    finally:
        _stop_what_the_session_started(local, before, extras_before)


def _stop_what_the_session_started(local: LocalStack, before: set[str],
                                   extras_before: list[str]) -> None:
    """Nothing ran before: stop the whole stack. Else stop only the services this session
    started (MariaDB, the registry...), and leave the user's choice of extras as it was."""
    if not before:
        local.down(progress=_say)
        return
    local.down(progress=_say, only=_running(local) - before)
    local.forget(set(local.extras()) - set(extras_before))


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: StackEndpoints) -> str:
    return stack.kafka_bootstrap


@pytest.fixture(scope="session")
def connect_url(stack: StackEndpoints) -> str:
    return stack.connect_url


@pytest.fixture(scope="session")
def pg_dsn(stack: StackEndpoints) -> str:
    """Admin (superuser) DSN of the demo database ``shop``."""
    return stack.pg_dsn


@pytest.fixture(scope="session")
def pg_cdc_dsn(stack: StackEndpoints) -> str:
    """DSN of the ``cdc`` role (LOGIN REPLICATION, owner of ``shop``)."""
    return stack.pg_cdc_dsn


@pytest.fixture(scope="session")
def mariadb_dsn(stack: StackEndpoints) -> str:
    if not stack.mariadb_dsn:
        pytest.fail("the stack runs without MariaDB: start it with `cdc-facts local up "
                    "--with mariadb`")
    return stack.mariadb_dsn


@pytest.fixture(scope="session")
def mariadb_cdc_dsn(stack: StackEndpoints) -> str:
    if not stack.mariadb_cdc_dsn:
        pytest.fail("the stack runs without MariaDB: start it with `cdc-facts local up "
                    "--with mariadb`")
    return stack.mariadb_cdc_dsn


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses the stack, so `-m "not stack"` runs the pure ones alone."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & _STACK_FIXTURES:
            item.add_marker(pytest.mark.stack)
