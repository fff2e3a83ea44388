"""`cdc-facts local ...` and `cdc-facts demo` at the command line, without real services."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cdc_facts import demo as demo_module
from cdc_facts.cli import cli
from cdc_facts.cli import demo as demo_cli
from cdc_facts.local.secrets import StackSecrets

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str) -> Result:
    env: dict[str, str | None] = {"COLUMNS": "400", "CDC_FACTS_HOME": None}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("command", [["env"], ["status"], ["status", "--json"],
                                     ["logs", "kafka"]])
def test_commands_other_than_up_need_a_stack_and_create_none(tmp_path: Path,
                                                             command: list[str]) -> None:
    home = tmp_path / "no-stack"
    result = invoke("local", *command, "--home", str(home))
    assert result.exit_code == 1
    assert f"no local stack in {home}" in result.stderr
    assert "cdc-facts local up" in result.stderr and "--home" in result.stderr
    assert not home.exists()


def test_down_without_a_stack_has_nothing_to_do(tmp_path: Path) -> None:
    home = tmp_path / "no-stack"
    result = invoke("local", "down", "--purge", "--home", str(home))
    assert result.exit_code == 0
    assert f"no local stack in {home}: nothing to stop" in result.stderr
    assert not home.exists()


def test_down_of_an_optional_service_leaves_it_out_of_the_next_up(tmp_path: Path) -> None:
    StackSecrets.load_or_create(tmp_path)
    (tmp_path / "services").write_text("mariadb registry\n")
    result = invoke("local", "down", "--service", "mariadb", "--home", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "mariadb: left out of the next `up`" in result.stderr
    assert (tmp_path / "services").read_text().split() == ["registry"]


def test_down_of_one_service_cannot_purge(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["local", "down", "--service", "kafka", "--purge",
                                      "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "takes no --service" in result.output


class FakeShop:
    """The demo's story, with a translator that made fewer facts than it should."""

    facts = 3

    def __init__(self, env: dict[str, str], project: Path, progress: Any,
                 fact_topics: tuple[str, ...]) -> None:
        self.log: Path | None = None

    def reset(self) -> None: ...
    def register(self) -> None: ...
    def stop_translator(self) -> None: ...

    def start_translator(self, log: Path) -> None:
        self.log = log

    def run_operations(self) -> Iterator[demo_module.Operation]:
        yield from demo_module.OPERATIONS

    def read_facts(self, expected: int) -> Iterator[dict[str, Any]]:
        for n in range(self.facts):
            yield {"type": "sales.OrderPlaced.v1", "subject": str(n), "time": "t",
                   "cdcop": "c", "data": {}}

    def count_changes(self) -> int:
        return 9


def test_the_demo_fails_when_facts_are_missing(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_module, "ShopDemo", FakeShop)
    monkeypatch.setattr(demo_cli, "_stack_env", lambda _home: {"CDC_FACTS_HOME": str(tmp_path)})
    result = invoke("demo", "--project", str(ROOT))
    assert result.exit_code == 1
    assert "9 change records → 3 facts" in result.stdout  # measured, not the story's 14
    assert "the demo read 3 facts, not the 14 its story makes" in result.stderr
    assert str(tmp_path / "logs" / "demo-translator.log") in result.stderr
    assert "keeps running" not in result.stdout


def test_the_demo_succeeds_with_every_fact(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeShop, "facts", demo_module.EXPECTED_FACTS)
    monkeypatch.setattr(FakeShop, "count_changes", lambda _self: demo_module.EXPECTED_CHANGES)
    monkeypatch.setattr(demo_module, "ShopDemo", FakeShop)
    monkeypatch.setattr(demo_cli, "_stack_env", lambda _home: {"CDC_FACTS_HOME": str(tmp_path)})
    result = invoke("demo", "--project", str(ROOT))
    assert result.exit_code == 0, result.stderr
    assert "14 change records → 14 facts" in result.stdout


class FakeMessage:
    def error(self) -> None:
        return None

    def value(self) -> bytes:
        return b'{"type": "t"}'


class FakeConsumer:
    """A fact topic with ``messages`` facts on it."""

    messages = 0

    def __init__(self, _conf: dict[str, Any]) -> None:
        self.left = self.messages

    def subscribe(self, _topics: list[str]) -> None: ...
    def close(self) -> None: ...

    def poll(self, _timeout: float) -> FakeMessage | None:
        if self.left:
            self.left -= 1
            return FakeMessage()
        return None


@pytest.mark.parametrize("on_topic", [0, 14, 16])
def test_reading_facts_sees_too_few_and_too_many(monkeypatch: pytest.MonkeyPatch,
                                                 on_topic: int) -> None:
    monkeypatch.setattr(FakeConsumer, "messages", on_topic)
    monkeypatch.setattr(demo_module, "Consumer", FakeConsumer)
    shop = demo_module.ShopDemo({"CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": "k:1",
                                 "CDC_FACTS_CONNECT_URL": "http://c:1"}, ROOT, print, ("t",))
    read = Counter(e["type"] for e in shop.read_facts(14, timeout=1.5, linger=0.6))
    assert sum(read.values()) == on_topic
