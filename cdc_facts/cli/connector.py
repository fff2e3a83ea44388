"""``cdc-facts connector ...``: register a database with Kafka Connect and manage its
connector.

Tables for people, ``--json`` for machines. Every secret is masked in all output, errors
and logs (see :mod:`cdc_facts.cli.options`); only ``connector render --show-secrets``
reveals them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from cdc_facts.cli.options import (
    admin_option,
    bootstrap_option,
    connect_client,
    connect_options,
    json_flag,
    load_masked_spec,
    mappings_option,
    masked,
    say,
    say_json,
    spec_arg,
)
from cdc_facts.cli.output import SECRETS, print_json, stderr, stdout
from cdc_facts.cli.preflight import preflight_report
from cdc_facts.connect import ConnectClient, Status, failure
from cdc_facts.connectors import ConnectorSpec, render
from cdc_facts.errors import (
    ConnectorFailedError,
    ConnectorSpecError,
    ConnectRequestError,
    PreflightError,
)
from cdc_facts.preflight import admin_params, connection_params

_STATE_COLORS = {"RUNNING": "green", "PAUSED": "yellow", "STOPPED": "yellow", "FAILED": "red"}


# --- render, validate --------------------------------------------------------------------


@click.group()
def connector() -> None:
    """Register a database with Kafka Connect and manage its connector."""


@connector.command("render")
@spec_arg
@bootstrap_option
@click.option("--show-secrets", is_flag=True, help="Print secrets instead of ****.")
@masked
def render_command(spec_path: Path, kafka_bootstrap: str | None, show_secrets: bool) -> None:
    """Print the Debezium config a spec renders to, as JSON."""
    spec = load_masked_spec(spec_path)
    config = render(spec, kafka_bootstrap=kafka_bootstrap)
    if show_secrets:
        print_json(config)
    else:
        say_json(SECRETS.mask_config(config))


@connector.command("validate")
@spec_arg
@bootstrap_option
@connect_options
@json_flag
@click.pass_context
@masked
def validate_command(ctx: click.Context, /, spec_path: Path, kafka_bootstrap: str | None,
                     as_json: bool, **_: object) -> None:
    """Ask the connector plugin to validate the rendered config, error by key."""
    spec = load_masked_spec(spec_path)
    config = render(spec, kafka_bootstrap=kafka_bootstrap)
    answer = connect_client(ctx).validate(config["connector.class"], config)
    errors = {
        item["value"]["name"]: item["value"]["errors"]
        for item in answer.get("configs", []) if item.get("value", {}).get("errors")
    }
    if as_json:
        say_json({"connector": spec.name, "error_count": len(errors), "errors": errors})
    else:
        _render_validation(spec, errors)
    if errors:
        raise ConnectorSpecError(f"Connect found {len(errors)} invalid setting(s) for "
                                 f"connector `{spec.name}`")


def _render_validation(spec: ConnectorSpec, errors: dict[str, list[str]]) -> None:
    if not errors:
        say(f"[green]✓[/] Connect accepts the config of {escape(spec.name)}")
        return
    table = Table("setting", "error", title=f"{escape(spec.name)}: invalid settings")
    for key, messages in sorted(errors.items()):
        table.add_row(escape(key), escape(SECRETS.mask("\n".join(messages))))
    stdout.print(table)


# --- preflight ---------------------------------------------------------------------------


# --- register ----------------------------------------------------------------------------


@connector.command("register")
@spec_arg
@mappings_option
@bootstrap_option
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for RUNNING.")
@click.option("--skip-preflight", is_flag=True, help="Register without checking the database.")
@connect_options
@json_flag
@click.pass_context
@masked
def register_command(ctx: click.Context, /, spec_path: Path, mappings: tuple[Path, ...],
                     kafka_bootstrap: str | None, timeout: float, skip_preflight: bool,
                     as_json: bool, **_: object) -> None:
    """Preflight, create or update the connector, and wait until it runs."""
    spec = load_masked_spec(spec_path)
    config = render(spec, kafka_bootstrap=kafka_bootstrap)
    if not skip_preflight:
        report = preflight_report(spec, mappings, fix=False, admin_dsn=None, quiet=as_json)
        if not report.ok:
            raise PreflightError(f"not registering `{spec.name}`: {len(report.failures)} "
                                 "preflight check(s) failed",
                                 hint="fix them (`cdc-facts preflight SPEC --fix`) or pass "
                                 "--skip-preflight")
    client = connect_client(ctx)
    existed = client.exists(spec.name)
    try:
        client.put_config(spec.name, config)
    except ConnectRequestError as exc:
        exc.hint = exc.hint or "Connect checked the config against the database: fix the cause "\
            "above; `cdc-facts connector validate SPEC` lists each invalid setting"
        raise
    with _failure_trace():
        status = _wait(client, spec.name, timeout, quiet=as_json)
    if as_json:
        say_json({"connector": spec.name, "action": "updated" if existed else "created",
               "status": status})
        return
    say(f"[green]✓[/] {'updated' if existed else 'created'} connector {escape(spec.name)}")
    _render_status(status)


def _wait(client: ConnectClient, name: str, timeout: float, *, quiet: bool) -> Status:
    if quiet:
        return client.wait_running(name, timeout=timeout)
    with stderr.status(f"waiting for {escape(name)} to run...") as spinner:
        def progress(status: Status) -> None:
            spinner.update(f"waiting for {escape(name)}: {escape(_summary(status))}")

        return client.wait_running(name, timeout=timeout, on_progress=progress)


@contextmanager
def _failure_trace() -> Iterator[None]:
    """Show a FAILED task's trace on stderr before the error itself."""
    try:
        yield
    except ConnectorFailedError as exc:
        if exc.trace:
            say("[bold]task trace:[/]", err=True)
            stderr.print(SECRETS.mask(exc.trace), markup=False, highlight=False, soft_wrap=True)
        raise


def _summary(status: Status) -> str:
    tasks = ", ".join(f"{t.get('id')}={t.get('state')}" for t in status.get("tasks") or [])
    return f"connector {status.get('connector', {}).get('state')}, tasks: {tasks or 'none yet'}"


# --- status and lifecycle ----------------------------------------------------------------


@connector.command("status")
@click.argument("name", required=False)
@connect_options
@json_flag
@click.pass_context
@masked
def status_command(ctx: click.Context, /, name: str | None, as_json: bool, **_: object) -> None:
    """Show one connector's status and tasks, or every connector's state.

    Task traces can quote the connector's secrets: its config is read from Connect first,
    and the values of its secret keys are masked.
    """
    client = connect_client(ctx)
    if name:
        _learn_secrets(client, name)
    else:
        for config in client.configs().values():
            SECRETS.add_config(config)
    statuses = {name: client.status(name)} if name else client.statuses()
    if as_json:
        say_json(statuses[name] if name else statuses)
    elif name:
        _render_status(statuses[name])
    else:
        _render_statuses(statuses)


def _learn_secrets(client: ConnectClient, name: str) -> None:
    """Mask the secrets of the connector's config (as Connect stores it) from now on."""
    try:
        SECRETS.add_config(client.config(name))
    except ConnectRequestError as exc:
        if exc.status != 404:  # an unknown connector has no status either: status says so
            raise


def _state(state: object) -> str:
    text = str(state)
    color = _STATE_COLORS.get(text)
    return f"[{color}]{escape(text)}[/]" if color else escape(text)


def _render_status(status: Status) -> None:
    connector_state = status.get("connector", {})
    table = Table("part", "state", "worker", "trace",
                  title=f"connector {escape(str(status.get('name')))}")
    table.add_row("connector", _state(connector_state.get("state")),
                  escape(str(connector_state.get("worker_id", ""))),
                  escape(_first(connector_state.get("trace"))))
    for task in status.get("tasks") or []:
        table.add_row(f"task {escape(str(task.get('id')))}", _state(task.get("state")),
                      escape(str(task.get("worker_id", ""))), escape(_first(task.get("trace"))))
    stdout.print(table)


def _render_statuses(statuses: dict[str, Status]) -> None:
    table = Table("connector", "type", "state", "tasks")
    for name, status in statuses.items():
        tasks = " ".join(_state(t.get("state")) for t in status.get("tasks") or [])
        table.add_row(escape(name), escape(str(status.get("type", ""))),
                      _state(status.get("connector", {}).get("state")), tasks or "-")
    stdout.print(table if statuses else "no connectors")


def _first(trace: object) -> str:
    text = SECRETS.mask(str(trace or "")).strip()
    return text.splitlines()[0] if text else ""


def _lifecycle(verb: str, action: Callable[[ConnectClient, str], object]) -> click.Command:
    @click.command(verb)
    @click.argument("name")
    @connect_options
    @click.pass_context
    @masked
    def command(ctx: click.Context, /, name: str, **_: object) -> None:
        action(connect_client(ctx), name)
        say(f"[green]✓[/] {verb} requested for connector {escape(name)}")

    command.help = f"{verb.capitalize()} a connector (its tasks too)."
    return command


for _verb, _action in (("pause", ConnectClient.pause), ("resume", ConnectClient.resume),
                       ("stop", ConnectClient.stop)):
    connector.add_command(_lifecycle(_verb, _action))


@connector.command("restart")
@click.argument("name")
@click.option("--include-tasks/--connector-only", default=True, show_default=True)
@click.option("--only-failed/--all", default=True, show_default=True)
@connect_options
@click.pass_context
@masked
def restart_command(ctx: click.Context, /, name: str, include_tasks: bool, only_failed: bool,
                    **_: object) -> None:
    """Restart a connector and (by default) its failed tasks."""
    client = connect_client(ctx)
    _learn_secrets(client, name)
    status = client.restart(name, include_tasks=include_tasks, only_failed=only_failed)
    say(f"[green]✓[/] restart requested for connector {escape(name)}")
    if status:
        _render_status(status)


@connector.command("remove")
@click.argument("name")
@click.option("--drop-slot", is_flag=True, help="Also drop its replication slot and publication.")
@click.option("--spec", "spec_path", type=click.Path(path_type=Path),
              help="The connector's spec (needed with --drop-slot).")
@admin_option
@connect_options
@click.pass_context
@masked
def remove_command(ctx: click.Context, /, name: str, drop_slot: bool, spec_path: Path | None,
                   admin_dsn: str | None, **_: object) -> None:
    """Delete a connector; with --drop-slot, also what it created in PostgreSQL."""
    if drop_slot and spec_path is None:
        raise click.UsageError("--drop-slot needs --spec SPEC to know the database")
    spec = load_masked_spec(spec_path) if spec_path else None
    if spec is not None and name != spec.name:
        raise click.BadParameter(f"the spec is for connector `{spec.name}`, not `{name}`",
                                 param_hint="NAME")
    # everything --drop-slot needs is checked before the connector is gone
    slot = _slot_target(spec, admin_dsn) if drop_slot and spec is not None else None
    client = connect_client(ctx)
    if client.exists(name):
        client.delete(name)
        say(f"[green]✓[/] removed connector {escape(name)}")
    else:
        say(f"connector {escape(name)} is not registered")
    if slot is not None:
        _drop_slot(*slot)


def _slot_target(spec: ConnectorSpec, admin_dsn: str | None
                 ) -> tuple[dict[str, Any], dict[str, str]]:
    """How to connect to drop the spec's slot, and its rendered config."""
    if spec.kind != "postgres":
        raise PreflightError(f"--drop-slot applies to PostgreSQL connectors, not {spec.kind}")
    config = render(spec, kafka_bootstrap=None)
    params = admin_params("postgres", admin_dsn) if admin_dsn else connection_params(spec, config)
    SECRETS.add(str(params.get("password") or ""))
    return params, config


def _drop_slot(params: dict[str, Any], config: dict[str, str]) -> None:
    from cdc_facts.preflight.slots import drop_slot_and_publication

    dropped = drop_slot_and_publication(params, config["slot.name"], config["publication.name"])
    for what in dropped:
        say(f"[green]✓[/] dropped {escape(what)}")
    if not dropped:
        say("no replication slot or publication to drop")


@connector.command("offsets")
@click.argument("name")
@connect_options
@json_flag
@click.pass_context
@masked
def offsets_command(ctx: click.Context, /, name: str, as_json: bool, **_: object) -> None:
    """Show where a connector is in its source (its committed offsets)."""
    offsets = connect_client(ctx).offsets(name)
    if as_json:
        say_json(offsets)
        return
    table = Table("partition", "offset", title=f"offsets of {escape(name)}")
    for entry in offsets:
        table.add_row(escape(_pairs(entry.get("partition"))), escape(_pairs(entry.get("offset"))))
    stdout.print(table if offsets else f"no offsets committed yet for {escape(name)}")


def _pairs(document: object) -> str:
    if isinstance(document, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(document.items()))
    return str(document)


# --- ad hoc snapshot ---------------------------------------------------------------------


@connector.command("snapshot")
@click.argument("name")
@click.option("--table", "table", required=True, help="Table to re-read, as in the spec.")
@click.option("--filter", "filter_sql", help="SQL condition selecting the rows to re-read.")
@click.option("--spec", "spec_path", required=True, type=click.Path(path_type=Path),
              help="The connector's spec.")
@connect_options
@json_flag
@click.pass_context
@masked
def snapshot_command(ctx: click.Context, /, name: str, table: str, filter_sql: str | None,
                     spec_path: Path, as_json: bool, **_: object) -> None:
    """Re-read a table (or its rows matching --filter) as op=r records, while streaming."""
    from cdc_facts.preflight.signals import check_filter, send_snapshot_signal, snapshot_signal

    spec = load_masked_spec(spec_path)
    if name != spec.name:
        raise click.BadParameter(f"the spec is for connector `{spec.name}`", param_hint="NAME")
    if table not in spec.tables:
        raise click.BadParameter(f"`{table}` is not captured; the spec lists "
                                 f"{', '.join(spec.tables)}", param_hint="--table")
    if filter_sql:
        try:
            check_filter(filter_sql, spec.kind)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--filter") from exc
    _require_connector(connect_client(ctx), name)
    config = render(spec, kafka_bootstrap="unused:9092")
    data = snapshot_signal(table, filter_sql)
    signal_id = send_snapshot_signal(spec.kind, connection_params(spec, config),
                                     config["signal.data.collection"], data)
    if as_json:
        say_json({"connector": name, "signal_id": signal_id, "data": data})
        return
    where = f" where {filter_sql}" if filter_sql else ""
    say(f"[green]✓[/] incremental snapshot of {escape(table + where)} requested "
         f"(signal {signal_id})")


def _require_connector(client: ConnectClient, name: str) -> None:
    try:
        status = client.status(name)
    except ConnectRequestError as exc:
        if exc.status == 404:
            raise ConnectRequestError(f"no connector named `{name}` is registered", status=404,
                                      connector=name) from exc
        raise
    failed = failure(status)
    if failed is not None:
        say(f"[yellow]![/] connector {escape(name)} has a FAILED part; the snapshot runs once "
             "it is restarted", err=True)


COMMANDS: list[click.Command] = [connector]
