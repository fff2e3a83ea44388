"""``cdc-facts validate``, ``test``, ``translate``, ``explain`` and ``contracts``: offline.

Each command parses its options, calls the library and renders the outcome.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import click
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from cdc_facts.changes import Change
from cdc_facts.cli.output import render_problems, stdout
from cdc_facts.contracts import fact_schema
from cdc_facts.envelope import decode_change
from cdc_facts.errors import EvaluationError, MappingError, RecordError
from cdc_facts.expressions.logic import not_boolean
from cdc_facts.facts import Fact, to_cloudevent
from cdc_facts.json_forms import EncodeError, encode_mapping
from cdc_facts.rule_plans import RulePlan
from cdc_facts.rules.loader import MappingReport, load_mappings, read_mappings
from cdc_facts.rules.testing import ABSENT, ExampleResult, run_examples
from cdc_facts.translator import Translator
from cdc_facts.types import UNKNOWN

DEFAULT_MAPPINGS = (Path("mappings"),)
_WRAPPER_KEYS = frozenset({"topic", "partition", "offset", "key", "value", "headers", "timestamp"})

_paths = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
_mappings = click.option(
    "--mappings", "-m", "mappings", multiple=True, type=click.Path(path_type=Path),
    default=("mappings",), show_default=True, help="Mapping file or directory (repeatable).",
)


# --- validate ----------------------------------------------------------------------------


@click.command()
@_paths
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def validate(paths: tuple[Path, ...], strict: bool) -> None:
    """Check mapping files (default: mappings/) and report every problem at once."""
    report = read_mappings(paths or DEFAULT_MAPPINGS)
    render_problems(report.problems)
    warnings = len(report.warnings)
    if report.errors:
        _fail(f"{len(report.errors)} error(s) in {len(report.files)} file(s)")
    if strict and warnings:
        _fail(f"{warnings} warning(s) in {len(report.files)} file(s), and --strict")
    rules = report.ruleset.rules
    tables = report.ruleset.tables()
    stdout.print(
        f"[green]✓[/] {len(report.files)} file(s), {len(rules)} rule(s), "
        f"{len({r.fact_type for r in rules})} fact type(s) over {len(tables)} table(s)"
        + (f", [yellow]{warnings} warning(s)[/]" if warnings else ""),
        highlight=False,
    )


def _fail(message: str) -> None:
    stdout.print(f"[red]✗[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(1)


def _load(paths: Sequence[Path]) -> MappingReport:
    report = read_mappings(paths)
    if report.errors:
        raise MappingError(report.problems)
    return report


# --- test --------------------------------------------------------------------------------


@click.command(name="test")
@_paths
def test_examples(paths: tuple[Path, ...]) -> None:
    """Run the examples of mapping files (default: mappings/) and diff the facts."""
    report = _load(paths or DEFAULT_MAPPINGS)
    results = run_examples(report.mappings)
    for result in results:
        _render_result(result)
    failed = [r for r in results if not r.passed]
    summary = f"{len(results)} example(s), {len(results) - len(failed)} passed"
    if failed:
        _fail(f"{summary}, {len(failed)} failed")
    if not results:
        stdout.print("[yellow]no examples[/]: add `examples` to the mapping files")
        return
    stdout.print(f"[green]✓[/] {summary}", highlight=False)


def _render_result(result: ExampleResult) -> None:
    where = f"{result.example.file}:{result.example.line}"
    mark = "[green]✓[/]" if result.passed else "[red]✗[/]"
    stdout.print(f"{mark} {escape(where)} {escape(result.example.description)}",
                 highlight=False, soft_wrap=True)
    if result.error is not None:
        error = result.error
        stdout.print(f"    [red]{type(error).__name__}[/]: {escape(error.message)}",
                     highlight=False, soft_wrap=True)
    if result.mismatches:
        stdout.print(_diff_table(result))


def _diff_table(result: ExampleResult) -> Table:
    table = Table(box=None, padding=(0, 2), show_edge=False)
    for column in ("fact", "attribute"):
        table.add_column(column)
    for column in ("expected", "actual"):
        table.add_column(column, overflow="fold")  # a diff must show every character
    for m in result.mismatches:
        fact = "all" if m.index < 0 else f"#{m.index + 1}"
        expected, actual = _show(m.expected), _show(m.actual)
        table.add_row(fact, escape(m.attribute), f"[green]- {escape(expected)}[/]",
                      f"[red]+ {escape(actual)}[/]")
    return table


def _show(value: object) -> str:
    """A value as JSON writes it (``"7"`` and ``7``, ``true`` and ``"true"`` apart; RFC
    3339 times), or ``(absent)``."""
    if value is ABSENT:
        return "(absent)"
    try:
        shown = encode_mapping({"value": value})["value"]
    except EncodeError:
        return str(value)
    return json.dumps(shown, sort_keys=True, ensure_ascii=False)


# --- translate ---------------------------------------------------------------------------


@click.command()
@_mappings
@click.option("--input", "-i", "source", type=click.File("r"), default="-", show_default=True,
              help="JSON Lines of Debezium values, or of {topic, key, value} records.")
@click.option("--dead-letter", type=click.File("w"), default=None,
              help="Write one JSON line per failed record here instead of stderr: its "
                   "line, topic, offset, reason and message, and under `input` the record "
                   "itself, which translate reads back as it is (fix the mappings, then "
                   "replay the `input` values).")
@click.option("--strict", is_flag=True, help="Exit 1 when any record fails.")
def translate(
    mappings: tuple[Path, ...], source: IO[str], dead_letter: IO[str] | None, strict: bool
) -> None:
    """Translate change records (JSON Lines) into facts (JSON Lines on stdout)."""
    translator = Translator(load_mappings(mappings))
    failures = dead_letter or sys.stderr
    failed = 0
    for number, record in _records(source):
        try:
            for fact in _translate(translator, record):
                sys.stdout.write(json.dumps(_fact_record(fact), separators=(",", ":")) + "\n")
        except RecordError as exc:
            failed += 1
            failures.write(json.dumps(_failure(number, record, exc), default=str) + "\n")
    if dead_letter is not None and failed:
        click.echo(f"{failed} record(s) failed: see {dead_letter.name}", err=True)
    if strict and failed:
        sys.exit(1)


def _records(source: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(source, start=1):
        if number == 1:
            line = line.removeprefix("\ufeff")  # the byte order mark some editors write
        if line.strip():
            yield number, _as_record(line)


def _as_record(text: str) -> dict[str, Any]:
    """``{topic, key, value}`` as given, or a bare value wrapped as one.

    A bare value that is not a JSON object stays text, so that decoding it names what is
    wrong with it, exactly as for a Kafka record's value. Read back, the record this
    returns is itself: a failure's ``input`` replays as the line it came from.
    """
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict) and "value" in document and document.keys() <= _WRAPPER_KEYS:
        return document
    return {"value": document if isinstance(document, dict) else text.strip()}


def _value(record: dict[str, Any]) -> dict[str, Any] | str | None:
    """The record's value as the decoder takes it: an object, JSON text, or None."""
    value = record.get("value")
    if value is None or isinstance(value, dict | str):
        return value
    return json.dumps(value)  # an array, number or boolean: the decoder rejects it


def _translate(translator: Translator, record: dict[str, Any]) -> list[Fact]:
    result = translator.translate_record(
        _value(record), record.get("key"), record.get("topic"), record.get("partition"),
        record.get("offset"),
    )
    for fact in result.facts:
        to_cloudevent(fact)  # raises RecordError before anything of this record is written
    return result.facts


def _fact_record(fact: Fact) -> dict[str, Any]:
    return {"topic": fact.topic, "key": fact.subject, "value": to_cloudevent(fact)}


def _failure(number: int, record: dict[str, Any], exc: RecordError) -> dict[str, Any]:
    return {
        "line": number, "topic": record.get("topic"), "partition": record.get("partition"),
        "offset": record.get("offset"), "reason": exc.reason, "error": type(exc).__name__,
        "rule": exc.rule, "message": exc.message, "hint": exc.hint, "input": record,
    }


# --- explain -----------------------------------------------------------------------------


@click.command()
@_mappings
@click.option("--change", "change_file", required=True, type=click.File("r"),
              help="A JSON file with one Debezium change value (or {topic, key, value}).")
def explain(mappings: tuple[Path, ...], change_file: IO[str]) -> None:
    """Show, rule by rule, why a change makes a fact or not."""
    translator = Translator(load_mappings(mappings))
    record = _as_record(change_file.read().removeprefix("\ufeff"))
    change = decode_change(_value(record), record.get("key"), topic=record.get("topic"),
                           settings=translator.envelope_settings)
    if change is None:
        stdout.print("not a row change (tombstone, heartbeat, schema change or transaction): "
                     "it makes no facts")
        return
    facts: dict[str, Fact] = {}
    error: RecordError | None = None
    try:
        facts = {fact.type: fact for fact in translator.translate(change)}
    except RecordError as exc:
        error = exc
    seen = translator.prepare(change)
    plans = translator.rule_plans(change)
    tree = Tree(f"[bold]{escape(change.table)}[/] op={escape(change.op)} ({len(plans)} rule(s))")
    for plan in plans:
        tree.add(_explain_rule(plan, seen, facts.get(plan.fact_type)))
    stdout.print(tree)
    if error is not None:
        stdout.print(f"[red]{type(error).__name__}[/]: {escape(error.message)}", soft_wrap=True)


def _explain_rule(plan: RulePlan, change: Change, fact: Fact | None) -> Tree:
    rule = plan.rule
    if change.op == "r" and rule.snapshot == "skip":
        return Tree(f"[dim]{escape(rule.fact_type)}: skipped (snapshot: skip)[/]")
    value = _when_value(plan, change)
    node = Tree(f"[bold]{escape(rule.fact_type)}[/]: {_verdict(plan, change, value)}")
    when = node.add(f"when {escape(rule.when.sql)} → {escape(_sql_value(value))}")
    for sub_sql, sub_value in rule.when.explain(change)[1:]:
        shown = _sql_value(sub_value)
        if sub_sql != shown:  # constants say nothing new
            when.add(f"{escape(sub_sql)} → {escape(shown)}")
    if fact is not None:
        event = node.add(f"fact key={escape(fact.subject)} topic={escape(fact.topic)}")
        event.add(escape(json.dumps(to_cloudevent(fact)["data"], sort_keys=True)))
    return node


def _when_value(plan: RulePlan, change: Change) -> object:
    """What ``when`` gives for ``change``: a value, or the error it fails with (also when
    it gives a value that is no condition)."""
    when = plan.rule.when
    try:
        value = when.evaluate(change)
    except EvaluationError as exc:
        return exc
    if value is True or value is False or value is None or value is UNKNOWN:
        return value
    return not_boolean(value, "WHEN", when.sql)


def _verdict(plan: RulePlan, change: Change, value: object) -> str:
    """What the rule did with ``change``, given what ``when`` gave."""
    if isinstance(value, EvaluationError):
        return f"[red]failed[/]: {escape(value.message)}"
    if value is not True and value is not UNKNOWN:
        return "[dim]not matched[/]"
    mode = escape(plan.on_unknown)
    verdict = "[green]matched[/]" if value is True else f"[yellow]unknown[/] (on_unknown: {mode})"
    try:
        made = plan.apply(change, value)
        unknown = plan.unknown_part(change) if made is None and value is True else None
    except RecordError as exc:
        return f"{verdict}, [red]failed[/]: {escape(exc.message)}"
    if unknown is None:
        return verdict
    where, columns = unknown  # key, data or occurred_at unknown: on_unknown decided
    if plan.on_unknown == "skip":
        return (f"{verdict}, [yellow]skipped[/]: {escape(where)} depends on {escape(columns)} "
                f"(unknown; on_unknown: {mode})")
    return (f"{verdict}, [yellow]no fact[/]: {escape(where)} depends on {escape(columns)} "
            f"(unknown; on_unknown: {mode}, and read as NULL `when` does not hold)")


def _sql_value(value: object) -> str:
    if isinstance(value, EvaluationError):
        return f"ERROR: {value.message}"
    if value is None:
        return "NULL"
    if value is UNKNOWN:
        return "UNKNOWN"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


# --- contracts ---------------------------------------------------------------------------


@click.command()
@_mappings
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write one <fact type>.schema.json per fact type into this directory.")
def contracts(mappings: tuple[Path, ...], out: Path | None) -> None:
    """Write the JSON Schema contract of every fact type."""
    rules = load_mappings(mappings).rules
    schemas = {rule.fact_type: fact_schema(rule) for rule in rules}
    if out is None:
        sys.stdout.write(json.dumps(schemas, indent=2) + "\n")
        return
    out.mkdir(parents=True, exist_ok=True)
    for fact_type, schema in schemas.items():
        (out / f"{fact_type}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    click.echo(f"wrote {len(schemas)} contract(s) to {out}", err=True)


COMMANDS: list[click.Command] = [validate, test_examples, translate, explain, contracts]
