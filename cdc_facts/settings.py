"""Settings of the translator service (``cdc-facts run``), read once, at the edge.

Every setting comes from the first of these sources that has it:

1. a command-line option (``--group``),
2. an environment variable: ``CDC_FACTS__SERVICE__GROUP_ID``, ``CDC_FACTS__KAFKA__…``
   (``CDC_FACTS_SERVICE__…`` and ``CDC_FACTS_KAFKA__…``, with one underscore after
   ``CDC_FACTS``, as ``cdc-facts local env`` prints them, work too),
3. the config file given with ``--config`` (TOML or YAML, sections ``service`` and
   ``kafka``),
4. the default.

The ``kafka`` section passes through to the Kafka clients (``sasl.mechanism``,
``ssl.ca.location``…); in environment names dots become underscores
(``CDC_FACTS__KAFKA__SASL_MECHANISM``). Secrets are masked whenever settings are shown.

>>> settings = load_settings({"group_id": "facts", "mappings": ("mappings",)},
...                          {"CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": "localhost:9092",
...                           "CDC_FACTS__KAFKA__SASL_PASSWORD": "s3cr3t"})
>>> settings.dead_letter_topic, settings.kafka.masked()["sasl.password"]
('facts.dead-letter', '****')
"""

from __future__ import annotations

import difflib
import os
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cdc_facts.config_files import ConfigFile
from cdc_facts.errors import ConfigError, Problem
from cdc_facts.secrets import MASK, Secrets
from cdc_facts.secrets import is_secret_key as is_secret_key

Guarantee = Literal["exactly-once", "at-least-once"]
LogFormat = Literal["text", "json"]

#: How much longer than the commit interval a transaction may live: a batch stays open up
#: to the commit interval, then its commit delivers its records and ends it.
TRANSACTION_HEADROOM_MS: Final = 5000

#: What the fact producer's second client adds to the ``transactional.id``: the two take
#: turns, one transaction each (:class:`cdc_facts.kafka.TransactionalProducer`).
ALTERNATE_SUFFIX: Final = ".alt"

#: Kafka client settings the service sets itself; a user value would break its guarantees.
_OWNED_KAFKA_KEYS: Final = {
    "group.id": "use --group (or service.group_id)",
    "transactional.id": "it is <group>-<instance id>: set --instance-id",
    "isolation.level": "the service always reads with read_committed",
    "enable.auto.commit": "the service commits offsets itself, in its transactions",
    "enable.auto.offset.store": "the service stores offsets itself",
    "enable.idempotence": "transactions need the idempotent producer",
    "transaction.timeout.ms": "use service.transaction_timeout_ms",
}

#: Kafka client values the service cannot work with: (key, value) -> why, and what to use.
#: The consumer's rebalance listener takes partitions over eagerly (``assign()``), which
#: librdkafka refuses under incremental rebalancing, at the first assignment.
_REFUSED_KAFKA_VALUES: Final = {
    ("partition.assignment.strategy", "cooperative-sticky"):
        "cooperative rebalancing is incremental; use `range` or `roundrobin`",
    ("group.protocol", "consumer"):
        "the consumer protocol (KIP-848) rebalances incrementally; use `classic`",
}
_REFUSED_HINT: Final = ("leave it unset: the defaults (`range,roundrobin` and the classic "
                        "protocol) rebalance eagerly, as the service needs")

_ENV_NAME: Final = re.compile(r"CDC_FACTS(__?)(SERVICE|KAFKA)__(\w+)")


@dataclass(frozen=True)
class KafkaSettings:
    """How to reach the Kafka cluster: the bootstrap servers and client settings that pass
    through to every client (security, timeouts, tuning).

    >>> KafkaSettings("k:9092", (("sasl.password", "x"),))
    KafkaSettings(bootstrap_servers='k:9092', client={'sasl.password': '****'})
    """

    bootstrap_servers: str
    client: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def config(self) -> dict[str, str]:
        """The client configuration, secrets included (only for the Kafka clients)."""
        return {"bootstrap.servers": self.bootstrap_servers, **dict(self.client)}

    def masked(self) -> dict[str, str]:
        """The client configuration with every secret replaced by ``****``."""
        return {key: MASK if is_secret_key(key) and value else value
                for key, value in self.config().items()}

    def secrets(self) -> Secrets:
        """The secret values, to mask them wherever they might be printed."""
        return Secrets(value for key, value in self.client if is_secret_key(key))

    def __repr__(self) -> str:
        client = {k: v for k, v in self.masked().items() if k != "bootstrap.servers"}
        return f"KafkaSettings(bootstrap_servers={self.bootstrap_servers!r}, client={client})"


@dataclass(frozen=True)
class ServiceSettings:
    """Everything ``cdc-facts run`` needs, resolved from every source.

    ``origins`` tells, for each setting, which source it came from (``--group``,
    ``CDC_FACTS__SERVICE__GROUP_ID``, ``service.toml``, ``default``).
    """

    kafka: KafkaSettings
    mappings: tuple[Path, ...]
    group_id: str
    instance_id: str
    dead_letter_topic: str
    positions_topic: str
    transaction_timeout_ms: int
    commit_interval_ms: int = 1000
    batch_size: int = 5000
    transaction_linger_ms: int = 0
    topic_partitions: int = -1
    topic_replication_factor: int = -1
    metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped from outside the host or pod
    metrics_port: int = 9464
    log_format: LogFormat = "text"
    log_level: str = "INFO"
    guarantee: Guarantee = "exactly-once"
    static_membership: bool = True
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def transactional_id(self) -> str:
        """The producer's ``transactional.id``: stable per instance, so that a restarted
        instance fences its previous incarnation at once."""
        return f"{self.group_id}-{self.instance_id}"

    def describe(self) -> dict[str, object]:
        """Every setting with its origin, secrets masked: for logs and error messages."""
        shown: dict[str, object] = {
            name: f"{getattr(self, name)} ({self.origins.get(name, 'derived')})"
            for name in _FIELDS if name != "bootstrap_servers"
        }
        shown["mappings"] = [str(path) for path in self.mappings]
        if self.guarantee == "exactly-once":  # the producer's two clients take turns
            shown["transactional_id"] = (f"{self.transactional_id} and "
                                         f"{self.transactional_id}{ALTERNATE_SUFFIX}")
        shown["kafka"] = self.kafka.masked()
        return shown


# --- fields ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """One service setting: how to parse it, its default, and how each source names it."""

    parse: Callable[[object], object]
    what: str
    default: object = None
    option: str | None = None


def _int(minimum: int, maximum: int | None = None) -> Callable[[object], object]:
    def parse(value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected a whole number, got {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise ValueError(f"must be at most {maximum}, got {number}")
        return number

    return parse


def _text(value: object) -> object:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise ValueError(f"expected a non-empty text, got {value!r}")
    return str(value).strip()


def _instance_id(value: object) -> object:
    text = str(_text(value))
    if text.endswith(ALTERNATE_SUFFIX):
        raise ValueError(
            f"{text!r} ends with `{ALTERNATE_SUFFIX}`, which the producer adds for its second "
            f"transactional id: instances {text.removesuffix(ALTERNATE_SUFFIX)!r} and "
            f"{text!r} would share one. Choose an id without that ending")
    return text


def _choice(*choices: str) -> Callable[[object], object]:
    def parse(value: object) -> object:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0"})


def _flag(value: object) -> object:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"expected true or false, got {value!r}")


def _paths(value: object) -> object:
    if isinstance(value, str):
        parts: list[object] = [p for p in value.split(",") if p.strip()]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise ValueError(f"expected paths (a list, or text separated by commas), got {value!r}")
    if not parts:
        raise ValueError("expected at least one mapping file or directory")
    return tuple(Path(str(p).strip()) for p in parts)


_FIELDS: Final[dict[str, _Field]] = {
    "mappings": _Field(_paths, "the mapping files", option="--mappings"),
    "group_id": _Field(_text, "the consumer group id", option="--group"),
    "bootstrap_servers": _Field(_text, "the Kafka bootstrap servers",
                                option="--bootstrap-servers"),
    "instance_id": _Field(_instance_id, "the instance id", option="--instance-id"),
    "commit_interval_ms": _Field(_int(1), "the commit interval", 1000, "--commit-interval-ms"),
    "batch_size": _Field(_int(1), "the batch size", 5000, "--batch-size"),
    "transaction_linger_ms": _Field(_int(0), "the pause between transactions", 0,
                                    "--transaction-linger-ms"),
    "dead_letter_topic": _Field(_text, "the dead-letter topic", option="--dead-letter-topic"),
    "positions_topic": _Field(_text, "the positions topic"),
    "transaction_timeout_ms": _Field(_int(1000), "the transaction timeout"),
    "topic_partitions": _Field(_int(-1), "partitions of created topics", -1),
    "topic_replication_factor": _Field(_int(-1), "replication factor of created topics", -1),
    "metrics_host": _Field(_text, "the metrics address", "0.0.0.0"),  # noqa: S104
    "metrics_port": _Field(_int(0, 65535), "the metrics port", 9464, "--metrics-port"),
    "log_format": _Field(_choice("text", "json"), "the log format", "text", "--log-format"),
    "log_level": _Field(_choice("debug", "info", "warning", "error"), "the log level", "info",
                        "--log-level"),
    "guarantee": _Field(_choice("exactly-once", "at-least-once"), "the processing guarantee",
                        "exactly-once", "--guarantee"),
    "static_membership": _Field(_flag, "static group membership", True,
                                "--static-membership"),
}


# --- sources -----------------------------------------------------------------------------


@dataclass
class _Source:
    """What one source says: service values and Kafka client values, with their origins."""

    service: dict[str, tuple[object, str]] = field(default_factory=dict)
    kafka: dict[str, tuple[str, str]] = field(default_factory=dict)


def load_settings(
    cli: Mapping[str, object],
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> ServiceSettings:
    """Resolve the service settings from every source (CLI > environment > file > defaults).

    Args:
        cli: the options given on the command line, by setting name (``group_id``…); a
            ``None`` value counts as not given.
        environ: the environment (default: ``os.environ``).
        config_file: a TOML (``.toml``) or YAML (``.yaml``, ``.yml``) file.

    Raises:
        ConfigError: a setting is missing (the message names every source tried), has a
            wrong value, or is unknown (with the closest known name).
    """
    environ = os.environ if environ is None else environ
    sources = [_from_cli(cli), _from_env(environ)]
    if config_file is not None:
        sources.append(_from_file(config_file))
    return _resolve(sources, config_file)


def _from_cli(cli: Mapping[str, object]) -> _Source:
    source = _Source()
    for name, value in cli.items():
        if value is None or value == ():
            continue
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting `{name}`", key=name)
        source.service[name] = (value, _FIELDS[name].option or f"--{name.replace('_', '-')}")
    return source


def _from_env(environ: Mapping[str, str]) -> _Source:
    source = _Source()
    for name in sorted(environ, key=lambda n: n.startswith("CDC_FACTS__")):  # "__" wins
        match = _ENV_NAME.fullmatch(name)
        if match is None:
            continue
        if match.group(2) == "KAFKA":
            key = _kafka_key(match.group(3))
            wrong = _put_kafka(source, key, environ[name], name)
        else:
            key = match.group(3).lower()
            wrong = _put_service(source, key, environ[name], name)
        if wrong is not None:
            message, close = wrong
            known = f"known: {', '.join(sorted(_FIELDS))}" if "unknown" in message else None
            refused = _REFUSED_HINT if "cannot be used" in message else None
            hint = f"did you mean `{close}`?" if close else known or refused
            raise ConfigError(f"{name}: {message}", hint=hint, key=key)
    return source


def _from_file(path: Path) -> _Source:
    """Every setting of the file; its problems are collected and raised at once."""
    file = ConfigFile.read(path)
    source, problems = _Source(), []
    for section, values in file.document.items():
        at = file.position((str(section),))
        if section not in ("service", "kafka"):
            close = difflib.get_close_matches(str(section), ["service", "kafka"], n=1)
            problems.append(Problem(str(path), *at, f"unknown section `{section}`; the "
                                    "sections are `service` and `kafka`",
                                    suggestion=close[0] if close else None))
        elif not isinstance(values, dict):
            problems.append(Problem(str(path), *at, f"`{section}` must be a table of settings"))
        else:
            problems.extend(_file_section(file, source, section, values))
    if problems:
        raise file.error(problems)
    return source


def _file_section(file: ConfigFile, source: _Source, section: str,
                  values: Mapping[str, object]) -> list[Problem]:
    problems = []
    origin = str(file.path)
    for keys, value in _leaves(values, (section,)):
        key = ".".join(keys[1:])
        if section == "kafka":
            wrong = _put_kafka(source, _kafka_key(key), _kafka_value(value), origin)
        else:
            name = key.replace("-", "_").replace(".", "_").lower()
            wrong = _put_service(source, name, value, origin) or _check_value(name, value)
        if wrong is not None:
            message, close = wrong
            value_error = section == "service" and message.startswith(_WRONG_VALUE)
            at = file.position(keys, value=value_error)
            problems.append(Problem(origin, *at, message, suggestion=close))
    return problems


_WRONG_VALUE: Final = "wrong value"


def _check_value(name: str, value: object) -> tuple[str, str | None] | None:
    spec = _FIELDS[name]
    try:
        spec.parse(value)
    except ValueError as exc:
        return f"{_WRONG_VALUE} for {spec.what} (`{name}`): {exc}", None
    return None


def _leaves(values: Mapping[str, object], path: tuple[str, ...]
            ) -> Iterator[tuple[tuple[str, ...], object]]:
    """``{"bootstrap": {"servers": "k"}}`` (TOML's and YAML's reading of nested or dotted
    keys) -> ``(("bootstrap", "servers"), "k")``."""
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*path, str(key)))
        else:
            yield (*path, str(key)), value


def _kafka_key(key: str) -> str:
    return key.lower().replace("_", ".")


def _kafka_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _put_kafka(source: _Source, key: str, value: str, origin: str
               ) -> tuple[str, str | None] | None:
    """Record a client setting; or say why it cannot be set."""
    if key == "bootstrap.servers":
        source.service["bootstrap_servers"] = (value, origin)
        return None
    if key in _OWNED_KAFKA_KEYS:
        return f"`{key}` cannot be set: {_OWNED_KAFKA_KEYS[key]}", None
    refused = _refused_kafka_value(key, value)
    if refused is not None:
        return refused, None
    source.kafka[key] = (value, origin)
    return None


def _refused_kafka_value(key: str, value: str) -> str | None:
    """Why the service cannot work with ``key=value``, if it cannot (each entry of a list,
    such as ``range,cooperative-sticky``, counts).

    >>> _refused_kafka_value("partition.assignment.strategy", "range, roundrobin") is None
    True
    """
    for entry in value.split(","):
        why = _REFUSED_KAFKA_VALUES.get((key, entry.strip().lower()))
        if why is not None:
            return f"`{key}={value}` cannot be used: the service rebalances eagerly, and {why}"
    return None


def _put_service(source: _Source, key: str, value: object, origin: str
                 ) -> tuple[str, str | None] | None:
    """Record a service setting; or say that it is unknown, with the closest name."""
    if key not in _FIELDS:
        close = difflib.get_close_matches(key, list(_FIELDS), n=1)
        return f"unknown service setting `{key}`", close[0] if close else None
    source.service[key] = (value, origin)
    return None


# --- resolving ---------------------------------------------------------------------------


def _resolve(sources: list[_Source], config_file: Path | None) -> ServiceSettings:
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    for name, spec in _FIELDS.items():
        found = next((s.service[name] for s in sources if name in s.service), None)
        if found is None:
            if spec.default is None:
                continue
            found = (spec.default, "default")
        values[name] = _parse(name, spec, *found)
        origins[name] = found[1]
    for name in ("mappings", "group_id", "bootstrap_servers"):
        if name not in values:
            raise ConfigError(_missing(name, config_file), key=name,
                              hint="see `cdc-facts run --help` and docs/service.md")
    return _settings(values, origins, _client(sources))


def _parse(name: str, spec: _Field, value: object, origin: str) -> object:
    try:
        return spec.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{spec.what} (`{name}`, from {origin}) is wrong: {exc}",
                          key=name) from exc


def _client(sources: list[_Source]) -> tuple[tuple[str, str], ...]:
    merged: dict[str, str] = {}
    for source in reversed(sources):  # the strongest source is applied last
        merged.update({key: value for key, (value, _origin) in source.kafka.items()})
    return tuple(sorted(merged.items()))


def _settings(values: dict[str, Any], origins: dict[str, str],
              client: tuple[tuple[str, str], ...]) -> ServiceSettings:
    group = values["group_id"]
    interval = values["commit_interval_ms"]
    values.setdefault("instance_id", socket.gethostname() or "instance")
    values.setdefault("dead_letter_topic", f"{group}.dead-letter")
    values.setdefault("positions_topic", f"{group}.positions")
    values.setdefault("transaction_timeout_ms", max(10_000, interval + 10_000))
    if values["guarantee"] == "exactly-once":
        _check_transaction_timeout(values["transaction_timeout_ms"], interval, origins)
    kafka = KafkaSettings(values.pop("bootstrap_servers"), client)
    values["log_level"] = values["log_level"].upper()
    return ServiceSettings(kafka=kafka, origins=origins, **values)


def _check_transaction_timeout(timeout_ms: int, interval_ms: int,
                               origins: Mapping[str, str]) -> None:
    """A transaction must outlive its batch: the broker aborts one older than its timeout,
    and a batch stays open up to the commit interval (then takes time to commit)."""
    least = interval_ms + TRANSACTION_HEADROOM_MS
    if timeout_ms >= least:
        return
    timeout_from = origins.get("transaction_timeout_ms", "derived")
    interval_from = origins.get("commit_interval_ms", "default")
    raise ConfigError(
        f"the transaction timeout (`transaction_timeout_ms` = {timeout_ms}, from "
        f"{timeout_from}) must be at least the commit interval (`commit_interval_ms` = "
        f"{interval_ms}, from {interval_from}) plus {TRANSACTION_HEADROOM_MS} ms: the broker "
        "would abort a batch still open or committing when it times out",
        hint=f"set transaction_timeout_ms to {least} or more (unset, it is the commit "
             "interval plus 10000), or lower commit_interval_ms",
        key="transaction_timeout_ms")


def _missing(name: str, config_file: Path | None) -> str:
    spec = _FIELDS[name]
    section, key = ("kafka", "bootstrap.servers") if name == "bootstrap_servers" else (
        "service", name)
    env_key = key.replace(".", "_").upper()
    tried = [
        f"the option {spec.option}",
        f"the environment variable CDC_FACTS__{section.upper()}__{env_key} "
        f"(or CDC_FACTS_{section.upper()}__{env_key})",
        f"`{section}.{key}` in "
        + (str(config_file) if config_file else "a config file (none given with --config)"),
    ]
    return f"missing setting: {spec.what}; tried {', '.join(tried[:-1])} and {tried[-1]}"
