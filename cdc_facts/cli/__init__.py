"""The ``cdc-facts`` command line.

Each command group lives in its own module and only parses, calls the library and
renders. Exit codes: 0 ok, 1 user-fixable (validation or preflight failed), 2 usage,
3 unavailable or transient.
"""

from __future__ import annotations

import importlib
import sys

import click

from cdc_facts.cli.output import render_error
from cdc_facts.errors import CdcFactsError

#: Modules that each expose ``COMMANDS: list[click.Command]``.
_COMMAND_MODULES = (
    "cdc_facts.cli.local",
    "cdc_facts.cli.rules",
    "cdc_facts.cli.connector",
    "cdc_facts.cli.run",
    "cdc_facts.cli.demo",
)


class _Root(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CdcFactsError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            render_error(exc)
            sys.exit(exc.exit_code)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="cdc-facts")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """cdc-facts: turn database changes captured by Debezium into business facts on Kafka."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="cdc-facts")
