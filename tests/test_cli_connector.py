"""``cdc-facts connector ...`` and ``cdc-facts preflight``: offline, then against the stack."""

from __future__ import annotations

import base64
import json
import logging
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
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
                    env={**ENV, "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": None,
                         "CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS": None})
    assert result.exit_code == 1 and "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS" in result.stderr
    result = invoke("connector", "render", str(path),
                    env={**ENV, "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": "k:9092",
                         "CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS": None})
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


def test_preflight_unsupported_kind_prints_the_message_literally(tmp_path: Path) -> None:
    path = tmp_path / "ss.yaml"
    path.write_text(SPEC.replace("postgres", "sqlserver").replace("public.", "dbo."))
    result = invoke("preflight", str(path), env={**ENV, "COLUMNS": "30"})
    assert result.exit_code == 1
    # not cut at 30 columns: one line holds the whole message
    assert "PreflightError: preflight checks postgres, mariadb, mysql databases, not " \
        "sqlserver\n" in result.stderr


def test_preflight_unsupported_kind(tmp_path: Path) -> None:
    path = tmp_path / "ss.yaml"
    path.write_text(SPEC.replace("postgres", "sqlserver").replace("public.", "dbo."))
    result = invoke("preflight", str(path), env=ENV)
    assert result.exit_code == 1
    assert "preflight checks postgres, mariadb, mysql databases, not sqlserver" in result.stderr


@pytest.mark.parametrize("variables", [
    {"CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS": "two:1", "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": None},
    {"CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS": None, "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": "one:1"},
    {"CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS": "two:1", "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": "one:1"},
])
def test_both_spellings_of_the_bootstrap_variable_work_and_two_underscores_win(
        variables: dict[str, str | None]) -> None:
    example = Path(__file__).resolve().parent.parent / "connectors/examples/mariadb-inventory.yaml"
    result = invoke("connector", "render", str(example),
                    env={"INVENTORY_DB_PASSWORD": "inv-pa55", **variables})
    assert result.exit_code == 0, result.stderr
    expected = variables["CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS"] or "one:1"
    assert json.loads(result.stdout)["schema.history.internal.kafka.bootstrap.servers"] == expected


# --- against a fake Connect worker -------------------------------------------------------


class FakeConnect:
    """A Kafka Connect REST API on a free localhost port: ``routes`` maps ``"GET /path"``
    to ``(status, body)``; every request is recorded with its Authorization header."""

    def __init__(self, routes: dict[str, tuple[int, object]]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                request = f"{self.command} {self.path}"
                fake.requests.append((request, self.headers.get("Authorization")))
                status, body = fake.routes.get(request, (404, {"message": f"no {request}"}))
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeConnect:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


TRACE_SECRET = "tr4ce-Pa55"
FAILED_STATUS = {
    "name": "legacy-shop", "type": "source",
    "connector": {"state": "RUNNING", "worker_id": "w:8083"},
    "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w:8083",
               "trace": f"org.apache.kafka.connect.errors.ConnectException: login with "
                        f"{TRACE_SECRET} failed\n\tat x\nCaused by: jdbc:postgresql://cdc:"
                        f"{TRACE_SECRET}@db/shop refused"}],
}
STORED_CONFIG = {"name": "legacy-shop", "database.password": TRACE_SECRET,
                 "database.user": "cdc"}


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cdc_facts.connect.client.time.sleep", lambda _seconds: None)


@pytest.mark.parametrize("args", [("status", "legacy-shop"), ("status", "legacy-shop", "--json"),
                                  ("status", "--json"), ("restart", "legacy-shop")])
def test_status_masks_the_secrets_of_the_connectors_config(args: tuple[str, ...]) -> None:
    routes: dict[str, tuple[int, object]] = {
        "GET /connectors/legacy-shop/config": (200, STORED_CONFIG),
        "GET /connectors/legacy-shop/status": (200, FAILED_STATUS),
        "GET /connectors?expand=info": (200, {"legacy-shop": {"info": {"config": STORED_CONFIG}}}),
        "GET /connectors?expand=status": (200, {"legacy-shop": {"status": FAILED_STATUS}}),
        "POST /connectors/legacy-shop/restart?includeTasks=true&onlyFailed=true":
            (202, FAILED_STATUS),
    }
    with FakeConnect(routes) as fake:
        result = invoke("connector", *args, env={"CDC_FACTS_CONNECT_URL": fake.url})
    assert result.exit_code == 0, all_text(result)
    assert "FAILED" in result.stdout
    assert TRACE_SECRET not in all_text(result)
    if "--json" in args:
        assert "login with ****" in result.stdout


def test_credentials_in_the_connect_url_are_used_and_never_shown(no_sleep: None) -> None:
    routes: dict[str, tuple[int, object]] = {
        "GET /connectors/shop/config": (200, {}),
        "GET /connectors/shop/status": (500, {"message": "no luck for admin:hunter2x"}),
    }
    with FakeConnect(routes) as fake:
        url = fake.url.replace("http://", "http://admin:hunter2x@")
        result = invoke("connector", "status", "shop", env={"CDC_FACTS_CONNECT_URL": url})
    assert result.exit_code == 3
    assert "Kafka Connect answered GET /connectors/shop/status with 500" in result.stderr
    assert "hunter2x" not in all_text(result)
    sent = base64.b64encode(b"admin:hunter2x").decode()
    assert {auth for _request, auth in fake.requests} == {f"Basic {sent}"}


def test_an_unreachable_connect_url_never_shows_its_password(no_sleep: None) -> None:
    result = invoke("connector", "pause", "shop",
                    env={"CDC_FACTS_CONNECT_URL": "http://admin:hunter2x@127.0.0.1:9"})
    assert result.exit_code == 3
    assert "Kafka Connect at http://127.0.0.1:9 is unreachable" in result.stderr
    assert "hunter2x" not in all_text(result)


def test_409_is_retried_with_a_line_per_retry_and_a_hint_of_its_own(no_sleep: None) -> None:
    rebalance = (409, {"message": "Cannot complete request momentarily due to stale config"})
    with FakeConnect({"PUT /connectors/shop/pause": rebalance}) as fake:
        result = invoke("connector", "pause", "shop", env={"CDC_FACTS_CONNECT_URL": fake.url})
    assert result.exit_code == 3
    retries = [line for line in result.stderr.splitlines() if "; retry " in line]
    assert len(retries) == 5 and retries[0].endswith("retry 1 of 5 in 0.5s")
    assert "hint: Kafka Connect is rebalancing; try again shortly" in result.stderr
    assert "running?" not in result.stderr


@pytest.mark.parametrize(("url", "shown"), [
    ("127.0.0.1:8083", "`127.0.0.1:8083` is not an http:// or https:// URL"),
    ("ftp://connect:8083", "`ftp://connect:8083` is not an http:// or https:// URL"),
    ("admin:hunter2x@connect:8083", "`****@connect:8083` is not"),
    ("http://connect:99999", "with a host and a valid port"),
])
def test_a_connect_url_that_cannot_work_is_a_usage_error(url: str, shown: str) -> None:
    result = invoke("connector", "status", "--connect-url", url)
    assert result.exit_code == 2
    assert shown in result.stderr
    assert "hunter2x" not in all_text(result) and "Traceback" not in all_text(result)


def test_a_missing_ca_bundle_is_a_usage_error() -> None:
    result = invoke("connector", "status", "--connect-ca", "/nonexistent.pem")
    assert result.exit_code == 2 and "'/nonexistent.pem' does not exist" in result.stderr


def test_remove_checks_the_admin_dsn_before_deleting_and_never_shows_it(spec: Path) -> None:
    with FakeConnect({"GET /connectors/shop": (200, {"name": "shop"}),
                      "DELETE /connectors/shop": (204, b"")}) as fake:
        result = invoke("connector", "remove", "shop", "--drop-slot", "--spec", str(spec),
                        "--admin-dsn", "postgresql://admin:my secret@h/db",
                        env={**ENV, "CDC_FACTS_CONNECT_URL": fake.url})
    assert result.exit_code == 2
    assert "the admin DSN is not a valid PostgreSQL connection string" in result.stderr
    assert "secret" not in all_text(result)
    assert fake.requests == []


@pytest.mark.parametrize("extra", [("--drop-slot",), ()])
def test_remove_refuses_a_spec_of_another_connector_before_deleting(
        spec: Path, extra: tuple[str, ...]) -> None:
    with FakeConnect({"GET /connectors/legacy-shop": (200, {"name": "legacy-shop"}),
                      "DELETE /connectors/legacy-shop": (204, b"")}) as fake:
        result = invoke("connector", "remove", "legacy-shop", *extra, "--spec", str(spec),
                        env={**ENV, "CDC_FACTS_CONNECT_URL": fake.url})
    assert result.exit_code == 2, all_text(result)
    assert "the spec is for connector `shop`, not `legacy-shop`" in result.stderr
    assert fake.requests == []


def test_preflight_lock_timeout_must_not_be_negative(spec: Path) -> None:
    result = invoke("preflight", str(spec), "--lock-timeout", "-1", env=ENV)
    assert result.exit_code == 2
    assert "Invalid value for '--lock-timeout'" in result.stderr


def test_remove_names_the_admin_dsn_host_never_its_password(spec: Path) -> None:
    with FakeConnect({"GET /connectors/shop": (404, {"message": "not found"})}) as fake:
        result = invoke("connector", "remove", "shop", "--drop-slot", "--spec", str(spec),
                        "--admin-dsn", "postgresql://admin:my%20s3cret@127.0.0.1:9/shopdb",
                        env={**ENV, "CDC_FACTS_CONNECT_URL": fake.url})
    assert result.exit_code == 3, all_text(result)
    assert "PostgreSQL at 127.0.0.1:9/shopdb cannot be reached" in result.stderr
    assert "s3cret" not in all_text(result)


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


# The role does not own the tables, so Debezium's `filtered` publication mode cannot alter
# the publication: preflight --fix creates it as the admin, and the connector only uses it.
DISABLED = "options:\n  publication.autocreate.mode: disabled\n"


def ready_spec(db: PgDatabase, tmp_path: Path, env: dict[str, str | None], *,
               snapshot: str = "initial") -> tuple[str, str, Path]:
    """A captured schema whose preflight passes (fixed by the CLI): name, schema, spec."""
    schema, name = unique("s"), unique("pf")
    create_orders(db, schema, identity="FULL")
    spec = write_pg_spec(tmp_path / f"{name}.yaml", db, name, [f"{schema}.orders"],
                         extra=DISABLED)
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
    spec = write_pg_spec(tmp_path / "spec.yaml", db, name, [f"{schema}.orders"],
                         extra=DISABLED)
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
