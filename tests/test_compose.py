"""The stack for machines with Docker: ``compose/`` and ``docs/compose.md``.

No Docker engine runs here, so most tests read the files: the compose model (interpolated
with its defaults, as ``docker compose`` would), the Connect worker settings, the init
scripts and the docs. They tie the compose stack to its two references: the versions
pinned in ``cdc_facts/local/stack-pom.xml`` and the local stack of ``cdc_facts.local``
(ports, worker settings, exported variables). ``compose/env.sh`` runs for real. The last
tests use Docker itself and run only where it is available.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pymysql
import pytest
import requests
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from ruamel.yaml import YAML

from cdc_facts.connect.client import ConnectClient
from cdc_facts.connectors.render import pg_name, render
from cdc_facts.connectors.spec import ConnectorSpec, parse_spec
from cdc_facts.local.java_services import DEBEZIUM_CONNECTORS, ConnectService
from cdc_facts.local.settings import SERVICES, LocalPorts, LocalStackSettings
from cdc_facts.local.stack import LocalStack
from cdc_facts.local.versions import stack_versions
from tests.stack.helpers import unique

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_SCRIPT = COMPOSE_DIR / "env.sh"
WORKER_PROPERTIES = COMPOSE_DIR / "connect" / "connect-distributed.properties"
CONNECT_DOCKERFILE = COMPOSE_DIR / "connect" / "Dockerfile"
DOCS = ROOT / "docs" / "compose.md"

STACK_SERVICES = ("kafka", "connect", "postgres", "mariadb", "apicurio")
#: Worker settings that hold addresses: they differ between the stacks by design.
ADDRESS_KEYS = {"bootstrap.servers", "listeners", "rest.advertised.host.name",
                "rest.advertised.port", "plugin.path"}


# --- compose variable interpolation -----------------------------------------------------------

_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def _substitute(match: re.Match[str], env: Mapping[str, str]) -> str:
    if match["escaped"]:
        return "$"
    name = match["braced"] or match["bare"]
    value, op, arg = env.get(name), match["op"], match["arg"] or ""
    is_set = value is not None and (value != "" or not (op or "").startswith(":"))
    if op in (":-", "-"):
        return value if is_set and value is not None else arg
    if op in (":?", "?"):
        if not is_set or value is None:
            raise KeyError(f"{name}: {arg}")
        return value
    if op in (":+", "+"):
        return arg if is_set else ""
    return value or ""


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Resolve ``${VAR}``, ``${VAR:-default}``... in every string value, as compose does."""
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: _substitute(m, env), value)
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    return value


def references(text: str) -> list[tuple[str, str | None]]:
    """Every ``(variable, default)`` a text refers to; ``$$`` escapes are not references."""
    found = []
    for match in _REFERENCE.finditer(text):
        name = match["braced"] or match["bare"]
        if name:
            default = match["arg"] if match["op"] in (":-", "-") else None
            found.append((name, default))
    return found


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    text = "${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$SET ${SET:+alt} $SET"
    assert interpolate(text, env) == "x d  d $SET alt x"
    with pytest.raises(KeyError, match="UNSET: needed"):
        interpolate("${UNSET:?needed}", env)


# --- fixtures ---------------------------------------------------------------------------------


def _load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    raw = YAML(typ="safe").load(COMPOSE_FILE.read_text())
    model = interpolate(raw, env)
    assert isinstance(model, dict)
    return model


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose model as ``docker compose up`` sees it with no variable set."""
    return _load_compose({})


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def docs() -> str:
    return DOCS.read_text()


def _published(services: Mapping[str, Mapping[str, Any]]) -> dict[int, tuple[str, int]]:
    """Host port -> (host address, container port) for every published port."""
    published = {}
    for spec in services["loopback"].get("ports", []):
        address, host_port, container_port = str(spec).split(":")
        published[int(host_port)] = (address, int(container_port))
    return published


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "write `environment:` as a mapping"
    return {key: str(value) for key, value in env.items()}


def _command_settings(service: Mapping[str, Any]) -> dict[str, str]:
    """``-c name=value`` (PostgreSQL) and ``--name=value`` (MariaDB) arguments, by name."""
    command = [str(arg) for arg in service["command"]]
    settings = {}
    for i, arg in enumerate(command):
        if arg == "-c":
            name, _, value = command[i + 1].partition("=")
            settings[name.replace("-", "_")] = value
        elif arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            settings[name.replace("-", "_")] = value
    return settings


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


# --- services, ports, healthchecks, start order -----------------------------------------------


def test_the_five_services_of_the_stack_exist(services: dict[str, Any]) -> None:
    assert set(STACK_SERVICES) <= set(services)
    assert set(services) - set(STACK_SERVICES) == {"loopback"}


def test_every_service_shares_the_loopback_namespace(services: dict[str, Any]) -> None:
    for name in STACK_SERVICES:
        assert services[name]["network_mode"] == "service:loopback", name
        assert "ports" not in services[name], f"{name}: publish ports on `loopback` only"


def test_published_ports_are_the_local_stack_ports(services: dict[str, Any]) -> None:
    local = LocalPorts()
    wanted = {local.kafka, local.connect, local.postgres, local.mariadb, local.registry}
    published = _published(services)
    assert set(published) == wanted
    for host_port, (address, container_port) in published.items():
        assert address == "127.0.0.1", "demo passwords must not reach the network"
        assert container_port == host_port, "one address for the host and the stack"


def test_published_ports_follow_the_port_variables() -> None:
    env = {"STACK_KAFKA_PORT": "29192", "STACK_POSTGRES_PORT": "25432"}
    services = _load_compose(env)["services"]
    published = _published(services)
    assert published[29192] == ("127.0.0.1", 29192)
    assert published[25432] == ("127.0.0.1", 25432)
    kafka = _environment(services["kafka"])
    assert "HOST://127.0.0.1:29192" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert _command_settings(services["postgres"])["port"] == "25432"


def test_every_stack_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name in STACK_SERVICES:
        check = services[name].get("healthcheck", {})
        test = check.get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        assert not check.get("disable"), name
        assert check.get("retries", 0) > 0 and check.get("interval"), name


def test_every_dependency_waits_on_a_condition(services: dict[str, Any]) -> None:
    for name in STACK_SERVICES:
        depends = services[name].get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: use the long form with a condition"
        for target, rule in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            assert rule["condition"] in ("service_started", "service_healthy"), name
    assert services["connect"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_connect_is_healthy_only_with_every_debezium_connector(services: dict[str, Any]) -> None:
    probe = " ".join(services["connect"]["healthcheck"]["test"][1:])
    assert f"127.0.0.1:{LocalPorts().connect}/connector-plugins" in probe
    for connector_class in DEBEZIUM_CONNECTORS:
        assert connector_class in probe


def test_apicurio_is_probed_on_its_ccompat_api(services: dict[str, Any]) -> None:
    probe = " ".join(services["apicurio"]["healthcheck"]["test"][1:])
    assert f"/dev/tcp/127.0.0.1/{LocalPorts().registry}" in probe
    assert "GET /apis/ccompat/v7/subjects" in probe


# --- the settings of each service -------------------------------------------------------------


def test_kafka_is_one_kraft_node_with_internal_topics_at_rf_1(services: dict[str, Any]) -> None:
    env = _environment(services["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"1@127.0.0.1:{LocalPorts().controller}"
    assert env["CLUSTER_ID"]
    for setting in ("OFFSETS_TOPIC_REPLICATION_FACTOR", "TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                    "TRANSACTION_STATE_LOG_MIN_ISR", "DEFAULT_REPLICATION_FACTOR",
                    "SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR"):
        assert env[f"KAFKA_{setting}"] == "1", setting


def _listeners(value: str) -> dict[str, str]:
    return dict(item.split("://", 1) for item in value.split(","))


def test_kafka_listens_for_the_host_and_for_containers(services: dict[str, Any]) -> None:
    env = _environment(services["kafka"])
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocol_map = env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    protocols = dict(item.split(":") for item in protocol_map.split(","))
    assert advertised == {"HOST": f"127.0.0.1:{LocalPorts().kafka}", "CONTAINERS": "kafka:29092"}
    assert listeners["HOST"] == f"0.0.0.0:{LocalPorts().kafka}"
    assert listeners["CONTAINERS"] == "0.0.0.0:29092"
    assert set(listeners) == set(protocols) == {"HOST", "CONTAINERS", "CONTROLLER"}
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert "kafka" in services["loopback"]["networks"]["default"]["aliases"]


def test_postgres_has_logical_wal_on_the_local_port(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    settings = _command_settings(postgres)
    assert postgres["command"][0] == "postgres"
    assert settings["wal_level"] == "logical"
    assert int(settings["max_wal_senders"]) >= 10
    assert int(settings["max_replication_slots"]) >= 10
    assert settings["port"] == _environment(postgres)["PGPORT"] == str(LocalPorts().postgres)


def test_mariadb_writes_a_full_row_binlog(services: dict[str, Any]) -> None:
    settings = _command_settings(services["mariadb"])
    assert settings["log_bin"]
    assert settings["binlog_format"] == "ROW"
    assert settings["binlog_row_image"] == "FULL"
    assert int(settings["server_id"]) > 0
    assert settings["port"] == str(LocalPorts().mariadb)


def test_apicurio_keeps_its_schemas_in_memory(services: dict[str, Any]) -> None:
    env = _environment(services["apicurio"])
    assert (env["APICURIO_STORAGE_KIND"], env["APICURIO_STORAGE_SQL_KIND"]) == ("sql", "h2")
    assert env["QUARKUS_HTTP_PORT"] == str(LocalPorts().registry)


def _without_addresses(worker: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in worker.items() if key not in ADDRESS_KEYS}


def test_connect_worker_settings_equal_the_local_stack_worker(tmp_path: Path) -> None:
    settings = LocalStackSettings(home=tmp_path / "home", cache=tmp_path / "cache")
    local = LocalStack(settings).service("connect")
    assert isinstance(local, ConnectService)
    local.provision()
    local_worker = _properties(local.properties.read_text())
    compose_worker = _properties(WORKER_PROPERTIES.read_text())
    assert compose_worker.keys() & ADDRESS_KEYS == {"plugin.path"}
    assert _without_addresses(compose_worker) == _without_addresses(local_worker)


def test_connect_worker_uses_json_converters_and_rf_1_topics() -> None:
    worker = _properties(WORKER_PROPERTIES.read_text())
    for side in ("key", "value"):
        assert worker[f"{side}.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    for topic in ("config", "offset", "status"):
        assert worker[f"{topic}.storage.replication.factor"] == "1"
    assert worker["plugin.path"] == "/opt/kafka/plugins"


def test_connect_start_script_adds_every_address(services: dict[str, Any]) -> None:
    script = (COMPOSE_DIR / "connect" / "start-connect.sh").read_text()
    for key in ADDRESS_KEYS - {"plugin.path"}:
        assert f'echo "{key}=' in script, key
    env = _environment(services["connect"])
    assert env["CONNECT_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{LocalPorts().kafka}"
    assert env["CONNECT_REST_PORT"] == str(LocalPorts().connect)
    assert "CONNECT_BOOTSTRAP_SERVERS" in script and "CONNECT_REST_PORT" in script


# --- pinned versions --------------------------------------------------------------------------


def test_image_tags_equal_the_pinned_versions(services: dict[str, Any]) -> None:
    pins = stack_versions()
    assert services["kafka"]["image"] == f"apache/kafka:{pins.kafka}"
    assert services["loopback"]["image"] == f"apache/kafka:{pins.kafka}"
    assert services["apicurio"]["image"] == f"apicurio/apicurio-registry:{pins.apicurio}"
    build_args = services["connect"]["build"]["args"]
    assert build_args == {"KAFKA_VERSION": pins.kafka, "DEBEZIUM_VERSION": pins.debezium}
    connect_tag = f"cdc-facts/connect:{pins.kafka}-debezium-{pins.debezium}"
    assert services["connect"]["image"] == connect_tag
    assert services["postgres"]["image"] == "postgres:15"
    assert re.fullmatch(r"mariadb:(10\.11|11\.\d+)", services["mariadb"]["image"])


def test_connect_dockerfile_defaults_equal_the_pinned_versions() -> None:
    pins = stack_versions()
    text = CONNECT_DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.MULTILINE))
    assert args["KAFKA_VERSION"] == pins.kafka
    assert args["DEBEZIUM_VERSION"] == pins.debezium
    assert re.search(r"^FROM apache/kafka:\$\{KAFKA_VERSION\}$", text, flags=re.MULTILINE)
    plugins = re.search(r"for connector in ([\w ]+);", text)
    assert plugins is not None and plugins[1].split() == ["postgres", "mysql", "mariadb"]
    assert "${artifact}-${DEBEZIUM_VERSION}-plugin.tar.gz" in text


# --- files the compose file refers to ---------------------------------------------------------


def test_every_mounted_file_and_build_context_exists(services: dict[str, Any]) -> None:
    mounted = 0
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            assert source.startswith("./"), f"{name}: mount files of compose/ only"
            assert (COMPOSE_DIR / source).is_file(), f"{name}: {source} is missing"
            mounted += 1
    assert mounted >= 4
    context = COMPOSE_DIR / services["connect"]["build"]["context"]
    assert (context / "Dockerfile").is_file()


def _script_mounted_at(service: Mapping[str, Any], folder: str) -> Path:
    for volume in service["volumes"]:
        source, target = str(volume).split(":")[:2]
        if target.startswith(folder):
            return COMPOSE_DIR / source
    raise AssertionError(f"no file mounted under {folder}")


def test_postgres_init_script_creates_the_replication_role(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    script = _script_mounted_at(postgres, "/docker-entrypoint-initdb.d/").read_text()
    assert "CREATE ROLE cdc WITH LOGIN REPLICATION PASSWORD :'cdc_password'" in script
    assert "CREATE DATABASE shop OWNER cdc" in script
    assert '--set cdc_password="$SHOP_DB_PASSWORD"' in script
    assert "ON_ERROR_STOP=1" in script
    assert _environment(postgres)["SHOP_DB_PASSWORD"] == "cdc-demo"


def test_mariadb_init_script_grants_what_debezium_needs(services: dict[str, Any]) -> None:
    mariadb = services["mariadb"]
    script = _script_mounted_at(mariadb, "/docker-entrypoint-initdb.d/").read_text()
    grant = re.search(r"GRANT (.+) ON \*\.\* TO 'cdc'@'%'", script)
    assert grant is not None
    privileges = {p.strip() for p in grant[1].split(",")}
    assert privileges == {"SELECT", "RELOAD", "SHOW DATABASES", "REPLICATION SLAVE",
                          "REPLICATION CLIENT"}
    assert "CREATE DATABASE IF NOT EXISTS shop" in script
    env = _environment(mariadb)
    for variable in ("MARIADB_CDC_PASSWORD", "MARIADB_ROOT_PASSWORD"):
        assert variable in script and env[variable], variable


@pytest.mark.parametrize("script", sorted(COMPOSE_DIR.rglob("*.sh")), ids=lambda p: p.name)
def test_shell_scripts_parse(script: Path) -> None:
    shell = "bash" if script.read_text().startswith("#!/usr/bin/env bash") else "sh"
    result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_mariadb_init_script_escapes_the_password(tmp_path: Path) -> None:
    script = (COMPOSE_DIR / "mariadb" / "initdb" / "10-cdc-user.sh").read_text()
    fake_client = tmp_path / "mariadb"
    fake_client.write_text("#!/bin/sh\ncat\n")
    fake_client.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "MARIADB_ROOT_PASSWORD": "root",
           "MARIADB_CDC_PASSWORD": "it's a \\ $HOME"}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "IDENTIFIED BY 'it\\'s a \\\\ $HOME';" in result.stdout


# --- variables, docs and env.sh ---------------------------------------------------------------


def _docs_variables(docs: str) -> dict[str, str]:
    """The variables table of docs/compose.md: name -> default."""
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| `([^`]*)` \|", docs, flags=re.MULTILINE)
    return dict(rows)


def _docs_exports(docs: str) -> list[str]:
    """The block of `export` lines the docs show for the default settings."""
    return re.findall(r"^export [A-Z_]+='[^']*'$", docs, flags=re.MULTILINE)


def _defaults(found: list[tuple[str, str | None]]) -> dict[str, set[str | None]]:
    by_name: dict[str, set[str | None]] = {}
    for name, default in found:
        by_name.setdefault(name, set()).add(default)
    return by_name


def _compose_references() -> list[tuple[str, str | None]]:
    """The variables the compose file's values refer to (comments are not interpolated)."""
    found: list[tuple[str, str | None]] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.extend(references(node))
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)

    walk(YAML(typ="safe").load(COMPOSE_FILE.read_text()))
    return found


def test_every_compose_variable_has_one_documented_default(docs: str) -> None:
    documented = _docs_variables(docs)
    used = _defaults(_compose_references())
    assert set(used) == set(documented)
    for name, defaults in used.items():
        assert defaults == {documented[name]}, f"{name}: {defaults} in compose, docs say " \
                                               f"{documented[name]}"


def test_env_script_reads_the_compose_variables_with_the_same_defaults(docs: str) -> None:
    documented = _docs_variables(docs)
    # Its own shell variables are lower case; the stack's come with a default.
    found = [(name, default) for name, default in references(ENV_SCRIPT.read_text())
             if default is not None]
    assert len(found) >= 9
    for name, defaults in _defaults(found).items():
        assert defaults == {documented[name]}, name


def test_documented_defaults_equal_the_pins_and_the_local_ports(docs: str) -> None:
    documented, pins, ports = _docs_variables(docs), stack_versions(), LocalPorts()
    assert documented["STACK_KAFKA_VERSION"] == pins.kafka
    assert documented["STACK_DEBEZIUM_VERSION"] == pins.debezium
    assert documented["STACK_APICURIO_VERSION"] == pins.apicurio
    for service in ("kafka", "controller", "connect", "postgres", "mariadb", "registry"):
        assert documented[f"STACK_{service.upper()}_PORT"] == str(getattr(ports, service))


def test_versions_named_in_the_docs_are_the_pinned_ones(docs: str) -> None:
    pins = stack_versions()
    named = {
        pins.kafka: re.findall(r"apache/kafka:([\w.]+)", docs),
        pins.apicurio: re.findall(r"apicurio/apicurio-registry:([\w.]+)", docs),
        pins.debezium: re.findall(r"Debezium (\d[\w.]+)", docs)
        + re.findall(r"quay.io/debezium/connect:([\w.]+)", docs),
    }
    for pin, versions in named.items():
        assert versions and set(versions) == {pin}, (pin, versions)


def _run_env_script(env: Mapping[str, str] | None = None) -> list[str]:
    clean = {"PATH": os.environ["PATH"], **(env or {})}
    result = subprocess.run(["sh", str(ENV_SCRIPT)], env=clean, capture_output=True,
                            text=True, check=True)
    return result.stdout.splitlines()


def _exports(lines: list[str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Evaluate `export` lines in a real shell and return what they set."""
    names = [line.split()[1].split("=")[0] for line in lines]
    script = "\n".join(lines) + "\n" + "".join(f'printf "%s\\0" "${n}"\n' for n in names)
    result = subprocess.run(["sh", "-c", script], env={"PATH": os.environ["PATH"], **(env or {})},
                            capture_output=True, text=True, check=True)
    return dict(zip(names, result.stdout.split("\0")[:-1], strict=True))


def test_env_script_prints_the_documented_block(docs: str) -> None:
    assert _run_env_script() == _docs_exports(docs)


def test_documented_addresses_are_published(docs: str, services: dict[str, Any]) -> None:
    exported = _exports(_docs_exports(docs))
    published = _published(services)
    ports = {urlsplit(value).port for name, value in exported.items() if "://" in value}
    ports.add(int(exported["CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS"].rsplit(":", 1)[1]))
    ports.add(int(exported["SHOP_DB_PORT"]))
    assert ports == set(published)


def test_env_script_exports_what_cdc_facts_local_env_exports(tmp_path: Path) -> None:
    settings = LocalStackSettings(home=tmp_path / "home", cache=tmp_path / "cache")
    stack = LocalStack(settings)
    local_names = {name for service in SERVICES for name in stack.service(service).env()}
    compose_names = set(_exports(_run_env_script()))
    assert compose_names == local_names - {"CDC_FACTS_HOME"}


def test_env_script_follows_ports_and_passwords() -> None:
    env = {"STACK_KAFKA_PORT": "29192", "STACK_CONNECT_PORT": "28083",
           "STACK_POSTGRES_PORT": "25432", "SHOP_DB_PASSWORD": "s3cret",
           "STACK_MARIADB_CDC_PASSWORD": "m4"}
    exported = _exports(_run_env_script(env))
    assert exported["CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS"] == "127.0.0.1:29192"
    assert exported["CDC_FACTS_CONNECT_URL"] == "http://127.0.0.1:28083"
    assert exported["CDC_FACTS_POSTGRES_CDC_DSN"] == "postgresql://cdc:s3cret@127.0.0.1:25432/shop"
    assert exported["SHOP_DB_PORT"] == "25432"
    assert exported["CDC_FACTS_MARIADB_CDC_DSN"] == "mysql://cdc:m4@127.0.0.1:13306/shop"


def test_env_script_quotes_values_for_the_shell() -> None:
    password = "it's $HOME `id` \\"
    exported = _exports(_run_env_script({"SHOP_DB_PASSWORD": password}))
    assert exported["SHOP_DB_PASSWORD"] == password


def test_demo_passwords_are_defaults_only() -> None:
    found = _compose_references()
    for name, default in found:
        assert default is not None, f"{name} needs a default so `up` works out of the box"
    secrets = {"SHOP_DB_PASSWORD", "STACK_POSTGRES_PASSWORD", "STACK_MARIADB_ROOT_PASSWORD",
               "STACK_MARIADB_CDC_PASSWORD"}
    assert secrets <= {name for name, _ in found}
    env = {name: f"from-env-{i}" for i, name in enumerate(sorted(secrets))}
    overridden = _load_compose(env)["services"]
    values = {v for s in overridden.values() for v in _environment(s).values()}
    assert set(env.values()) <= values


# --- with Docker ------------------------------------------------------------------------------


def _docker(*args: str, timeout: float = 30, env: Mapping[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(env) if env is not None else None, check=False)


def docker_engine_available() -> bool:
    """True when a Docker engine answers (not merely when the `docker` CLI is installed)."""
    if shutil.which("docker") is None:
        return False
    try:
        return _docker("info", "--format", "{{.ServerVersion}}", timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def docker_compose_available() -> bool:
    """True when the Compose v2 plugin (`docker compose`) is installed."""
    if shutil.which("docker") is None:
        return False
    try:
        return _docker("compose", "version", timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not docker_compose_available(),
                    reason="Docker Compose v2 is not installed: `docker compose config` "
                           "cannot validate the file here")
def test_docker_compose_accepts_the_file() -> None:
    result = _docker("compose", "-f", str(COMPOSE_FILE), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert '"network_mode": "service:loopback"' in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def compose_stack() -> Iterator[dict[str, str]]:
    """The compose stack, up on free ports under its own project name; removed afterwards."""
    ports = {f"STACK_{name}_PORT": str(_free_port())
             for name in ("KAFKA", "CONTROLLER", "CONNECT", "POSTGRES", "MARIADB", "REGISTRY")}
    env = {**os.environ, **ports}
    project = ["compose", "-p", f"cdc-facts-test-{uuid.uuid4().hex[:8]}", "-f", str(COMPOSE_FILE)]
    try:
        up = _docker(*project, "up", "-d", "--build", "--wait", "--wait-timeout", "900",
                     timeout=1200, env=env)
        logs = _docker(*project, "logs", "--tail", "50", env=env).stdout if up.returncode else ""
        assert up.returncode == 0, up.stderr + logs
        yield _exports(_run_env_script(env))
    finally:
        _docker(*project, "down", "-v", "--remove-orphans", timeout=300, env=env)


def _get_json(url: str) -> Any:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return response.json()


_PROBE_DDL = "CREATE TABLE {} (id INT PRIMARY KEY, note VARCHAR(40))"
_SIGNAL_DDL = ("CREATE TABLE {} (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, "
               "data VARCHAR(2048))")
_SPEC = """\
name: {name}
kind: {kind}
database:
  host: ${{PROBE_DB_HOST}}
  port: ${{PROBE_DB_PORT}}
  name: {database}
  user: ${{PROBE_DB_USER}}
  password: ${{PROBE_DB_PASSWORD}}
tables: [{schema}.{table}]
signal_table: {schema}.{table}_signal
"""


def _probe_spec(name: str, kind: str, dsn: str, schema: str) -> ConnectorSpec:
    """A spec for the probe table, connecting with the DSN's own host, port and user."""
    parts = urlsplit(dsn)
    text = _SPEC.format(name=name, kind=kind, database=parts.path.lstrip("/"), schema=schema,
                        table=name.replace("-", "_"))
    variables = {"PROBE_DB_HOST": str(parts.hostname), "PROBE_DB_PORT": str(parts.port),
                 "PROBE_DB_USER": str(parts.username), "PROBE_DB_PASSWORD": str(parts.password)}
    return parse_spec(text, env=variables)


def _mariadb(dsn: str) -> pymysql.connections.Connection[Any]:
    parts = urlsplit(dsn)
    return pymysql.connect(host=parts.hostname, port=parts.port, user=parts.username,
                           password=parts.password, database=parts.path.lstrip("/"),
                           autocommit=True)


def _drop_slot(conn: psycopg.Connection[Any], slot: str, timeout: float = 30.0) -> None:
    """Drop a replication slot once the removed connector has let go of it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                           (slot,)).fetchone()
        if row is None:
            return
        if not row[0]:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            return
        time.sleep(0.5)
    raise AssertionError(f"replication slot {slot} still active after {timeout:.0f}s")


@contextmanager
def _postgres_probe(dsn: str, name: str) -> Iterator[ConnectorSpec]:
    """A table with one row in PostgreSQL, and a spec that captures it; removed afterwards."""
    spec = _probe_spec(name, "postgres", dsn, "public")
    table, signal = spec.tables[0], spec.signal_table
    with psycopg.connect(dsn, autocommit=True) as conn:
        # As the DSN's user (the demo's `cdc` owns `shop`): a filtered publication is
        # created by the owner of its tables.
        conn.execute(_PROBE_DDL.format(table))
        conn.execute(_SIGNAL_DDL.format(signal))
        conn.execute(f"INSERT INTO {table} VALUES (1, 'hello')")
    try:
        yield spec
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            _drop_slot(conn, pg_name(name, "slot"))
            conn.execute(f'DROP PUBLICATION IF EXISTS "{pg_name(name, "pub")}"')
            conn.execute(f"DROP TABLE IF EXISTS {table}, {signal}")


@contextmanager
def _mariadb_probe(dsn: str, name: str) -> Iterator[ConnectorSpec]:
    """A table with one row in MariaDB, and a spec that captures it; removed afterwards."""
    spec = _probe_spec(name, "mariadb", dsn, urlsplit(dsn).path.lstrip("/"))
    table, signal = spec.tables[0], spec.signal_table
    conn = _mariadb(dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute(_PROBE_DDL.format(table))
            cursor.execute(_SIGNAL_DDL.format(signal))
            cursor.execute(f"INSERT INTO {table} VALUES (1, 'hello')")
        yield spec
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}, {signal}")
        conn.close()


def _first_change(bootstrap: str, topic: str, timeout: float = 120.0) -> dict[str, Any]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("probe"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None and message.value():
                return dict(json.loads(message.value())["payload"])
    finally:
        consumer.close()
    raise AssertionError(f"no change record on {topic} within {timeout:.0f}s")


def _delete_topics(bootstrap: str, connector: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [t for t in admin.list_topics(timeout=30).topics if connector in t]
    for future in admin.delete_topics(topics).values() if topics else ():
        future.result()


def _capture(env: Mapping[str, str], spec: ConnectorSpec) -> dict[str, Any]:
    """Register the connector in Connect, read its first change, then remove it all."""
    bootstrap = env["CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS"]
    client = ConnectClient(env["CDC_FACTS_CONNECT_URL"])
    client.put_config(spec.name, render(spec, kafka_bootstrap=bootstrap))
    try:
        client.wait_running(spec.name, timeout=180)
        return _first_change(bootstrap, f"{spec.name}.{spec.tables[0]}")
    finally:
        _remove(client, spec.name)
        _delete_topics(bootstrap, spec.name)


def _remove(client: ConnectClient, name: str, timeout: float = 60.0) -> None:
    """Stop the connector, wait until its tasks are gone (they write no more), delete it."""
    client.stop(name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.status(name)
        if status["connector"]["state"] == "STOPPED" and not status["tasks"]:
            break
        time.sleep(0.5)
    client.delete(name)


def check_stack(env: Mapping[str, str], *, registry: bool = True) -> None:
    """Check a running stack through the variables `cdc-facts local env` or `env.sh` print.

    Debezium in Connect captures both databases at the host and port the DSNs give, as the
    host sees them; the MariaDB connector keeps its schema history at the host's Kafka
    address. This works only when the host and Connect see the same addresses.
    """
    admin = AdminClient({"bootstrap.servers": env["CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS"]})
    assert admin.list_topics(timeout=30).brokers

    plugins = {p["class"] for p in _get_json(f"{env['CDC_FACTS_CONNECT_URL']}/connector-plugins")}
    assert set(DEBEZIUM_CONNECTORS) <= plugins

    pg_dsn, mariadb_dsn = env["CDC_FACTS_POSTGRES_CDC_DSN"], env["CDC_FACTS_MARIADB_CDC_DSN"]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
        row = conn.execute("SELECT rolreplication FROM pg_roles WHERE rolname = 'cdc'").fetchone()
        assert row == (True,)

    conn = _mariadb(mariadb_dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image")
            assert cursor.fetchone() == (1, "ROW", "FULL")
    finally:
        conn.close()

    if registry:
        assert isinstance(_get_json(f"{env['CDC_FACTS_REGISTRY_URL']}/subjects"), list)

    suffix = uuid.uuid4().hex[:8]
    probes = ((_postgres_probe, pg_dsn, "pg"), (_mariadb_probe, mariadb_dsn, "maria"))
    for probe, dsn, kind in probes:
        with probe(dsn, f"compose-probe-{kind}-{suffix}") as spec:
            change = _capture(env, spec)
        assert (change["op"], change["after"]["id"]) == ("r", 1), change


@pytest.mark.mariadb
def test_the_stack_checks_pass_on_the_local_stack(stack: Any, mariadb_cdc_dsn: str) -> None:
    """The checks of the Docker run below, on the local stack: they run wherever the suite
    runs, and the two stacks answer them alike."""
    env = {"CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
           "CDC_FACTS_CONNECT_URL": stack.connect_url,
           "CDC_FACTS_POSTGRES_CDC_DSN": stack.pg_cdc_dsn,
           "CDC_FACTS_MARIADB_CDC_DSN": mariadb_cdc_dsn,
           "CDC_FACTS_REGISTRY_URL": stack.registry_url or ""}
    check_stack(env, registry=bool(stack.registry_url))


@pytest.mark.skipif(not docker_engine_available(),
                    reason="no Docker engine on this machine: the compose stack cannot start here")
@pytest.mark.timeout(1800)
def test_compose_stack_serves_what_env_sh_points_at(compose_stack: dict[str, str]) -> None:
    check_stack(compose_stack)
