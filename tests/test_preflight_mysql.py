"""Preflight against the real MariaDB of the stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdc_facts.connectors import load_spec, render
from cdc_facts.errors import PreflightError
from cdc_facts.preflight import Check, Report, run_preflight
from cdc_facts.rules import load_mappings
from tests.test_preflight_support import (
    MyDatabase,
    my_database,
    unique,
    write_mapping,
    write_my_spec,
)

pytestmark = [pytest.mark.stack, pytest.mark.mariadb]


@pytest.fixture(scope="module")
def db(mariadb_dsn: str) -> Iterator[MyDatabase]:
    with my_database(mariadb_dsn) as database:
        with database.admin().cursor() as cur:
            cur.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, status VARCHAR(20) NOT NULL, "
                        "total DECIMAL(10, 2), payload JSON)")
            cur.execute("CREATE TABLE notes (body TEXT)")
        yield database


@pytest.fixture
def env(db: MyDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PF_DB_PASSWORD", db.password)


def preflight(spec_path: Path, mappings: Path | None = None, **kwargs: object) -> Report:
    spec = load_spec(spec_path)
    rules = load_mappings([mappings]) if mappings else None
    config = render(spec, kafka_bootstrap="unused:9092")
    return run_preflight(spec, config, rules, **kwargs)  # type: ignore[arg-type]


def by_label(report: Report) -> dict[str, Check]:
    return {c.label: c for c in report.checks}


def test_server_settings_and_grants_pass(db: MyDatabase, env: None, tmp_path: Path) -> None:
    spec = write_my_spec(tmp_path / "s.yaml", db, unique("pf"), [f"{db.name}.orders"])
    found = by_label(preflight(spec))
    for name in ("server version", "log_bin", "binlog_format", "binlog_row_image", "server_id",
                 "gtid", "grants", f"primary key {db.name}.orders"):
        assert found[name].status == "pass", found[name]


def test_signal_table_is_created_by_fix(
    db: MyDatabase, env: None, tmp_path: Path, mariadb_dsn: str
) -> None:
    spec = write_my_spec(tmp_path / "s.yaml", db, unique("pf"), [f"{db.name}.orders"])
    label = f"signal table {db.name}.debezium_signal"
    check = by_label(preflight(spec))[label]
    assert check.status == "fail" and check.fix
    report = preflight(spec, fix=True, admin_dsn=mariadb_dsn)
    assert by_label(report)[label].status == "pass"
    assert report.ok, report.failures
    with db.admin().cursor() as cur:
        cur.execute("SHOW COLUMNS FROM debezium_signal")
        assert [r[0] for r in cur.fetchall()] == ["id", "type", "data"]


def test_missing_column_table_key_and_type(db: MyDatabase, env: None, tmp_path: Path) -> None:
    name = unique("pf")
    tables = [f"{db.name}.orders", f"{db.name}.notes", f"{db.name}.order"]
    spec = write_my_spec(tmp_path / "s.yaml", db, name, tables)
    write_mapping(tmp_path / "m", name, f"{db.name}.orders", when="after.stauts = 'x'",
                  data="total: {expr: after.total, type: integer}")
    found = by_label(preflight(spec, tmp_path / "m"))
    assert "did you mean `status`?" in found[f"column exists {db.name}.orders"].remedy
    assert found[f"column type {db.name}.orders"].status == "fail"
    assert found[f"primary key {db.name}.notes"].status == "fail"
    assert found[f"table exists {db.name}.order"].status == "fail"


def test_json_column_fills_json_field(db: MyDatabase, env: None, tmp_path: Path) -> None:
    name = unique("pf")
    spec = write_my_spec(tmp_path / "s.yaml", db, name, [f"{db.name}.orders"])
    write_mapping(tmp_path / "m", name, f"{db.name}.orders", when="op = 'c'",
                  data="payload: {expr: after.payload, type: json}")
    found = by_label(preflight(spec, tmp_path / "m"))
    assert f"column type {db.name}.orders" not in found
    assert found[f"columns {db.name}.orders"].status == "pass"


def test_missing_grants(mariadb_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with my_database(mariadb_dsn, grants="SELECT") as weak:
        monkeypatch.setenv("PF_DB_PASSWORD", weak.password)
        with weak.admin().cursor() as cur:
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        spec = write_my_spec(tmp_path / "s.yaml", weak, unique("pf"), [f"{weak.name}.t"])
        check = by_label(preflight(spec))["grants"]
        assert check.status == "fail"
        assert "RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT" in check.observed
        assert "GRANT RELOAD" in check.remedy


def test_wrong_password(db: MyDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PF_DB_PASSWORD", "wrong-secret-77")
    spec = write_my_spec(tmp_path / "s.yaml", db, unique("pf"), [f"{db.name}.orders"])
    with pytest.raises(PreflightError, match="refused the connection") as info:
        preflight(spec)
    assert "wrong-secret-77" not in str(info.value)
