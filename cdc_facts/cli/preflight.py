"""``cdc-facts preflight``: check that a database can deliver what its connector and the
rules need, before it is registered."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from cdc_facts.cli.options import (
    admin_option,
    json_flag,
    load_masked_spec,
    load_rules,
    mappings_option,
    masked,
    say,
    say_json,
    spec_arg,
)
from cdc_facts.cli.output import SECRETS, stdout
from cdc_facts.connectors import ConnectorSpec, render
from cdc_facts.errors import PreflightError
from cdc_facts.preflight import Report, admin_params, run_preflight
from cdc_facts.preflight.postgres import LOCK_TIMEOUT

_ICONS = {"pass": "[green]✓ pass[/]", "warn": "[yellow]! warn[/]", "fail": "[red]✗ fail[/]"}


@click.command("preflight")
@spec_arg
@mappings_option
@click.option("--fix", is_flag=True, help="Apply the safe fixes of failed checks.")
@admin_option
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=LOCK_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="How long each PostgreSQL fix waits for a table lock (0: for ever).")
@json_flag
@masked
def preflight_command(spec_path: Path, mappings: tuple[Path, ...], fix: bool,
                      admin_dsn: str | None, lock_timeout: float, as_json: bool) -> None:
    """Check the database can deliver what the connector and the rules need."""
    spec = load_masked_spec(spec_path)
    report = preflight_report(spec, mappings, fix=fix, admin_dsn=admin_dsn, quiet=as_json,
                              lock_timeout=lock_timeout)
    if as_json:
        say_json(report.to_json(SECRETS))
    if not report.ok:
        raise PreflightError(
            f"{len(report.failures)} preflight check(s) failed for connector `{spec.name}`",
            hint="apply the remedies above; `cdc-facts preflight SPEC --fix` applies the safe "
            "ones",
        )


def preflight_report(spec: ConnectorSpec, mappings: tuple[Path, ...], *, fix: bool,
               admin_dsn: str | None, quiet: bool, lock_timeout: float = LOCK_TIMEOUT) -> Report:
    if admin_dsn:
        SECRETS.add(str(admin_params(spec.kind, admin_dsn).get("password", "")))
        SECRETS.add(admin_dsn)
    # Preflight never reads the schema history settings, so any bootstrap value renders.
    config = render(spec, kafka_bootstrap="unused:9092")
    rules = load_rules(mappings)
    shown = (lambda fixes: None) if quiet else _show_fixes
    report = run_preflight(spec, config, rules, fix=fix, admin_dsn=admin_dsn, on_fixes=shown,
                           lock_timeout=lock_timeout)
    if not quiet:
        _render_report(report)
    return report


def _show_fixes(fixes: list[str]) -> None:
    say("[bold]Applying safe fixes:[/]", err=True)
    for statement in fixes:
        say(f"  {escape(statement)};", err=True)


def _render_report(report: Report) -> None:
    table = Table("status", "check", "observed", "remedy",
                  title=f"preflight {escape(report.connector)} ({escape(report.kind)})",
                  show_lines=False)
    for check in report.checks:
        observed, remedy = SECRETS.mask(check.observed), SECRETS.mask(check.remedy)
        table.add_row(_ICONS[check.status], escape(check.label), escape(observed), escape(remedy))
    stdout.print(table)
    summary = (f"{len(report.checks) - len(report.failures) - len(report.warnings)} passed, "
               f"{len(report.warnings)} warning(s), {len(report.failures)} failed")
    if report.applied:
        summary += f"; applied {len(report.applied)} fix(es)"
    say(summary)


COMMANDS: list[click.Command] = [preflight_command]
