"""`cdc-facts local`: the embedded default stack on this machine."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from cdc_facts.cli.output import print_json, stderr, stdout
from cdc_facts.errors import LocalStackError
from cdc_facts.local.settings import OPTIONAL_SERVICES, SERVICES, LocalStackSettings
from cdc_facts.local.stack import LocalStack, ServiceStatus


def _stack(home: Path | None, **ports: int) -> LocalStack:
    return LocalStack(LocalStackSettings.from_env(home, **ports))


def _progress(message: str) -> None:
    stderr.print(f"[cyan]•[/] {escape(message)}", highlight=False, soft_wrap=True)


def _status_table(statuses: list[ServiceStatus]) -> Table:
    table = Table(title="cdc-facts local stack")
    for column in ("service", "state", "pid", "endpoint"):
        table.add_column(column)
    for st in statuses:
        state = "[green]ready[/]" if st.ready else ("[yellow]starting[/]" if st.running
                                                     else "[red]stopped[/]")
        table.add_row(escape(st.name), state, str(st.pid or "-"), escape(st.endpoint))
    return table


_home_option = click.option(
    "--home", type=click.Path(path_type=Path), default=None,
    help="State dir (default: $CDC_FACTS_HOME or ./.cdc-facts).",
)


@click.group("local")
def local() -> None:
    """Run the real stack (Kafka, Connect + Debezium, PostgreSQL...) as local processes."""


@local.command("up")
@click.option("--with", "extras", multiple=True, type=click.Choice(OPTIONAL_SERVICES),
              help="Also start an optional service (repeatable).")
@_home_option
@click.option("--kafka-port", type=int, default=0, help="Kafka listener (default 19092).")
@click.option("--controller-port", type=int, default=0, help="KRaft controller (default 19093).")
@click.option("--connect-port", type=int, default=0, help="Connect REST (default 18083).")
@click.option("--postgres-port", type=int, default=0, help="PostgreSQL (default 15432).")
@click.option("--mariadb-port", type=int, default=0, help="MariaDB (default 13306).")
@click.option("--registry-port", type=int, default=0, help="Apicurio Registry (default 18080).")
@click.option("--registry-management-port", type=int, default=0,
              help="Apicurio's management interface (default 18081).")
def up(extras: tuple[str, ...], home: Path | None, **ports: int) -> None:
    """Provision and start the stack; wait until every service is ready.

    The ports and --with services of a successful `up` are kept in the state dir for the
    commands that follow (`env`, `status`, a plain `up`, `demo`). If `up` fails, it stops
    again what it started."""
    stack = _stack(home, **{k.removesuffix("_port"): v for k, v in ports.items()})
    statuses = stack.up(extras, progress=_progress)
    stdout.print(_status_table(statuses))
    stdout.print("Point your tools at it with: [bold]eval \"$(cdc-facts local env)\"[/]")


@local.command("down")
@click.option("--purge", is_flag=True, help="Also delete the state dir (data, logs).")
@click.option("--service", "services", multiple=True, type=click.Choice(SERVICES),
              help="Stop only this service (repeatable). An optional one is also left out "
              "of the next `up`, until `up --with` it again.")
@_home_option
def down(purge: bool, services: tuple[str, ...], home: Path | None) -> None:
    """Stop every service of the stack."""
    if purge and services:
        raise click.UsageError("--purge deletes the whole stack: it takes no --service")
    stack = _stack(home)
    stack.down(purge=purge, progress=_progress, only=services or None)
    dropped = [name for name in services if name in stack.extras()]
    if dropped:
        stack.forget(dropped)
        for name in dropped:
            _progress(f"{name}: left out of the next `up` (`up --with {name}` brings it back)")


@local.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_home_option
def status(as_json: bool, home: Path | None) -> None:
    """Show which services run, and where."""
    statuses = _stack(home).status()
    if as_json:
        print_json([s.as_dict() for s in statuses])
        return
    stdout.print(_status_table(statuses))


@local.command("logs")
@click.argument("service", type=click.Choice(SERVICES))
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("-n", "--lines", type=int, default=50, show_default=True)
@_home_option
def logs(service: str, follow: bool, lines: int, home: Path | None) -> None:
    """Print the log of one service."""
    stack = _stack(home)
    stack.require()
    log = stack.settings.log_file(service)
    if not log.exists():
        raise LocalStackError(f"no log for {service} yet at {log}",
                              hint="start the stack with `cdc-facts local up`")
    argv = ["tail", f"-n{lines}", *(["-F"] if follow else []), str(log)]
    try:
        subprocess.run(argv, check=False)
    except KeyboardInterrupt:
        sys.exit(0)


@local.command("env")
@_home_option
def env(home: Path | None) -> None:
    """Print `export CDC_FACTS_...=...` lines for the running stack."""
    for key, value in sorted(_stack(home).env().items()):
        click.echo(f"export {key}={shlex.quote(value)}")


COMMANDS: list[click.Command] = [local]

__all__ = ["COMMANDS"]
