"""`cdc-facts demo`: the legacy-shop story on the real local stack."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from cdc_facts.cli.output import stderr, stdout
from cdc_facts.errors import TerminalError
from cdc_facts.local.settings import LocalStackSettings
from cdc_facts.local.stack import LocalStack
from cdc_facts.rules.loader import load_mappings

_OPS = {"c": "insert", "u": "update", "d": "delete", "r": "snapshot", "t": "truncate"}


def _progress(message: str) -> None:
    stderr.print(f"[cyan]•[/] {escape(message)}", highlight=False, soft_wrap=True)


def _print_fact(event: dict[str, Any]) -> None:
    op = _OPS.get(str(event.get("cdcop")), str(event.get("cdcop")))
    stdout.print(f"[green]fact[/] [bold green]{escape(str(event['type']))}[/] "
                 f"subject={escape(str(event['subject']))} time={escape(str(event['time']))} "
                 f"[dim]from {escape(op)} at {escape(str(event.get('cdcposition', '')))}[/]",
                 highlight=False, soft_wrap=True)
    stdout.print(f"     {json.dumps(event['data'], ensure_ascii=False)}", highlight=False,
                 markup=False)


@click.command("demo")
@click.option("--project", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="Folder holding connectors/ and mappings/.")
@click.option("--home", type=click.Path(path_type=Path), default=None,
              help="State dir of the local stack (default: $CDC_FACTS_HOME or ./.cdc-facts).")
def demo(project: Path, home: Path | None) -> None:
    """Capture a legacy shop database and show its facts.

    It runs on the stack the CDC_FACTS_* variables point at (`cdc-facts local env`,
    compose/env.sh) when they are set and --home is not given, else on the local stack,
    started if needed."""
    from cdc_facts.demo import EXPECTED_FACTS, ShopDemo

    stdout.print(Panel.fit("cdc-facts demo: a legacy shop's state changes become business facts"))
    ruleset = load_mappings([project / "mappings" / "shop"])
    fact_topics = tuple(sorted({rule.topic for rule in ruleset.rules}))
    env = _stack_env(home)
    shop = ShopDemo(env, project, _progress, fact_topics)
    shop.reset()
    shop.register()
    log = Path(env.get("CDC_FACTS_HOME", ".cdc-facts")) / "logs" / "demo-translator.log"
    shop.start_translator(log)
    try:
        for operation in shop.run_operations():
            _progress(f"business: {operation.story}")
        counts: Counter[str] = Counter()
        for event in shop.read_facts(EXPECTED_FACTS):
            _print_fact(event)
            counts[str(event["type"])] += 1
    finally:
        shop.stop_translator()
    changes = shop.count_changes()
    _summary(changes, counts)
    _check_counts(changes, sum(counts.values()), log)


def _check_counts(changes: int, facts: int, log: Path) -> None:
    """The story makes a known number of facts: any other number is a failure."""
    from cdc_facts.demo import EXPECTED_CHANGES, EXPECTED_FACTS

    if facts == EXPECTED_FACTS:
        stdout.print("The stack keeps running: `cdc-facts local status`, `cdc-facts local down`.")
        return
    raise TerminalError(
        f"the demo read {facts} facts, not the {EXPECTED_FACTS} its story makes (Debezium "
        f"wrote {changes} of {EXPECTED_CHANGES} change records)",
        hint=f"see the demo translator's log: {log}",
    )


_STACK_VARIABLES = ("CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS", "CDC_FACTS_CONNECT_URL",
                    "CDC_FACTS_POSTGRES_DSN", "CDC_FACTS_POSTGRES_CDC_DSN")


def _stack_env(home: Path | None) -> dict[str, str]:
    """A stack the environment points at (`cdc-facts local env`, compose/env.sh), or the
    local stack, started if needed."""
    if home is None and all(os.environ.get(name) for name in _STACK_VARIABLES):
        _progress("using the stack the CDC_FACTS_* variables point at")
        return dict(os.environ)
    stack = LocalStack(LocalStackSettings.from_env(home))
    stack.up(progress=_progress)
    return {**os.environ, **stack.env()}


def _summary(changes: int, counts: Counter[str]) -> None:
    """The counts measured: change records on the table topics, facts read."""
    table = Table(title=f"{changes} change records → {sum(counts.values())} facts")
    table.add_column("fact type")
    table.add_column("count", justify="right")
    for fact_type, count in sorted(counts.items()):
        table.add_row(escape(fact_type), str(count))
    stdout.print(table)


COMMANDS: list[click.Command] = [demo]
