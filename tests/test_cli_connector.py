"""``cdc-facts connector ...`` and ``cdc-facts preflight``: offline, then against the stack."""

from __future__ import annotations

import json
import logging
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Consumer

from cdc_facts.cli import cli
from cdc_facts.connect import ConnectClient, Status
from tests.test_preflight_support import (
    PgDatabase,
    create_orders,
    my_database,
    pg_database,
    unique,
    write_mapping,
    write_my_spec,
    write_pg_spec,
)

SECRET = "s3cr3t-Pa55"
SPEC = """\
name: shop
kind: postgres
database:
  host: db.internal
  name: shop
  user: cdc
  password: ${CLI_TEST_PASSWORD}
tables: [public.orders]
"""


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run the CLI; a wide terminal keeps rich from wrapping the lines tests look for."""
    wide: dict[str, str | None] = {"COLUMNS": "400", **(env or {})}
    return CliRunner().invoke(cli, list(args), env=wide, catch_exceptions=False)


def all_text(result: Result) -> str:
    return result.stdout + result.stderr


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(SPEC)
    return path


ENV: dict[str, str | None] = {"CLI_TEST_PASSWORD": SECRET}


# --- offline -----------------------------------------------------------------------------


def test_render_masks_secrets(spec: Path) -> None:
    result = invoke("connector", "render", str(spec), env=ENV)
    assert result.exit_code == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["database.password"] == "****"
    assert config["slot.name"] == "shop_slot"
    assert SECRET not in all_text(result)


def test_render_show_secrets(spec: Path) -> None:
    result = invoke("connector", "render", str(spec), "--show-secrets", env=ENV)
    assert json.loads(result.stdout)["database.password"] == SECRET


def test_spec_problems_exit_1_with_positions(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.replace("kind: postgres", "kind: postgress")
                    .replace("${CLI_TEST_PASSWORD}", "literal-pw-99"))
    result = invoke("connector", "render", str(path), env=ENV)
    assert result.exit_code == 1
    assert "ConnectorSpecError: 2 problems:" in result.stderr
    assert f"{path}:2:7: unknown kind `postgress`" in result.stderr
    assert f"{path}:7:13: `database.password` is a secret" in result.stderr
    assert "literal-pw-99" not in all_text(result)


def test_spec_problems_mask_a_secret_used_in_another_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.replace("  host: db.internal", "  host: db.internal\n"
                                 "  port: ${CLI_TEST_PASSWORD}"))
    result = invoke("connector", "render", str(path), env=ENV)
    assert result.exit_code == 1
    assert f"{path}:5:9: database.port `****` is not a port number" in result.stderr
    assert SECRET not in all_text(result)


def test_missing_variable_named(spec: Path) -> None:
    result = invoke("connector", "render", str(spec), env={"CLI_TEST_PASSWORD": None})
    assert result.exit_code == 1
    assert "environment variable CLI_TEST_PASSWORD is not set" in result.stderr


def test_mysql_render_needs_bootstrap(tmp_path: Path) -> None:
    path = tmp_path / "my.yaml"
    path.write_text(SPEC.replace("postgres", "mysql").replace("public.", "shop."))
    result = invoke("connector", "render", str(path),
                    env={**ENV, "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": None})
    assert result.exit_code == 1 and "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS" in result.stderr
    result = invoke("connector", "render", str(path),
                    env={**ENV, "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": "k:9092"})
    assert json.loads(result.stdout)["schema.history.internal.kafka.bootstrap.servers"] == "k:9092"


def test_snapshot_rejects_bad_filter_and_table_before_any_request(spec: Path) -> None:
    offline = {**ENV, "CDC_FACTS_CONNECT_URL": "http://127.0.0.1:9"}
    result = invoke("connector", "snapshot", "shop", "--table", "public.orders",
                    "--filter", "status = ", "--spec", str(spec), env=offline)
    assert result.exit_code == 2 and "is not valid SQL" in result.stderr
    result = invoke("connector", "snapshot", "shop", "--table", "public.orders",
                    "--filter", "DROP TABLE x", "--spec", str(spec), env=offline)
    assert result.exit_code == 2 and "must be a condition" in result.stderr
    result = invoke("connector", "snapshot", "shop", "--table", "public.nope",
                    "--spec", str(spec), env=offline)
    assert result.exit_code == 2 and "is not captured" in result.stderr


def test_remove_drop_slot_needs_spec() -> None:
    result = invoke("connector", "remove", "shop", "--drop-slot")
    assert result.exit_code == 2 and "--drop-slot needs --spec" in result.stderr


def test_preflight_unsupported_kind(tmp_path: Path) -> None:
    path = tmp_path / "ss.yaml"
    path.write_text(SPEC.replace("postgres", "sqlserver").replace("public.", "dbo."))
    result = invoke("preflight", str(path), env=ENV)
    assert result.exit_code == 1
    assert "preflight checks postgres, mariadb, mysql databases, not sqlserver" in result.stderr


# --- against the stack -------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(pg_dsn: str) -> Iterator[PgDatabase]:
    with pg_database(pg_dsn) as database:
        yield database


@pytest.fixture
def client(connect_url: str) -> Iterator[ConnectClient]:
    """The Connect client; removes every connector a test registered under ``pf_`` names."""
    connect = ConnectClient(connect_url)
    before = set(connect.connectors())
    yield connect
    for name in set(connect.connectors()) - before:
        if name.startswith("pf_"):
            connect.delete(name)


@pytest.fixture
def stack_env(db: PgDatabase, connect_url: str, kafka_bootstrap: str) -> dict[str, str | None]:
    return {"PF_DB_PASSWORD": db.password, "CDC_FACTS_CONNECT_URL": connect_url,
            "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CDC_FACTS_PREFLIGHT_ADMIN_DSN": db.admin_dsn}


def ready_spec(db: PgDatabase, tmp_path: Path, env: dict[str, str | None], *,
               snapshot: str = "initial") -> tuple[str, str, Path]:
    """A captured schema whose preflight passes (fixed by the CLI): name, schema, spec."""
    schema, name = unique("s"), unique("pf")
    create_orders(db, schema, identity="FULL")
    spec = write_pg_spec(tmp_path / f"{name}.yaml", db, name, [f"{schema}.orders"])
    spec.write_text(spec.read_text().replace("snapshot: initial", f"snapshot: {snapshot}"))
    fixed = invoke("preflight", str(spec), "--fix", env=env)
    assert fixed.exit_code == 0, all_text(fixed)
    return name, schema, spec


def wait_for(client: ConnectClient, name: str, check: Callable[[Status], bool],
             timeout: float = 60) -> Status:
    deadline = time.monotonic() + timeout
    while True:
        status = client.status(name)
        if check(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def state(status: Status) -> tuple[str, list[str]]:
    return status["connector"]["state"], [t["state"] for t in status.get("tasks", [])]


def test_preflight_cli_fails_naming_rule_then_fix_then_passes(
    db: PgDatabase, tmp_path: Path, stack_env: dict[str, str | None]
) -> None:
    schema, name = unique("s"), unique("pf")
    create_orders(db, schema)
    spec = write_pg_spec(tmp_path / "spec.yaml", db, name, [f"{schema}.orders"])
    write_mapping(tmp_path / "m", name, f"{schema}.orders",
                  when="op = 'u' AND before.status <> after.status")
    first = invoke("preflight", str(spec), "-m", str(tmp_path / "m"), "--json", env=stack_env)
    assert first.exit_code == 1
    checks = {(c["check"], c["subject"]): c for c in json.loads(first.stdout)["checks"]}
    identity = checks[("replica identity", f"{schema}.orders")]
    assert identity["status"] == "fail"
    assert "rule sales.StatusChanged.v1 reads before.status" in identity["observed"]

    fixed = invoke("preflight", str(spec), "-m", str(tmp_path / "m"), "--fix", env=stack_env)
    assert fixed.exit_code == 0, all_text(fixed)
    assert f'ALTER TABLE "{schema}"."orders" REPLICA IDENTITY FULL;' in fixed.stderr
    again = invoke("preflight", str(spec), "-m", str(tmp_path / "m"), env=stack_env)
    assert again.exit_code == 0 and "0 failed" in again.stdout
    for result in (first, fixed, again):
        assert db.password not in all_text(result)


def test_register_is_idempotent_and_lifecycle_round_trips(
    db: PgDatabase, tmp_path: Path, client: ConnectClient, stack_env: dict[str, str | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    name, _, spec = ready_spec(db, tmp_path, stack_env)
    outputs: list[Result] = []
    with caplog.at_level(logging.DEBUG):
        first = invoke("connector", "register", str(spec), env=stack_env)
        outputs.append(first)
        assert first.exit_code == 0, all_text(first)
        assert f"created connector {name}" in first.stdout
        second = invoke("connector", "register", str(spec), "--json", env=stack_env)
        outputs.append(second)
        assert second.exit_code == 0, all_text(second)
        assert json.loads(second.stdout)["action"] == "updated"
    assert client.connectors().count(name) == 1
    assert state(client.status(name)) == ("RUNNING", ["RUNNING"])

    for verb, expected in (("pause", "PAUSED"), ("resume", "RUNNING"), ("stop", "STOPPED"),
                           ("resume", "RUNNING")):
        outputs.append(invoke("connector", verb, name, env=stack_env))
        assert outputs[-1].exit_code == 0, all_text(outputs[-1])
        reached = wait_for(client, name, lambda s, e=expected: s["connector"]["state"] == e)
        assert reached["connector"]["state"] == expected, (verb, reached)
    outputs.append(invoke("connector", "restart", name, "--all", env=stack_env))
    assert outputs[-1].exit_code == 0
    # The status topic may still say RUNNING for a moment: let the restart show first.
    wait_for(client, name, lambda s: "RESTARTING" in str(s), timeout=10)
    running = wait_for(client, name, lambda s: state(s) == ("RUNNING", ["RUNNING"]))
    assert state(running) == ("RUNNING", ["RUNNING"])

    for args in (("status", name, "--json"), ("status",), ("offsets", name, "--json"),
                 ("render", str(spec)), ("validate", str(spec))):
        outputs.append(invoke("connector", *args, env=stack_env))
        assert outputs[-1].exit_code == 0, (args, all_text(outputs[-1]))
    assert json.loads(outputs[-5].stdout)["connector"]["state"] == "RUNNING"

    removed = invoke("connector", "remove", name, "--drop-slot", "--spec", str(spec),
                     env=stack_env)
    outputs.append(removed)
    assert removed.exit_code == 0, all_text(removed)
    assert name not in client.connectors()
    with db.admin() as conn:
        slots = conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s",
                             (f"{name}_slot",)).fetchone()
        pubs = conn.execute("SELECT count(*) FROM pg_publication WHERE pubname = %s",
                            (f"{name}_pub",)).fetchone()
    assert (slots, pubs) == ((0,), (0,))
    for result in outputs:
        assert db.password not in all_text(result)
    assert db.password not in caplog.text


def test_wrong_password_is_reported_with_its_cause_and_masked(
    db: PgDatabase, tmp_path: Path, client: ConnectClient, stack_env: dict[str, str | None]
) -> None:
    name, _, spec = ready_spec(db, tmp_path, stack_env)
    wrong = {**stack_env, "PF_DB_PASSWORD": "Wr0ng-pa55word"}
    result = invoke("connector", "register", str(spec), "--skip-preflight", env=wrong)
    assert result.exit_code == 1
    assert "password authentication failed" in result.stderr
    assert "Wr0ng-pa55word" not in all_text(result)
    assert name not in client.connectors()


def test_failed_task_trace_is_shown(
    db: PgDatabase, tmp_path: Path, client: ConnectClient, stack_env: dict[str, str | None]
) -> None:
    schema, name = unique("s"), unique("pf")
    create_orders(db, schema, identity="FULL")
    with db.admin() as conn:  # the role owns the table but may not create a publication
        conn.execute(f'ALTER TABLE "{schema}".orders OWNER TO "{db.user}"'.encode())
    spec = write_pg_spec(tmp_path / "spec.yaml", db, name, [f"{schema}.orders"])
    result = invoke("connector", "register", str(spec), "--skip-preflight", "--timeout", "60",
                    env=stack_env)
    assert result.exit_code == 1, all_text(result)
    assert f"ConnectorFailedError: task 0 of connector `{name}` FAILED" in result.stderr
    assert "task trace:" in result.stderr
    assert "permission denied for database" in result.stderr
    status = invoke("connector", "status", name, env=stack_env)
    assert "FAILED" in status.stdout


def consume_snapshot_ids(bootstrap: str, topic: str, expected: set[int]) -> set[int]:
    """Ids of op=r records on ``topic``; stops 5 s after ``expected`` were all seen."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("pf_g"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen: set[int] = set()
    deadline, settle = time.monotonic() + 90, None
    try:
        while time.monotonic() < (settle or deadline):
            msg = consumer.poll(0.5)
            if msg is None or msg.error() or msg.value() is None:
                continue
            payload: dict[str, Any] = json.loads(msg.value())["payload"]
            if payload["op"] == "r":
                seen.add(int(payload["after"]["id"]))
            if settle is None and expected <= seen:
                settle = time.monotonic() + 5
    finally:
        consumer.close()
    return seen


def test_adhoc_snapshot_reads_only_filtered_rows(
    db: PgDatabase, tmp_path: Path, client: ConnectClient, stack_env: dict[str, str | None],
    kafka_bootstrap: str,
) -> None:
    name, schema, spec = ready_spec(db, tmp_path, stack_env, snapshot="no_data")
    with db.admin() as conn:
        conn.execute(textwrap.dedent(f"""\
            INSERT INTO "{schema}".orders (id, status) VALUES
              (1, 'open'), (2, 'closed'), (3, 'open'), (4, 'closed')""").encode())
    registered = invoke("connector", "register", str(spec), env=stack_env)
    assert registered.exit_code == 0, all_text(registered)

    result = invoke("connector", "snapshot", name, "--table", f"{schema}.orders",
                    "--filter", "status = 'open'", "--spec", str(spec), env=stack_env)
    assert result.exit_code == 0, all_text(result)
    assert "incremental snapshot" in result.stdout
    ids = consume_snapshot_ids(kafka_bootstrap, f"{name}.{schema}.orders", {1, 3})
    assert ids == {1, 3}


def test_validate_lists_errors_per_setting(
    db: PgDatabase, tmp_path: Path, stack_env: dict[str, str | None]
) -> None:
    schema, name = unique("s"), unique("pf")
    create_orders(db, schema, identity="FULL")
    spec = write_pg_spec(tmp_path / "spec.yaml", db, name, [f"{schema}.orders"],
                         extra="options:\n  decimal.handling.mode: exactish\n")
    result = invoke("connector", "validate", str(spec), "--json", env=stack_env)
    assert result.exit_code == 1, all_text(result)
    errors = json.loads(result.stdout)["errors"]
    assert list(errors) == ["decimal.handling.mode"]
    assert "must be one of string, double, precise" in errors["decimal.handling.mode"][0]


@pytest.mark.mariadb
def test_mariadb_register_and_filtered_snapshot(
    mariadb_dsn: str, tmp_path: Path, client: ConnectClient, connect_url: str,
    kafka_bootstrap: str,
) -> None:
    with my_database(mariadb_dsn) as my:
        with my.admin().cursor() as cur:
            cur.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, status VARCHAR(20))")
            cur.execute("INSERT INTO orders VALUES (1, 'open'), (2, 'closed'), (3, 'open')")
        name = unique("pf")
        spec = write_my_spec(tmp_path / "my.yaml", my, name, [f"{my.name}.orders"])
        spec.write_text(spec.read_text() + "snapshot: no_data\n")
        env: dict[str, str | None] = {
            "PF_DB_PASSWORD": my.password, "CDC_FACTS_CONNECT_URL": connect_url,
            "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CDC_FACTS_PREFLIGHT_ADMIN_DSN": mariadb_dsn,
        }
        fixed = invoke("preflight", str(spec), "--fix", env=env)
        assert fixed.exit_code == 0, all_text(fixed)
        try:
            registered = invoke("connector", "register", str(spec), env=env)
            assert registered.exit_code == 0, all_text(registered)
            result = invoke("connector", "snapshot", name, "--table", f"{my.name}.orders",
                            "--filter", "status = 'open'", "--spec", str(spec), env=env)
            assert result.exit_code == 0, all_text(result)
            topic = f"{name}.{my.name}.orders"
            assert consume_snapshot_ids(kafka_bootstrap, topic, {1, 3}) == {1, 3}
            for output in (fixed, registered, result):
                assert my.password not in all_text(output)
        finally:
            if name in client.connectors():
                client.delete(name)
