"""The ``cdc-facts`` command line.

Each command group lives in its own module and only parses, calls the library and
renders. Exit codes: 0 ok, 1 user-fixable (validation or preflight failed), 2 usage,
3 unavailable or transient.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from cdc_facts.cli.output import render_error, render_unexpected
from cdc_facts.errors import CdcFactsError

#: Command name -> the module that defines it (in its ``COMMANDS`` list). Modules are
#: imported only when their command runs, so one command's dependencies never slow or
#: break another.
_COMMANDS = {
    "connector": "cdc_facts.cli.connector",
    "contracts": "cdc_facts.cli.rules",
    "demo": "cdc_facts.cli.demo",
    "explain": "cdc_facts.cli.rules",
    "local": "cdc_facts.cli.local",
    "preflight": "cdc_facts.cli.preflight",
    "run": "cdc_facts.cli.run",
    "test": "cdc_facts.cli.rules",
    "translate": "cdc_facts.cli.rules",
    "validate": "cdc_facts.cli.rules",
}


class _Root(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, module in _COMMANDS.items()
                      if importlib.util.find_spec(module) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = _COMMANDS.get(cmd_name)
        if module_name is None or importlib.util.find_spec(module_name) is None:
            return None
        module = importlib.import_module(module_name)
        return next((c for c in module.COMMANDS if c.name == cmd_name), None)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CdcFactsError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            render_error(exc)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # an error no adapter turned into a CdcFactsError: a bug
            if ctx.obj and ctx.obj.get("debug"):
                raise
            render_unexpected(exc)
            sys.exit(1)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="cdc-facts")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """cdc-facts: turn database changes captured by Debezium into business facts on Kafka."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="cdc-facts")
