"""What the commands that talk to a database or to Kafka Connect share: secret masking,
the connector spec, and their options.

Every secret of a spec (and of the Connect and admin credentials) is masked in all
output, errors and logs; only ``connector render --show-secrets`` reveals them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from cdc_facts.cli.output import print_json, stderr, stdout
from cdc_facts.connect import ConnectClient
from cdc_facts.connectors import ConnectorSpec, load_spec
from cdc_facts.errors import CdcFactsError
from cdc_facts.rules.loader import load_mappings
from cdc_facts.rules.model import RuleSet
from cdc_facts.secrets import Secrets, install_log_masking

DEFAULT_CONNECT_URL = "http://127.0.0.1:8083"
_P = ParamSpec("_P")
_R = TypeVar("_R")
#: Every secret the process has seen; masked in all output and log records.
SECRETS = Secrets()


def masked(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a command with secret masking in logs; mask any error it raises."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        install_log_masking(SECRETS)
        try:
            return func(*args, **kwargs)
        except CdcFactsError as exc:
            SECRETS.mask_error(exc)
            raise

    return wrapper


def say(text: str, *, err: bool = False) -> None:
    """Print masked text (rich markup allowed in ``text``, values escaped by callers)."""
    (stderr if err else stdout).print(SECRETS.mask(text), highlight=False, soft_wrap=True)


def say_json(document: object) -> None:
    """Print a JSON document with every known secret masked."""
    print_json(SECRETS.mask_json(document))


def load_masked_spec(path: Path) -> ConnectorSpec:
    """Load a connector spec and mask its secrets from now on."""
    spec = load_spec(path)
    SECRETS.update(spec.secrets)
    return spec


def connect_client(ctx: click.Context) -> ConnectClient:
    """The Connect REST client the command's ``--connect-*`` options describe."""
    params = ctx.params
    url = params.get("connect_url") or DEFAULT_CONNECT_URL
    user, password = params.get("connect_user"), params.get("connect_password")
    if password:
        SECRETS.add(password)
    verify: bool | str = params.get("connect_ca") or not params.get("connect_insecure", False)
    auth = (user, password or "") if user else None
    return ConnectClient(url, auth=auth, verify=verify)


def connect_options(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Add the ``--connect-*`` options (URL, basic auth, TLS) to a command."""
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


spec_arg = click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
json_flag = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
bootstrap_option = click.option(
    "--kafka-bootstrap", envvar="CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS",
    help="Kafka bootstrap servers, for the schema history of MySQL/MariaDB connectors.",
)
mappings_option = click.option(
    "--mappings", "-m", multiple=True, type=click.Path(path_type=Path),
    help="Mapping file or directory whose rules preflight checks against (repeatable).",
)
admin_option = click.option(
    "--admin-dsn", envvar="CDC_FACTS_PREFLIGHT_ADMIN_DSN",
    help="Connect as this user to apply fixes (e.g. the tables' owner).",
)


def load_rules(paths: tuple[Path, ...]) -> RuleSet | None:
    """The rule set of the mapping files, or ``None`` when none were given."""
    return load_mappings(list(paths)) if paths else None
