"""``cdc-facts connector ...`` and ``cdc-facts preflight``: register a database with Connect.

Tables for people, ``--json`` for machines. Every secret of the spec (and of the Connect
and admin credentials) is masked in all output, errors and logs; only
``connector render --show-secrets`` reveals them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
from rich.markup import escape
from rich.table import Table

from cdc_facts.cli.output import print_json, stderr, stdout
from cdc_facts.connect import ConnectClient, Status, failure
from cdc_facts.connectors import ConnectorSpec, load_spec, render
from cdc_facts.errors import (
    CdcFactsError,
    ConnectorFailedError,
    ConnectorSpecError,
    ConnectRequestError,
    PreflightError,
)
from cdc_facts.preflight import Report, admin_params, connection_params, run_preflight
from cdc_facts.rules.loader import load_mappings
from cdc_facts.rules.model import RuleSet
from cdc_facts.secrets import Secrets, install_log_masking

DEFAULT_CONNECT_URL = "http://127.0.0.1:8083"
_P = ParamSpec("_P")
_R = TypeVar("_R")
#: Every secret the process has seen; masked in all output and log records.
_SECRETS = Secrets()
_ICONS = {"pass": "[green]✓ pass[/]", "warn": "[yellow]! warn[/]", "fail": "[red]✗ fail[/]"}
_STATE_COLORS = {"RUNNING": "green", "PAUSED": "yellow", "STOPPED": "yellow", "FAILED": "red"}


# --- shared plumbing ---------------------------------------------------------------------


def _masked(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a command with secret masking in logs; mask any error it raises."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        install_log_masking(_SECRETS)
        try:
            return func(*args, **kwargs)
        except CdcFactsError as exc:
            _SECRETS.mask_error(exc)
            raise

    return wrapper


def _say(text: str, *, err: bool = False) -> None:
    """Print masked text (rich markup allowed in ``text``, values escaped by callers)."""
    (stderr if err else stdout).print(_SECRETS.mask(text), highlight=False, soft_wrap=True)


def _json(document: object) -> None:
    print_json(_SECRETS.mask_json(document))


def _spec(path: Path) -> ConnectorSpec:
    spec = load_spec(path)
    _SECRETS.update(spec.secrets)
    return spec


def _client(ctx: click.Context) -> ConnectClient:
    params = ctx.params
    url = params.get("connect_url") or DEFAULT_CONNECT_URL
    user, password = params.get("connect_user"), params.get("connect_password")
    if password:
        _SECRETS.add(password)
    verify: bool | str = params.get("connect_ca") or not params.get("connect_insecure", False)
    auth = (user, password or "") if user else None
    return ConnectClient(url, auth=auth, verify=verify)


def _connect_options(func: Callable[_P, _R]) -> Callable[_P, _R]:
    options = [
        click.option("--connect-url", envvar="CDC_FACTS_CONNECT_URL", default=DEFAULT_CONNECT_URL,
                     show_default=True, help="Kafka Connect REST URL."),
        click.option("--connect-user", envvar="CDC_FACTS_CONNECT_USER", help="Basic auth user."),
        click.option("--connect-password", envvar="CDC_FACTS_CONNECT_PASSWORD",
                     help="Basic auth password (prefer the environment variable)."),
        click.option("--connect-ca", envvar="CDC_FACTS_CONNECT_CA",
                     help="CA bundle to verify Connect's TLS certificate."),
        click.option("--connect-insecure", is_flag=True, help="Do not verify TLS certificates."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_spec_arg = click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
_json_flag = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
_bootstrap = click.option(
    "--kafka-bootstrap", envvar="CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS",
    help="Kafka bootstrap servers, for the schema history of MySQL/MariaDB connectors.",
)
_mappings = click.option(
    "--mappings", "-m", multiple=True, type=click.Path(path_type=Path),
    help="Mapping file or directory whose rules preflight checks against (repeatable).",
)
_admin = click.option(
    "--admin-dsn", envvar="CDC_FACTS_PREFLIGHT_ADMIN_DSN",
    help="Connect as this user to apply fixes (e.g. the tables' owner).",
)


def _load_rules(paths: tuple[Path, ...]) -> RuleSet | None:
    """The rule set of the mapping files, or ``None`` when none were given."""
    return load_mappings(list(paths)) if paths else None


# --- render, validate --------------------------------------------------------------------


@click.group()
def connector() -> None:
    """Register a database with Kafka Connect and manage its connector."""


@connector.command("render")
@_spec_arg
@_bootstrap
@click.option("--show-secrets", is_flag=True, help="Print secrets instead of ****.")
@_masked
def render_command(spec_path: Path, kafka_bootstrap: str | None, show_secrets: bool) -> None:
    """Print the Debezium config a spec renders to, as JSON."""
    spec = _spec(spec_path)
    config = render(spec, kafka_bootstrap=kafka_bootstrap)
    if show_secrets:
        print_json(config)
    else:
        _json(_SECRETS.mask_config(config))


@connector.command("validate")
@_spec_arg
@_bootstrap
@_connect_options
@_json_flag
@click.pass_context
@_masked
def validate_command(ctx: click.Context, /, spec_path: Path, kafka_bootstrap: str | None,
                     as_json: bool, **_: object) -> None:
    """Ask the connector plugin to validate the rendered config, error by key."""
    spec = _spec(spec_path)
    config = render(spec, kafka_bootstrap=kafka_bootstrap)
    answer = _client(ctx).validate(config["connector.class"], config)
    errors = {
        item["value"]["name"]: item["value"]["errors"]
        for item in answer.get("configs", []) if item.get("value", {}).get("errors")
    }
    if as_json:
        _json({"connector": spec.name, "error_count": len(errors), "errors": errors})
    else:
        _render_validation(spec, errors)
    if errors:
        raise ConnectorSpecError(f"Connect found {len(errors)} invalid setting(s) for "
                                 f"connector `{spec.name}`")


def _render_validation(spec: ConnectorSpec, errors: dict[str, list[str]]) -> None:
    if not errors:
        _say(f"[green]✓[/] Connect accepts the config of {escape(spec.name)}")
        return
    table = Table("setting", "error", title=f"{spec.name}: invalid settings")
    for key, messages in sorted(errors.items()):
        table.add_row(escape(key), escape(_SECRETS.mask("\n".join(messages))))
    stdout.print(table)


# --- preflight ---------------------------------------------------------------------------


@click.command("preflight")
@_spec_arg
@_mappings
@click.option("--fix", is_flag=True, help="Apply the safe fixes of failed checks.")
@_admin
@_json_flag
@_masked
def preflight_command(spec_path: Path, mappings: tuple[Path, ...], fix: bool,
                      admin_dsn: str | None, as_json: bool) -> None:
    """Check the database can deliver what the connector and the rules need."""
    spec = _spec(spec_path)
    report = _preflight(spec, mappings, fix=fix, admin_dsn=admin_dsn, quiet=as_json)
    if as_json:
        _json(report.to_json(_SECRETS))
    if not report.ok:
        raise PreflightError(
            f"{len(report.failures)} preflight check(s) failed for connector `{spec.name}`",
            hint="apply the remedies above; `cdc-facts preflight SPEC --fix` applies the safe "
            "ones",
        )


def _preflight(spec: ConnectorSpec, mappings: tuple[Path, ...], *, fix: bool,
               admin_dsn: str | None, quiet: bool) -> Report:
    if admin_dsn:
        _SECRETS.add(str(admin_params(spec.kind, admin_dsn).get("password", "")))
        _SECRETS.add(admin_dsn)
    # Preflight never reads the schema history settings, so any bootstrap value renders.
    config = render(spec, kafka_bootstrap="unused:9092")
    rules = _load_rules(mappings)
    shown = (lambda fixes: None) if quiet else _show_fixes
    report = run_preflight(spec, config, rules, fix=fix, admin_dsn=admin_dsn, on_fixes=shown)
    if not quiet:
        _render_report(report)
    return report


def _show_fixes(fixes: list[str]) -> None:
    _say("[bold]Applying safe fixes:[/]", err=True)
    for statement in fixes:
        _say(f"  {escape(statement)};", err=True)


def _render_report(report: Report) -> None:
    table = Table("status", "check", "observed", "remedy",
                  title=f"preflight {report.connector} ({report.kind})", show_lines=False)
    for check in report.checks:
        observed, remedy = _SECRETS.mask(check.observed), _SECRETS.mask(check.remedy)
        table.add_row(_ICONS[check.status], escape(check.label), escape(observed), escape(remedy))
    stdout.print(table)
    summary = (f"{len(report.checks) - len(report.failures) - len(report.warnings)} passed, "
               f"{len(report.warnings)} warning(s), {len(report.failures)} failed")
    if report.applied:
        summary += f"; applied {len(report.applied)} fix(es)"
    _say(summary)


# --- register ----------------------------------------------------------------------------


@connector.command("register")
@_spec_arg
@_mappings
@_bootstrap
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for RUNNING.")
@click.option("--skip-preflight", is_flag=True, help="Register without checking the database.")
@_connect_options
@_json_flag
@click.pass_context
@_masked
def register_command(ctx: click.Context, /, spec_path: Path, mappings: tuple[Path, ...],
                     kafka_bootstrap: str | None, timeout: float, skip_preflight: bool,
                     as_json: bool, **_: object) -> None:
    """Preflight, create or update the connector, and wait until it runs."""
    spec = _spec(spec_path)
    config = render(spec, kafka_bootstrap=kafka_bootstrap)
    if not skip_preflight:
        report = _preflight(spec, mappings, fix=False, admin_dsn=None, quiet=as_json)
        if not report.ok:
            raise PreflightError(f"not registering `{spec.name}`: {len(report.failures)} "
                                 "preflight check(s) failed",
                                 hint="fix them (`cdc-facts preflight SPEC --fix`) or pass "
                                 "--skip-preflight")
    client = _client(ctx)
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
        _json({"connector": spec.name, "action": "updated" if existed else "created",
               "status": status})
        return
    _say(f"[green]✓[/] {'updated' if existed else 'created'} connector {escape(spec.name)}")
    _render_status(status)


def _wait(client: ConnectClient, name: str, timeout: float, *, quiet: bool) -> Status:
    if quiet:
        return client.wait_running(name, timeout=timeout)
    with stderr.status(f"waiting for {name} to run...") as spinner:
        def progress(status: Status) -> None:
            spinner.update(f"waiting for {name}: {escape(_summary(status))}")

        return client.wait_running(name, timeout=timeout, on_progress=progress)


@contextmanager
def _failure_trace() -> Iterator[None]:
    """Show a FAILED task's trace on stderr before the error itself."""
    try:
        yield
    except ConnectorFailedError as exc:
        if exc.trace:
            _say("[bold]task trace:[/]", err=True)
            stderr.print(_SECRETS.mask(exc.trace), markup=False, highlight=False)
        raise


def _summary(status: Status) -> str:
    tasks = ", ".join(f"{t.get('id')}={t.get('state')}" for t in status.get("tasks") or [])
    return f"connector {status.get('connector', {}).get('state')}, tasks: {tasks or 'none yet'}"


# --- status and lifecycle ----------------------------------------------------------------


@connector.command("status")
@click.argument("name", required=False)
@_connect_options
@_json_flag
@click.pass_context
@_masked
def status_command(ctx: click.Context, /, name: str | None, as_json: bool, **_: object) -> None:
    """Show one connector's status and tasks, or every connector's state."""
    client = _client(ctx)
    statuses = {name: client.status(name)} if name else client.statuses()
    if as_json:
        _json(statuses[name] if name else statuses)
    elif name:
        _render_status(statuses[name])
    else:
        _render_statuses(statuses)


def _state(state: object) -> str:
    text = str(state)
    color = _STATE_COLORS.get(text)
    return f"[{color}]{escape(text)}[/]" if color else escape(text)


def _render_status(status: Status) -> None:
    connector_state = status.get("connector", {})
    table = Table("part", "state", "worker", "trace", title=f"connector {status.get('name')}")
    table.add_row("connector", _state(connector_state.get("state")),
                  escape(str(connector_state.get("worker_id", ""))),
                  escape(_first(connector_state.get("trace"))))
    for task in status.get("tasks") or []:
        table.add_row(f"task {task.get('id')}", _state(task.get("state")),
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
    text = _SECRETS.mask(str(trace or "")).strip()
    return text.splitlines()[0] if text else ""


def _lifecycle(verb: str, action: Callable[[ConnectClient, str], object]) -> click.Command:
    @click.command(verb)
    @click.argument("name")
    @_connect_options
    @click.pass_context
    @_masked
    def command(ctx: click.Context, /, name: str, **_: object) -> None:
        action(_client(ctx), name)
        _say(f"[green]✓[/] {verb} requested for connector {escape(name)}")

    command.help = f"{verb.capitalize()} a connector (its tasks too)."
    return command


for _verb, _action in (("pause", ConnectClient.pause), ("resume", ConnectClient.resume),
                       ("stop", ConnectClient.stop)):
    connector.add_command(_lifecycle(_verb, _action))


@connector.command("restart")
@click.argument("name")
@click.option("--include-tasks/--connector-only", default=True, show_default=True)
@click.option("--only-failed/--all", default=True, show_default=True)
@_connect_options
@click.pass_context
@_masked
def restart_command(ctx: click.Context, /, name: str, include_tasks: bool, only_failed: bool,
                    **_: object) -> None:
    """Restart a connector and (by default) its failed tasks."""
    status = _client(ctx).restart(name, include_tasks=include_tasks, only_failed=only_failed)
    _say(f"[green]✓[/] restart requested for connector {escape(name)}")
    if status:
        _render_status(status)


@connector.command("remove")
@click.argument("name")
@click.option("--drop-slot", is_flag=True, help="Also drop its replication slot and publication.")
@click.option("--spec", "spec_path", type=click.Path(path_type=Path),
              help="The connector's spec (needed with --drop-slot).")
@_admin
@_connect_options
@click.pass_context
@_masked
def remove_command(ctx: click.Context, /, name: str, drop_slot: bool, spec_path: Path | None,
                   admin_dsn: str | None, **_: object) -> None:
    """Delete a connector; with --drop-slot, also what it created in PostgreSQL."""
    if drop_slot and spec_path is None:
        raise click.UsageError("--drop-slot needs --spec SPEC to know the database")
    spec = _spec(spec_path) if spec_path else None
    client = _client(ctx)
    if client.exists(name):
        client.delete(name)
        _say(f"[green]✓[/] removed connector {escape(name)}")
    else:
        _say(f"connector {escape(name)} is not registered")
    if drop_slot and spec is not None:
        _drop_slot(spec, admin_dsn)


def _drop_slot(spec: ConnectorSpec, admin_dsn: str | None) -> None:
    from cdc_facts.preflight.slots import drop_slot_and_publication

    if spec.kind != "postgres":
        raise PreflightError(f"--drop-slot applies to PostgreSQL connectors, not {spec.kind}")
    config = render(spec, kafka_bootstrap=None)
    if admin_dsn:
        _SECRETS.add(admin_dsn)
    params = admin_params("postgres", admin_dsn) if admin_dsn else connection_params(spec, config)
    dropped = drop_slot_and_publication(params, config["slot.name"], config["publication.name"])
    for what in dropped:
        _say(f"[green]✓[/] dropped {escape(what)}")
    if not dropped:
        _say("no replication slot or publication to drop")


@connector.command("offsets")
@click.argument("name")
@_connect_options
@_json_flag
@click.pass_context
@_masked
def offsets_command(ctx: click.Context, /, name: str, as_json: bool, **_: object) -> None:
    """Show where a connector is in its source (its committed offsets)."""
    offsets = _client(ctx).offsets(name)
    if as_json:
        _json(offsets)
        return
    table = Table("partition", "offset", title=f"offsets of {name}")
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
@_connect_options
@_json_flag
@click.pass_context
@_masked
def snapshot_command(ctx: click.Context, /, name: str, table: str, filter_sql: str | None,
                     spec_path: Path, as_json: bool, **_: object) -> None:
    """Re-read a table (or its rows matching --filter) as op=r records, while streaming."""
    from cdc_facts.preflight.signals import check_filter, send_snapshot_signal, snapshot_signal

    spec = _spec(spec_path)
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
    _require_connector(_client(ctx), name)
    config = render(spec, kafka_bootstrap="unused:9092")
    data = snapshot_signal(table, filter_sql)
    signal_id = send_snapshot_signal(spec.kind, connection_params(spec, config),
                                     config["signal.data.collection"], data)
    if as_json:
        _json({"connector": name, "signal_id": signal_id, "data": data})
        return
    where = f" where {filter_sql}" if filter_sql else ""
    _say(f"[green]✓[/] incremental snapshot of {escape(table + where)} requested "
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
        _say(f"[yellow]![/] connector {escape(name)} has a FAILED part; the snapshot runs once "
             "it is restarted", err=True)


COMMANDS: list[click.Command] = [connector, preflight_command]
