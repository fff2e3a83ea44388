"""`cdc-facts demo`: the legacy-shop story on the real local stack."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import click
from rich.panel import Panel
from rich.table import Table

from cdc_facts.changes import Change
from cdc_facts.cli.output import stderr, stdout
from cdc_facts.facts import Fact, to_cloudevent
from cdc_facts.local.settings import LocalStackSettings
from cdc_facts.local.stack import LocalStack
from cdc_facts.rules.loader import load_mappings
from cdc_facts.translator import Translator

_OPS = {"c": "insert", "u": "update", "d": "delete", "r": "snapshot", "t": "truncate"}


def _progress(message: str) -> None:
    stderr.print(f"[cyan]•[/] {message}", highlight=False)


def _row_text(change: Change) -> str:
    row = change.after if change.after is not None else change.before
    if change.op == "u" and change.before and change.after:
        diff = {k: f"{change.before.get(k)!s} → {v!s}" for k, v in change.after.items()
                if change.before.get(k) != v}
        return f"id={change.after.get('id')} " + ", ".join(f"{k}: {v}" for k, v in diff.items())
    return ", ".join(f"{k}={v}" for k, v in (row or {}).items() if v is not None)


def _print_change(change: Change, facts: list[Fact]) -> None:
    op = _OPS.get(change.op, change.op)
    stdout.print(f"[dim]change[/] [bold]{change.table}[/] [yellow]{op}[/] "
                 f"[dim]lsn={change.source.get('lsn')}[/]  {_row_text(change)}", highlight=False)
    for fact in facts:
        event = to_cloudevent(fact)
        stdout.print(f"   [green]fact[/] [bold green]{fact.type}[/] subject={fact.subject} "
                     f"time={event['time']}", highlight=False)
        stdout.print(f"        {json.dumps(event['data'], ensure_ascii=False)}", highlight=False,
                     markup=False)


@click.command("demo")
@click.option("--project", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="Folder holding connectors/ and mappings/.")
@click.option("--home", type=click.Path(path_type=Path), default=None,
              help="State dir of the local stack (default: $CDC_FACTS_HOME or ./.cdc-facts).")
def demo(project: Path, home: Path | None) -> None:
    """Start the local stack, capture a legacy shop database and show its facts."""
    from cdc_facts.demo import EXPECTED_CHANGES, ShopDemo

    stdout.print(Panel.fit("cdc-facts demo: a legacy shop's state changes become business facts"))
    translator = Translator(load_mappings([project / "mappings" / "shop"]))
    shop = ShopDemo(_stack_env(home), project, _progress)
    shop.reset()
    shop.register()
    for operation in shop.run_operations():
        _progress(f"business: {operation.story}")
    counts: Counter[str] = Counter()
    changes = 0
    records = list(shop.read_changes(EXPECTED_CHANGES, translator.translate))
    # topics interleave on the way back: tell the story in commit order (WAL position)
    records.sort(key=lambda r: (not r.change.is_snapshot, int(str(r.change.source["lsn"]))))
    for record in records:
        _print_change(record.change, record.facts)
        changes += 1
        counts.update(f.type for f in record.facts)
    _summary(changes, counts)


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
    table = Table(title=f"{changes} change records → {sum(counts.values())} facts")
    table.add_column("fact type")
    table.add_column("count", justify="right")
    for fact_type, count in sorted(counts.items()):
        table.add_row(fact_type, str(count))
    stdout.print(table)
    stdout.print("The stack keeps running: `cdc-facts local status`, `cdc-facts local down`.")


COMMANDS: list[click.Command] = [demo]
