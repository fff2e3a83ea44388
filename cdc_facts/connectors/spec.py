"""Connector specs (``connectors/<name>.yaml``): load, substitute ``${ENV}``, validate.

A spec says which database and tables one Debezium connector captures::

    name: legacy-shop
    kind: postgres
    database:
      host: ${SHOP_DB_HOST:-127.0.0.1}
      port: 5432
      name: shop
      user: cdc
      password: ${SHOP_DB_PASSWORD}
    tables: [public.customers, public.orders]
    snapshot: initial
    options: {}

Loading collects every problem with its ``file:line:col`` and raises one
:class:`~cdc_facts.errors.ConnectorSpecError`. Secrets (the password, any option whose
key looks secret) must come from the environment; their values are recorded in
:attr:`ConnectorSpec.secrets` so that every output can mask them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from cdc_facts.connectors.env import expand, reference_problem
from cdc_facts.errors import ConnectorSpecError, Problem
from cdc_facts.secrets import MASK, Secrets, is_secret_key

Kind = Literal["postgres", "mariadb", "mysql", "sqlserver", "oracle"]
KINDS: tuple[Kind, ...] = ("postgres", "mariadb", "mysql", "sqlserver", "oracle")
DEFAULT_PORTS: dict[str, int] = {
    "postgres": 5432, "mariadb": 3306, "mysql": 3306, "sqlserver": 1433, "oracle": 1521,
}
_SNAPSHOT_COMMON = (
    "initial", "initial_only", "no_data", "when_needed", "always", "configuration_based", "custom",
)
#: Debezium 3.x ``snapshot.mode`` values, by kind (PostgreSQL has no ``recovery``).
SNAPSHOT_MODES: dict[str, tuple[str, ...]] = {
    "postgres": _SNAPSHOT_COMMON,
    "mariadb": (*_SNAPSHOT_COMMON, "recovery"),
    "mysql": (*_SNAPSHOT_COMMON, "recovery"),
    "sqlserver": (*_SNAPSHOT_COMMON, "recovery"),
    "oracle": (*_SNAPSHOT_COMMON, "recovery"),
}
#: Modes Debezium 3.0 removed, with the mode that replaced each.
REMOVED_SNAPSHOT_MODES: dict[str, str] = {
    "never": "no_data", "schema_only": "no_data", "schema_only_recovery": "recovery",
}
_TOP_KEYS = ("name", "kind", "database", "tables", "snapshot", "options", "signal_table")
_DB_KEYS = ("host", "port", "name", "user", "password")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class DatabaseSpec:
    """Where the connector connects. ``password`` never shows in ``repr``."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    name: str | None = None


@dataclass(frozen=True)
class ConnectorSpec:
    """One validated connector spec.

    Attributes:
        name: Connector name and Debezium ``topic.prefix``.
        kind: Database kind: postgres, mariadb, mysql, sqlserver or oracle.
        database: Connection settings, secrets already substituted.
        tables: Captured tables, ``schema.table`` (``database.table`` for MySQL/MariaDB).
        snapshot: Debezium ``snapshot.mode``.
        options: Raw Debezium/Connect properties that win over the rendered defaults.
        signal_table: Signal table for ad hoc snapshots; ``None`` for the default.
        file: The file it was loaded from.
        secrets: Every secret value the spec holds, for masking.
    """

    name: str
    kind: Kind
    database: DatabaseSpec
    tables: tuple[str, ...]
    snapshot: str = "initial"
    options: Mapping[str, str] = field(default_factory=dict)
    signal_table: str | None = None
    file: str = "<memory>"
    secrets: Secrets = field(default_factory=Secrets, repr=False, compare=False)

    def __repr__(self) -> str:
        """Like the dataclass's, with the values of secret options (and any secret inside
        another option) masked."""
        options = {key: MASK if is_secret_key(key) and value else self.secrets.mask(value)
                   for key, value in self.options.items()}
        return (f"ConnectorSpec(name={self.name!r}, kind={self.kind!r}, "
                f"database={self.database!r}, tables={self.tables!r}, "
                f"snapshot={self.snapshot!r}, options={options!r}, "
                f"signal_table={self.signal_table!r}, file={self.file!r})")

    @property
    def is_mysql(self) -> bool:
        """Whether the database speaks the MySQL protocol (MySQL or MariaDB)."""
        return self.kind in ("mysql", "mariadb")

    @property
    def schemas(self) -> tuple[str, ...]:
        """The first parts of the table names (schemas, or databases for MySQL), in order."""
        return tuple(dict.fromkeys(t.split(".", 1)[0] for t in self.tables))


def load_spec(path: str | Path, env: Mapping[str, str] | None = None) -> ConnectorSpec:
    """Load and validate a connector spec file.

    Args:
        path: The YAML file.
        env: Variables for ``${VAR}`` substitution; the process environment when ``None``.

    Raises:
        ConnectorSpecError: With every problem found, each at its ``file:line:col``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConnectorSpecError(
            f"cannot read connector spec {path}: {exc.strerror}",
            problems=[Problem(str(path), 1, 1, f"cannot read: {exc.strerror}")],
        ) from exc
    return parse_spec(text, file=str(path), env=os.environ if env is None else env)


def parse_spec(text: str, *, file: str = "<memory>", env: Mapping[str, str]) -> ConnectorSpec:
    """Validate a connector spec given as YAML text; see :func:`load_spec`.

    >>> spec = parse_spec(
    ...     "name: shop\\nkind: postgres\\ndatabase: {host: db, name: shop, user: cdc,"
    ...     " password: '${PW}'}\\ntables: [public.orders]\\n", env={"PW": "s3cr3t"})
    >>> spec.database.port, spec.secrets.mask("pw=s3cr3t")
    (5432, 'pw=****')
    """
    reader = _Reader(file, env)
    spec = reader.read(text)
    errors = [p for p in reader.problems if p.severity == "error"]
    if errors or spec is None:
        # a secret can reach a problem through another key (`port: ${PASSWORD}`)
        error = spec_error(errors or [Problem(file, 1, 1, "invalid connector spec")])
        raise reader.secrets.mask_error(error)
    return spec


def spec_error(problems: list[Problem]) -> ConnectorSpecError:
    """One error listing every problem, one per line, so any renderer shows them all."""
    if len(problems) == 1:
        message = str(problems[0])
    else:
        message = f"{len(problems)} problems:\n  " + "\n  ".join(str(p) for p in problems)
    error = ConnectorSpecError(message, problems=problems)
    error.hint = "fix the connector spec; docs/connectors.md describes every key"
    return error


class _Reader:
    """Walks the YAML tree once, collecting problems with positions."""

    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.problems: list[Problem] = []
        self.secrets = Secrets()

    def problem(self, at: tuple[int, int], message: str, suggestion: str | None = None) -> None:
        self.problems.append(Problem(self.file, at[0] + 1, at[1] + 1, message, None, suggestion))

    def read(self, text: str) -> ConnectorSpec | None:
        root = self._parse(text)
        if root is None:
            return None
        self._unknown_keys(root, _TOP_KEYS, "")
        name = self._name(root)
        kind = self._kind(root)
        database = self._database(root, kind)
        tables = self._tables(root, kind, database)
        snapshot = self._snapshot(root, kind)
        options = self._options(root)
        signal = self._text(root, "signal_table", required=False)
        if signal is not None and not _qualified(signal):
            self.problem(_value_at(root, "signal_table"), f"signal_table `{signal}` must be "
                         "`schema.table` (`database.table` for MySQL/MariaDB)")
        if self.problems or name is None or kind is None or database is None:
            return None
        return ConnectorSpec(
            name, kind, database, tables, snapshot, options, signal, self.file, self.secrets
        )

    # --- structure -----------------------------------------------------------------

    def _parse(self, text: str) -> Any:
        try:
            root = YAML(typ="rt").load(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            at = (mark.line, mark.column) if mark else (0, 0)
            self.problem(at, f"invalid YAML: {exc.problem or exc.context}")
            return None
        if not isinstance(root, dict):
            self.problem((0, 0), "a connector spec is a mapping with `name`, `kind`, "
                         "`database` and `tables`")
            return None
        return root

    def _unknown_keys(self, node: Any, known: tuple[str, ...], prefix: str) -> None:
        for key in node:
            if key not in known:
                close = get_close_matches(str(key), known, n=1)
                self.problem(_key_at(node, key), f"unknown key `{prefix}{key}`; "
                             f"expected one of {', '.join(known)}",
                             f"{prefix}{close[0]}" if close else None)

    # --- scalars -------------------------------------------------------------------

    def _text(
        self, node: Any, key: str, *, required: bool = True, secret: bool = False, label: str = ""
    ) -> str | None:
        label = label or key
        if key not in node or node[key] is None:
            if required:
                self.problem(_node_at(node), f"missing `{label}`")
            return None
        raw = node[key]
        if isinstance(raw, dict | list):
            self.problem(_value_at(node, key), f"`{label}` must be a single value")
            return None
        return self._expand(str(raw), _value_at(node, key), label, secret=secret)

    def _expand(self, raw: str, at: tuple[int, int], label: str, *, secret: bool) -> str | None:
        wrong = reference_problem(raw)
        if wrong is not None:
            self.problem(at, f"`{label}`: {wrong[1]}")
            return None
        expanded = expand(raw, self.env)
        for name in expanded.missing:
            # a secret takes no default: the file would hold it
            advice = f"export {name}=..." if secret else \
                f"export {name}=... or write ${{{name}:-default}}"
            self.problem(at, f"`{label}`: environment variable {name} is not set; {advice}")
        if secret and not expanded.only_references:
            self.problem(at, f"`{label}` is a secret: write it as ${{VARIABLE}} and set the "
                         "variable in the environment, never the value (or a default) in the file")
            return None
        if secret:
            self.secrets.add(expanded.value)
        return None if expanded.missing else expanded.value

    def _name(self, root: Any) -> str | None:
        name = self._text(root, "name")
        if name is not None and not _NAME.match(name):
            self.problem(_value_at(root, "name"), f"name `{name}` may only hold letters, digits, "
                         "`.`, `_` and `-` (it becomes the Kafka topic prefix)")
            return None
        return name

    def _kind(self, root: Any) -> Kind | None:
        kind = self._text(root, "kind")
        if kind is None:
            return None
        if kind not in KINDS:
            close = get_close_matches(kind, KINDS, n=1)
            self.problem(_value_at(root, "kind"), f"unknown kind `{kind}`; expected one of "
                         f"{', '.join(KINDS)}", close[0] if close else None)
            return None
        return kind

    def _snapshot(self, root: Any, kind: Kind | None) -> str:
        mode = self._text(root, "snapshot", required=False) or "initial"
        known = SNAPSHOT_MODES[kind] if kind else SNAPSHOT_MODES["mysql"]
        if mode in known:
            return mode
        close = get_close_matches(mode, known, n=1)
        replaced = REMOVED_SNAPSHOT_MODES.get(mode)
        if replaced is not None:
            message = f"snapshot mode `{mode}` was removed in Debezium 3.0"
            close = [replaced] if replaced in known else close
        elif any(mode in modes for modes in SNAPSHOT_MODES.values()):
            message = (f"the {kind} connector has no snapshot mode `{mode}`; it takes "
                       f"{', '.join(known)}")
        else:
            message = f"unknown snapshot mode `{mode}`"
        self.problem(_value_at(root, "snapshot"), message, close[0] if close else None)
        return mode

    # --- sections ------------------------------------------------------------------

    def _database(self, root: Any, kind: Kind | None) -> DatabaseSpec | None:
        node = root.get("database")
        if not isinstance(node, dict):
            where = _value_at(root, "database") if "database" in root else _node_at(root)
            self.problem(where, "missing `database` mapping with host, port, name, user, password")
            return None
        self._unknown_keys(node, _DB_KEYS, "database.")
        host = self._text(node, "host", label="database.host")
        user = self._text(node, "user", label="database.user")
        password = self._text(node, "password", secret=True, label="database.password")
        name = self._text(node, "name", required=kind not in ("mysql", "mariadb"),
                          label="database.name")
        port = self._port(node, kind)
        if host is None or user is None or password is None or port is None:
            return None
        return DatabaseSpec(host, port, user, password, name)

    def _port(self, node: Any, kind: Kind | None) -> int | None:
        text = self._text(node, "port", required=False, label="database.port")
        if text is None:
            return DEFAULT_PORTS.get(kind or "postgres", 5432) if "port" not in node else None
        if not text.isdigit() or not 0 < int(text) < 65536:
            self.problem(_value_at(node, "port"), f"database.port `{text}` is not a port number")
            return None
        return int(text)

    def _tables(self, root: Any, kind: Kind | None, db: DatabaseSpec | None) -> tuple[str, ...]:
        node = root.get("tables")
        if not isinstance(node, list) or not node:
            where = _value_at(root, "tables") if "tables" in root else _node_at(root)
            self.problem(where, "`tables` must list at least one table, e.g. [public.orders]")
            return ()
        tables: list[str] = []
        for index, item in enumerate(node):
            at = _item_at(node, index)
            table = self._expand(str(item), at, "tables", secret=False) if item else None
            if table is not None and self._check_table(table, at, kind, db, tables):
                tables.append(table)
        return tuple(tables)

    def _check_table(
        self, table: str, at: tuple[int, int], kind: Kind | None, db: DatabaseSpec | None,
        seen: list[str],
    ) -> bool:
        parts = table.split(".")
        if not _qualified(table):
            prefix = "public" if kind == "postgres" else (db.name if db else None)
            fix = f"{prefix}.{parts[-1]}" if prefix and _IDENT.match(parts[-1]) else None
            what = "database" if kind in ("mysql", "mariadb") else "schema"
            self.problem(at, f"table `{table}` must be `{what}.table`", fix)
            return False
        if table in seen:
            self.problem(at, f"table `{table}` is listed twice")
            return False
        return True

    def _options(self, root: Any) -> dict[str, str]:
        node = root.get("options")
        if node is None:
            return {}
        if not isinstance(node, dict):
            self.problem(_value_at(root, "options"), "`options` must be a mapping of "
                         "Debezium/Connect properties")
            return {}
        options: dict[str, str] = {}
        for key, raw in node.items():
            value = self._option(node, str(key), raw)
            if value is not None:
                options[str(key)] = value
        return options

    def _option(self, node: Any, key: str, raw: object) -> str | None:
        at = _value_at(node, key)
        if isinstance(raw, dict | list) or raw is None:
            self.problem(at, f"option `{key}` must be a single value (lists are written "
                         "comma-separated, as Debezium expects)")
            return None
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        return self._expand(text, at, f"options.{key}", secret=is_secret_key(key))


def _qualified(table: str) -> bool:
    parts = table.split(".")
    return len(parts) == 2 and all(_IDENT.match(p) for p in parts)


def _node_at(node: Any) -> tuple[int, int]:
    return (node.lc.line, node.lc.col) if hasattr(node, "lc") else (0, 0)


def _key_at(node: Any, key: object) -> tuple[int, int]:
    try:
        line, col = node.lc.key(key)
    except (AttributeError, KeyError, TypeError):
        return _node_at(node)
    return int(line), int(col)


def _value_at(node: Any, key: object) -> tuple[int, int]:
    try:
        line, col = node.lc.value(key)
    except (AttributeError, KeyError, TypeError):
        return _key_at(node, key)
    return int(line), int(col)


def _item_at(node: Any, index: int) -> tuple[int, int]:
    try:
        line, col = node.lc.item(index)
    except (AttributeError, KeyError, IndexError, TypeError):
        return _node_at(node)
    return int(line), int(col)
