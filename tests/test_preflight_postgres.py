"""Preflight against the real PostgreSQL of the stack: each check fails and passes for real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdc_facts.connectors import load_spec, render
from cdc_facts.errors import PreflightError
from cdc_facts.preflight import Check, Report, run_preflight
from cdc_facts.rules import load_mappings
from tests.test_preflight_support import (
    PgDatabase,
    create_orders,
    pg_database,
    unique,
    write_mapping,
    write_pg_spec,
)

pytestmark = pytest.mark.stack

SHIPPED = "op = 'u' AND before.status <> after.status"


@pytest.fixture(scope="module")
def db(pg_dsn: str) -> Iterator[PgDatabase]:
    with pg_database(pg_dsn) as database:
        yield database


@pytest.fixture
def env(db: PgDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PF_DB_PASSWORD", db.password)


def preflight(spec_path: Path, mappings: Path | None = None, **kwargs: object) -> Report:
    spec = load_spec(spec_path)
    rules = load_mappings([mappings]) if mappings else None
    return run_preflight(spec, render(spec), rules, **kwargs)  # type: ignore[arg-type]


def by_label(report: Report) -> dict[str, Check]:
    return {c.label: c for c in report.checks}


def prepared(db: PgDatabase, tmp_path: Path, *, identity: str = "DEFAULT",
             when: str = SHIPPED, data: str | None = None,
             mode: str = "disabled") -> tuple[str, str, Path, Path]:
    """A schema with orders, its spec and a mapping.

    The connector's role does not own the tables, so Debezium's `filtered` publication mode
    cannot work: the spec sets `publication.autocreate.mode` (`disabled` unless told).
    """
    schema, name = unique("s"), unique("pf").replace("_", "-")
    create_orders(db, schema, identity=identity)
    spec = write_pg_spec(tmp_path / "spec.yaml", db, name, [f"{schema}.orders"],
                         extra=f"options:\n  publication.autocreate.mode: {mode}\n")
    extra = {"data": data} if data else {}
    mappings = tmp_path / "mappings"
    write_mapping(mappings, name, f"{schema}.orders", when=when, **extra)
    return schema, name, spec, mappings


def test_replica_identity_default_fails_naming_rule_then_fix_then_pass(
    db: PgDatabase, env: None, tmp_path: Path
) -> None:
    schema, _, spec, mappings = prepared(db, tmp_path)
    label = f"replica identity {schema}.orders"
    check = by_label(preflight(spec, mappings))[label]
    assert check.status == "fail"
    assert "rule sales.StatusChanged.v1 reads before.status" in check.observed

    fixed = preflight(spec, mappings, fix=True, admin_dsn=db.admin_dsn)
    assert f'ALTER TABLE "{schema}"."orders" REPLICA IDENTITY FULL' in fixed.applied
    assert fixed.ok, [c for c in fixed.failures]

    again = preflight(spec, mappings)
    assert by_label(again)[label].status == "pass"
    assert again.ok and not again.applied
    with db.admin() as conn:
        ident = conn.execute(f"SELECT relreplident FROM pg_class WHERE oid = '{schema}.orders'"
                             "::regclass".encode()).fetchone()
    assert ident == ("f",)


def test_fresh_schema_fails_publication_and_signal_then_fix_passes(
    db: PgDatabase, env: None, tmp_path: Path
) -> None:
    schema, name, spec, mappings = prepared(db, tmp_path, identity="FULL")
    found = by_label(preflight(spec, mappings))
    assert found[f"signal table {schema}.debezium_signal"].status == "fail"
    publication = render(load_spec(spec))["publication.name"]
    assert found[f"publication {publication}"].status == "fail", "mode disabled: nobody creates it"
    for passing in ("server version", "wal_level", "replication slots", "wal senders",
                    "replication privilege", f"primary key {schema}.orders",
                    f"replica identity {schema}.orders", f"columns {schema}.orders"):
        assert found[passing].status == "pass", found[passing]

    report = preflight(spec, mappings, fix=True, admin_dsn=db.admin_dsn)
    assert report.ok, report.failures
    assert len(report.applied) == 3, report.applied
    with db.admin() as conn:
        tables = conn.execute("SELECT schemaname || '.' || tablename FROM pg_publication_tables "
                              "WHERE pubname = %s", (publication,)).fetchall()
    assert sorted(t for (t,) in tables) == [f"{schema}.debezium_signal", f"{schema}.orders"]


def test_fix_without_ownership_names_the_statement(
    db: PgDatabase, env: None, tmp_path: Path
) -> None:
    _, _, spec, mappings = prepared(db, tmp_path)
    with pytest.raises(PreflightError, match="fix failed: .*REPLICA IDENTITY FULL") as info:
        preflight(spec, mappings, fix=True)
    assert info.value.hint is not None and "--admin-dsn" in info.value.hint


def test_missing_column_and_table(db: PgDatabase, env: None, tmp_path: Path) -> None:
    schema, name, _, _ = prepared(db, tmp_path, when="after.stauts = 'x'")
    spec = write_pg_spec(tmp_path / "two.yaml", db, name, [f"{schema}.orders", f"{schema}.order"])
    found = by_label(preflight(spec, tmp_path / "mappings"))
    column = found[f"column exists {schema}.orders"]
    assert column.status == "fail" and "did you mean `status`?" in column.remedy
    table = found[f"table exists {schema}.order"]
    assert table.status == "fail" and f"`{schema}.orders`" in table.remedy


def test_column_type_against_fact_field(db: PgDatabase, env: None, tmp_path: Path) -> None:
    schema, *_ , spec, mappings = prepared(
        db, tmp_path, identity="FULL", when="op = 'u'",
        data="total: {expr: after.total, type: integer}",
    )
    check = by_label(preflight(spec, mappings))[f"column type {schema}.orders"]
    assert check.status == "fail"
    assert "total is numeric(10,2)" in check.observed and "type integer" in check.observed


def test_toastable_column_without_full_warns(db: PgDatabase, env: None, tmp_path: Path) -> None:
    schema, *_, spec, mappings = prepared(db, tmp_path, when="after.note IS NOT NULL")
    found = by_label(preflight(spec, mappings))
    assert found[f"replica identity {schema}.orders"].status == "pass"
    toast = found[f"toast {schema}.orders"]
    assert toast.status == "warn" and "after.note" in toast.observed


def test_select_privilege_missing(db: PgDatabase, env: None, tmp_path: Path) -> None:
    schema, name = unique("s"), unique("pf")
    create_orders(db, schema, grant=False)
    spec = write_pg_spec(tmp_path / "spec.yaml", db, name, [f"{schema}.orders"])
    check = by_label(preflight(spec))[f"select privilege {schema}.orders"]
    assert check.status == "fail" and "GRANT SELECT" in check.remedy


def test_publication_missing_a_table_is_fixed(db: PgDatabase, env: None, tmp_path: Path) -> None:
    schema, _, spec, _ = prepared(db, tmp_path, identity="FULL")
    publication = render(load_spec(spec))["publication.name"]
    with db.admin() as conn:
        conn.execute(f'CREATE PUBLICATION "{publication}" FOR TABLE "{schema}".orders'.encode())
    try:
        check = by_label(preflight(spec))[f"publication {publication}"]
        assert check.status == "fail" and f"lacks {schema}.debezium_signal" in check.observed
        report = preflight(spec, fix=True, admin_dsn=db.admin_dsn)
        assert by_label(report)[f"publication {publication}"].status == "pass"
    finally:
        with db.admin() as conn:
            conn.execute(f'DROP PUBLICATION IF EXISTS "{publication}"'.encode())


def test_filtered_publication_fails_when_the_role_owns_no_table(
    db: PgDatabase, env: None, tmp_path: Path
) -> None:
    _, _, spec, _ = prepared(db, tmp_path, identity="FULL", mode="filtered")
    publication = render(load_spec(spec))["publication.name"]
    check = by_label(preflight(spec))[f"publication {publication}"]
    assert check.status == "fail" and check.fix == ()
    assert "ALTER PUBLICATION ... SET TABLE" in check.observed
    assert "publication.autocreate.mode: disabled" in check.remedy


def test_filtered_publication_of_another_owner_is_given_to_the_role(
    db: PgDatabase, env: None, tmp_path: Path
) -> None:
    schema, _, spec, _ = prepared(db, tmp_path, identity="FULL", mode="filtered")
    publication = render(load_spec(spec))["publication.name"]
    signal = (f'CREATE TABLE "{schema}".debezium_signal (id varchar(42) PRIMARY KEY, '
              "type varchar(32) NOT NULL, data varchar(2048) NULL)")
    with db.admin() as conn:
        conn.execute(signal.encode())
        for table in ("orders", "debezium_signal"):
            conn.execute(f'ALTER TABLE "{schema}".{table} OWNER TO "{db.user}"'.encode())
        conn.execute(f'CREATE PUBLICATION "{publication}" FOR TABLE "{schema}".orders'.encode())
    try:
        check = by_label(preflight(spec))[f"publication {publication}"]
        assert check.status == "fail" and check.observed.startswith("owned by ")
        assert check.fix == (f'ALTER PUBLICATION "{publication}" OWNER TO "{db.user}"',)
        report = preflight(spec, fix=True, admin_dsn=db.admin_dsn)
        assert by_label(report)[f"publication {publication}"].status == "pass"
        with db.admin() as conn:
            owner = conn.execute("SELECT pg_get_userbyid(pubowner) FROM pg_publication "
                                 "WHERE pubname = %s", (publication,)).fetchone()
        assert owner == (db.user,)
    finally:
        with db.admin() as conn:
            conn.execute(f'DROP PUBLICATION IF EXISTS "{publication}"'.encode())


def test_partitioned_table_needs_its_root_in_the_publication(
    db: PgDatabase, env: None, tmp_path: Path
) -> None:
    schema, name = unique("s"), unique("pf")
    create_orders(db, schema, identity="FULL")
    with db.admin() as conn:
        conn.execute(f'CREATE TABLE "{schema}".events (id bigint, at date, PRIMARY KEY (id, at))'
                     " PARTITION BY RANGE (at)".encode())
        conn.execute(f'CREATE TABLE "{schema}".events_2024 PARTITION OF "{schema}".events '
                     "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')".encode())
        conn.execute(f'GRANT SELECT ON "{schema}".events TO "{db.user}"'.encode())
    spec = write_pg_spec(tmp_path / "spec.yaml", db, name, [f"{schema}.events"],
                         extra="options:\n  publication.autocreate.mode: disabled\n")
    publication = render(load_spec(spec))["publication.name"]
    with db.admin() as conn:
        conn.execute(f'CREATE PUBLICATION "{publication}" FOR TABLE "{schema}".events'.encode())
    try:
        found = by_label(preflight(spec))
        assert found[f"replica identity {schema}.events"].status == "pass"
        check = found[f"publication {publication}"]
        assert check.status == "fail" and "publish_via_partition_root is off" in check.observed
        assert f"lacks {schema}.events" not in check.observed, "the parent is in it"
        report = preflight(spec, fix=True, admin_dsn=db.admin_dsn)
        assert by_label(report)[f"publication {publication}"].status == "pass", report.failures
        with db.admin() as conn:
            via_root = conn.execute("SELECT pubviaroot FROM pg_publication WHERE pubname = %s",
                                    (publication,)).fetchone()
        assert via_root == (True,)
    finally:
        with db.admin() as conn:
            conn.execute(f'DROP PUBLICATION IF EXISTS "{publication}"'.encode())


@pytest.mark.parametrize(("plugin", "status"), [("pgoutput", "warn"), ("test_decoding", "fail")])
def test_existing_slot(db: PgDatabase, env: None, tmp_path: Path, plugin: str,
                       status: str) -> None:
    _, _, spec, _ = prepared(db, tmp_path, identity="FULL")
    slot = render(load_spec(spec))["slot.name"]
    with db.admin() as conn:
        conn.execute("SELECT pg_create_logical_replication_slot(%s, %s)", (slot, plugin))
    try:
        check = by_label(preflight(spec))[f"replication slot {slot}"]
        assert check.status == status
        if status == "warn":
            assert check.observed.startswith("inactive, holding back ")
            assert "B of WAL" in check.observed
    finally:
        with db.admin() as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def test_role_without_replication(pg_dsn: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with pg_database(pg_dsn, replication=False) as plain:
        monkeypatch.setenv("PF_DB_PASSWORD", plain.password)
        schema = unique("s")
        create_orders(plain, schema)
        spec = write_pg_spec(tmp_path / "spec.yaml", plain, unique("pf"), [f"{schema}.orders"])
        check = by_label(preflight(spec))["replication privilege"]
        assert check.status == "fail" and "WITH REPLICATION" in check.remedy


def test_wrong_password_is_refused_without_echoing_it(
    db: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PF_DB_PASSWORD", "not-the-password-42")
    spec = write_pg_spec(tmp_path / "spec.yaml", db, unique("pf"), ["public.x"])
    with pytest.raises(PreflightError, match="refused the connection") as info:
        preflight(spec)
    assert "not-the-password-42" not in str(info.value)
