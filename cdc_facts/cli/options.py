"""What the commands that talk to a database or to Kafka Connect share: secret masking,
the connector spec, and their options.

Every secret of a spec (and of the Connect and admin credentials) is masked in all
output, errors and logs; only ``connector render --show-secrets`` reveals them. Options
that cannot work (a Connect URL without ``http://``, a CA bundle that does not exist, an
admin DSN that does not parse) are usage errors (exit 2), caught before any request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

import click
from rich.markup import escape

from cdc_facts.cli.output import SECRETS, print_json, stderr, stdout
from cdc_facts.connect import ConnectClient, split_userinfo
from cdc_facts.connectors import ConnectorSpec, load_spec
from cdc_facts.errors import CdcFactsError, PreflightError
from cdc_facts.preflight import parse_dsn
from cdc_facts.rules.loader import load_mappings
from cdc_facts.rules.model import RuleSet
from cdc_facts.secrets import install_log_masking

DEFAULT_CONNECT_URL = "http://127.0.0.1:8083"
_P = ParamSpec("_P")
_R = TypeVar("_R")


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
    """The Connect REST client the command's ``--connect-*`` options describe.

    Credentials in the URL (``http://user:password@host:8083``) are used for basic auth
    unless ``--connect-user`` is given; the password is masked either way. Each retry of
    a request prints one line on stderr.
    """
    params = ctx.params
    url, url_auth = split_userinfo(params.get("connect_url") or DEFAULT_CONNECT_URL)
    user, password = params.get("connect_user"), params.get("connect_password")
    auth = (user, password or "") if user else url_auth
    if auth and auth[1]:
        SECRETS.add(auth[1])
    verify: bool | str = params.get("connect_ca") or not params.get("connect_insecure", False)
    return ConnectClient(url, auth=auth, verify=verify, on_retry=_retrying)


def _retrying(line: str) -> None:
    say(f"[yellow]…[/] {escape(line)}", err=True)


class ConnectUrl(click.ParamType[str]):
    """An ``http://`` or ``https://`` URL with a host; a password in it is masked from then
    on, and never shown in the usage error."""

    name = "URL"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = str(value).strip()
        try:
            parts = urlsplit(text)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            parts, port_ok = None, False
        if parts is not None and parts.password:
            SECRETS.add(unquote(parts.password))
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
                or not port_ok:
            host = text.rpartition("@")[2]
            shown = f"****@{host}" if "@" in text else text
            example = f"http://{host}" if "://" not in host else DEFAULT_CONNECT_URL
            self.fail(f"`{shown}` is not an http:// or https:// URL with a host and a valid "
                      f"port; write e.g. {example}", param, ctx)
        return text


def connect_options(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Add the ``--connect-*`` options (URL, basic auth, TLS) to a command."""
    options = [
        click.option("--connect-url", envvar="CDC_FACTS_CONNECT_URL", default=DEFAULT_CONNECT_URL,
                     type=ConnectUrl(), show_default=True,
                     help="Kafka Connect REST URL (user:password@ in it is used for basic auth)."),
        click.option("--connect-user", envvar="CDC_FACTS_CONNECT_USER", help="Basic auth user."),
        click.option("--connect-password", envvar="CDC_FACTS_CONNECT_PASSWORD",
                     help="Basic auth password (prefer the environment variable)."),
        click.option("--connect-ca", envvar="CDC_FACTS_CONNECT_CA",
                     type=click.Path(exists=True, path_type=str),
                     help="CA bundle to verify Connect's TLS certificate."),
        click.option("--connect-insecure", is_flag=True, help="Do not verify TLS certificates."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


spec_arg = click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
json_flag = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
bootstrap_option = click.option(
    # the first variable set wins: two underscores, as for `cdc-facts run`, then one
    "--kafka-bootstrap",
    envvar=["CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS", "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS"],
    help="Kafka bootstrap servers, for the schema history of MySQL/MariaDB connectors "
    "[env: CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS or CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS].",
)
mappings_option = click.option(
    "--mappings", "-m", multiple=True, type=click.Path(path_type=Path),
    help="Mapping file or directory whose rules preflight checks against (repeatable).",
)


def _admin_dsn(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check the admin DSN parses and mask its password, before anything is done."""
    if not value:
        return None
    SECRETS.add(value)
    try:
        params = parse_dsn(value)
    except PreflightError as exc:
        raise click.BadParameter(f"{exc.message} ({exc.hint})" if exc.hint else exc.message,
                                 ctx, param) from None
    SECRETS.add(str(params.get("password") or ""))
    return value


admin_option = click.option(
    "--admin-dsn", envvar="CDC_FACTS_PREFLIGHT_ADMIN_DSN", callback=_admin_dsn,
    help="Connect as this user to apply fixes (e.g. the tables' owner): a PostgreSQL "
    "conninfo or URL, or mysql://user:password@host:port/db.",
)


def load_rules(paths: tuple[Path, ...]) -> RuleSet | None:
    """The rule set of the mapping files, or ``None`` when none were given."""
    return load_mappings(list(paths)) if paths else None
