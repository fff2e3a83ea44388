"""``cdc-facts run``: the translator service, until SIGTERM or SIGINT.

Parses the options, resolves the settings (CLI > environment > config file > defaults),
loads the mappings (refusing to start on any problem, as ``validate`` reports them),
serves metrics and health, and runs the service. SIGTERM and SIGINT stop it cleanly: the
open transaction is finished, the clients close, and the exit code is 0.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from cdc_facts.cli.output import SECRETS, render_problems, stderr
from cdc_facts.errors import ConfigError
from cdc_facts.metrics import MetricsServer
from cdc_facts.rules.loader import read_mappings
from cdc_facts.secrets import install_log_masking
from cdc_facts.service import Service
from cdc_facts.settings import ServiceSettings, load_settings
from cdc_facts.translator import Translator

log = logging.getLogger("cdc_facts.run")


@click.command()
@click.option("--mappings", "-m", multiple=True, type=click.Path(path_type=Path),
              help="Mapping file or directory (repeatable).")
@click.option("--group", "group_id", help="Consumer group id, shared by every instance.")
@click.option("--instance-id", help="This instance's id, stable across restarts "
              "[default: the host name].")
@click.option("--bootstrap-servers", help="Kafka bootstrap servers (host:port,...).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Config file (TOML or YAML) with [service] and [kafka] sections.")
@click.option("--commit-interval-ms", type=int,
              help="Commit a transaction at least this often [default: 1000].")
@click.option("--batch-size", type=int, help="Most records per transaction [default: 5000].")
@click.option("--transaction-linger-ms", type=int,
              help="Begin a transaction at the earliest this long after the last commit; "
              "what arrives meanwhile joins it (fewer, larger transactions) [default: 0].")
@click.option("--dead-letter-topic", help="[default: <group>.dead-letter]")
@click.option("--metrics-port", type=click.IntRange(0, 65535),
              help="Port of /metrics, /healthz and /readyz (0: any free port) [default: 9464].")
@click.option("--guarantee", type=click.Choice(["exactly-once", "at-least-once"]),
              help="Processing guarantee [default: exactly-once].")
@click.option("--static-membership/--no-static-membership", default=None,
              help="Join the group as a static member named by the instance id, so that a "
              "restarted instance resumes without a rebalance [default: on].")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="[default: text]")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"],
                                               case_sensitive=False), help="[default: info]")
def run(config_file: Path | None, **options: object) -> None:
    """Translate changes into facts on Kafka, exactly once, until stopped.

    Settings also come from the environment (CDC_FACTS__SERVICE__GROUP_ID,
    CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS, any CDC_FACTS__KAFKA__<CLIENT_SETTING>...) and from
    the --config file; see docs/service.md.
    """
    settings = load_settings(options, os.environ, config_file)
    SECRETS.update(settings.kafka.secrets())  # in errors, as in logs
    install_log_masking(settings.kafka.secrets())
    configure_logging(settings.log_format, settings.log_level)
    service = Service(settings, _translator(settings))
    server = MetricsServer(service.metrics, settings.metrics_host, settings.metrics_port)
    try:
        server.start()
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {settings.metrics_host}:"
                          f"{settings.metrics_port}: {exc.strerror}",
                          hint="choose another --metrics-port (0: any free port)") from exc
    stop = threading.Event()
    _freeze_startup_objects()
    try:
        with _stop_on_signals(stop):
            service.run(stop)
    finally:
        server.stop()


def _translator(settings: ServiceSettings) -> Translator:
    """The compiled rules; on any problem, print them as ``validate`` does and exit 1."""
    report = read_mappings(settings.mappings)
    if report.errors:
        render_problems(report.problems)
        stderr.print(f"[red]✗[/] {len(report.errors)} error(s) in {len(report.files)} "
                     "mapping file(s): the service does not start; run `cdc-facts validate` "
                     "after fixing them", highlight=False, soft_wrap=True)
        sys.exit(1)
    for problem in report.warnings:
        log.warning("%s", problem)
    if not report.ruleset.tables():
        raise ConfigError(f"the mappings ({', '.join(map(str, settings.mappings))})"
                          " cover no table: there is nothing to translate")
    return Translator(report.ruleset)


def _freeze_startup_objects() -> None:
    """Put what starting made out of the cyclic collector's reach.

    The modules, the compiled rules and the clients live as long as the process: some
    50 000 objects that each full collection would walk again, for about 30 ms with the
    translator's thread stopped, a pause every fact in flight then waits out. Frozen, a
    full collection walks only what the loop made since (docs/service.md, Latency).
    """
    gc.collect()
    gc.freeze()


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGTERM or SIGINT (a second one exits at once)."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(1)
        log.info("%s: finishing the open transaction, then stopping",
                 signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- logging ---------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: str, level: str) -> None:
    """Send the service's logs to stderr, as text or as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


COMMANDS = [run]
