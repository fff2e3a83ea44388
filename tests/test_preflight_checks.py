"""Preflight checks as pure functions of a catalog, the target and what the rules need."""

from __future__ import annotations

from dataclasses import dataclass, replace

import psycopg
import pytest

from cdc_facts.errors import DatabaseUnavailableError, PreflightError
from cdc_facts.preflight import Target, admin_params, parse_dsn, postgres, read_rules
from cdc_facts.preflight.columns import Column, compatible, mysql_family, pg_family
from cdc_facts.preflight.model import Check, Report
from cdc_facts.preflight.mysql import MyCatalog, mysql_checks, parse_grants
from cdc_facts.preflight.needs import ColumnRead, TableNeeds
from cdc_facts.preflight.postgres import postgres_checks
from cdc_facts.preflight.postgres_catalog import PgCatalog, Publication, Slot
from cdc_facts.preflight.tables import TableInfo
from cdc_facts.rules.model import FieldSpec, Mapping, Rule, RuleSet, SourceSpec

# --- a rule set built from plain objects -------------------------------------------------


@dataclass(frozen=True)
class Ref:
    scope: str
    column: str
    line: int = 1
    col: int = 1


@dataclass(frozen=True)
class Expr:
    sql: str
    references: tuple[Ref, ...]

    def evaluate(self, change: object) -> object:
        raise NotImplementedError

    def explain(self, change: object) -> list[tuple[str, object]]:
        raise NotImplementedError


def expr(sql: str, *refs: str) -> Expr:
    return Expr(sql, tuple(Ref(*r.split(".", 1)) for r in refs))


def rule(name: str, when: Expr, fields: tuple[FieldSpec, ...] = ()) -> Rule:
    return Rule("sales", name, 1, when, expr("after.id", "after.id"), "sales.facts", fields)


SHIPPED = rule(
    "OrderShipped",
    expr("before.status <> after.status", "before.status", "after.status"),
    (FieldSpec("status", expr("after.status", "after.status"), "string"),
     FieldSpec("total", expr("after.total", "after.total"), "integer")),
)
NOTED = rule("OrderNoted", expr("after.note IS NOT NULL", "after.note"))
DELETED = rule("OrderDeleted", expr("op = 'd' AND row.customer_id > 0", "row.customer_id"))


def ruleset(*rules: Rule, before_image: str = "full", connector: str = "shop") -> RuleSet:
    source = SourceSpec(connector, "public.orders", before_image, ())  # type: ignore[arg-type]
    return RuleSet((Mapping("orders.yaml", "sales", "team", source, rules),))


def test_read_rules_collects_reads_and_typed_fields() -> None:
    needs = read_rules(ruleset(SHIPPED), "shop")
    orders = needs["public.orders"]
    assert orders.before_image == "full"
    assert ColumnRead("sales.OrderShipped.v1", "before", "status") in orders.reads
    assert ColumnRead("sales.OrderShipped.v1", "after", "total", "total", "integer") in orders.reads
    assert orders.columns() == {"id", "status", "total"}
    assert read_rules(ruleset(SHIPPED), "other") == {}


# --- PostgreSQL --------------------------------------------------------------------------


def col(name: str, typname: str, toastable: bool = False) -> Column:
    return Column(name, typname, pg_family(typname), toastable)


ORDERS = TableInfo(
    "public.orders", True, ("id",),
    {"id": col("id", "int8"), "status": col("status", "text", True),
     "total": col("total", "numeric"), "note": col("note", "text", True),
     "customer_id": col("customer_id", "int8")},
    replica_identity="d",
)
SIGNAL = TableInfo("public.debezium_signal", True, ("id",),
                   {c: col(c, "varchar", True) for c in ("id", "type", "data")}, "d")
TARGET = Target("shop", "cdc", ("public.orders",), "public.debezium_signal",
                "shop_pub", "shop_slot")


def pg(**changes: object) -> PgCatalog:
    catalog = PgCatalog(
        150000, "15.4", "logical", 10, 1, 10, 1, "cdc", "shop",
        superuser=False, replication=True, can_create=True,
        tables={"public.orders": ORDERS, "public.debezium_signal": SIGNAL},
        owned={"public.orders", "public.debezium_signal"},
    )
    return replace(catalog, **changes)  # type: ignore[arg-type]


def checks(catalog: PgCatalog, rules: RuleSet | None = None) -> dict[str, Check]:
    needs = read_rules(rules, "shop") if rules else {}
    return {c.label: c for c in postgres_checks(catalog, TARGET, needs)}


def test_healthy_database_passes_everything() -> None:
    found = checks(pg(), ruleset(NOTED))
    assert {c.status for c in found.values() if c.name != "toast"} == {"pass"}


def test_wal_level_fails_with_restart_remedy_and_no_fix() -> None:
    check = checks(pg(wal_level="replica"))["wal_level"]
    assert (check.status, check.observed) == ("fail", "replica")
    assert "restart" in check.remedy and check.fix == ()


def test_version() -> None:
    assert checks(pg(version=90600, version_text="9.6"))["server version"].status == "fail"
    assert checks(pg(version=110000, version_text="11"))["server version"].status == "warn"


def test_no_free_slot_fails_unless_ours_exists() -> None:
    assert checks(pg(used_slots=10))["replication slots"].status == "fail"
    ours = Slot("shop_slot", "pgoutput", "shop", True, 100)
    assert checks(pg(used_slots=10, slot=ours))["replication slots"].status == "pass"


def test_no_free_wal_sender() -> None:
    check = checks(pg(used_senders=10))["wal senders"]
    assert check.status == "fail" and "max_wal_senders" in check.remedy


def test_replication_privilege() -> None:
    check = checks(pg(replication=False))["replication privilege"]
    assert check.status == "fail"
    assert 'ALTER ROLE "cdc" WITH REPLICATION' in check.remedy
    rds = checks(pg(replication=False, rds_replication=True))["replication privilege"]
    assert rds.status == "pass" and "rds_replication" in rds.observed


def test_replica_identity_default_fails_naming_rule_and_column() -> None:
    check = checks(pg(), ruleset(SHIPPED))["replica identity public.orders"]
    assert check.status == "fail"
    assert "rule sales.OrderShipped.v1 reads before.status" in check.observed
    assert check.fix == ('ALTER TABLE "public"."orders" REPLICA IDENTITY FULL',)


def test_replica_identity_full_passes() -> None:
    full = replace(ORDERS, replica_identity="f")
    catalog = pg(tables={"public.orders": full, "public.debezium_signal": SIGNAL})
    found = checks(catalog, ruleset(SHIPPED))
    assert found["replica identity public.orders"].status == "pass"
    assert "toast public.orders" not in found, "FULL delivers unchanged TOASTed values"


def test_before_image_keys_means_no_full_needed() -> None:
    found = checks(pg(), ruleset(NOTED, before_image="keys"))
    assert found["replica identity public.orders"].status == "pass"


def test_row_reads_on_default_warn() -> None:
    check = checks(pg(), ruleset(DELETED))["replica identity public.orders"]
    assert check.status == "warn" and "row.customer_id" in check.observed


def test_replica_identity_nothing_fails_even_without_rules() -> None:
    nothing = replace(ORDERS, replica_identity="n")
    check = checks(pg(tables={"public.orders": nothing, "public.debezium_signal": SIGNAL}))[
        "replica identity public.orders"]
    assert check.status == "fail"
    assert check.fix == ('ALTER TABLE "public"."orders" REPLICA IDENTITY DEFAULT',)


def test_toastable_column_read_without_full_warns() -> None:
    check = checks(pg(), ruleset(NOTED))["toast public.orders"]
    assert check.status == "warn"
    assert "rule sales.OrderNoted.v1 reads after.note" in check.observed


def test_missing_column_fails_with_suggestion() -> None:
    typo = rule("Typo", expr("after.statsu = 'x'", "after.statsu"))
    check = checks(pg(), ruleset(typo))["column exists public.orders"]
    assert check.status == "fail"
    assert "no column `statsu`, read by sales.Typo.v1" in check.observed
    assert "did you mean `status`?" in check.remedy


def test_incompatible_column_type_fails() -> None:
    check = checks(pg(), ruleset(SHIPPED))["column type public.orders"]
    assert check.status == "fail"
    assert "total is numeric" in check.observed and "type integer" in check.observed


def test_missing_table_suggests_neighbour() -> None:
    missing = TableInfo("public.orders", False, neighbours=("public.order", "public.customers"))
    check = checks(pg(tables={"public.orders": missing, "public.debezium_signal": SIGNAL}))[
        "table exists public.orders"]
    assert check.status == "fail" and "`public.order`" in check.remedy


def test_table_without_key() -> None:
    keyless = replace(ORDERS, primary_key=())
    catalog = pg(tables={"public.orders": keyless, "public.debezium_signal": SIGNAL})
    assert checks(catalog)["primary key public.orders"].status == "fail"
    declared = RuleSet((Mapping("o.yaml", "sales", "t",
                                SourceSpec("shop", "public.orders", "full", ("id",)), (NOTED,)),))
    assert checks(catalog, declared)["primary key public.orders"].status == "pass"


def test_select_privilege() -> None:
    hidden = replace(ORDERS, can_select=False)
    check = checks(pg(tables={"public.orders": hidden, "public.debezium_signal": SIGNAL}))[
        "select privilege public.orders"]
    assert check.status == "fail" and "GRANT SELECT" in check.remedy


def test_rules_on_uncaptured_table_fail_coverage() -> None:
    other = RuleSet((Mapping("c.yaml", "sales", "t",
                             SourceSpec("shop", "public.customers"), (NOTED,)),))
    check = checks(pg(), other)["rules coverage"]
    assert check.status == "fail" and "public.customers" in check.observed


def test_absent_signal_table_has_create_and_grant_fix() -> None:
    absent = TableInfo("public.debezium_signal", False)
    check = checks(pg(tables={"public.orders": ORDERS, "public.debezium_signal": absent}))[
        "signal table public.debezium_signal"]
    assert check.status == "fail"
    assert check.fix[0].startswith('CREATE TABLE IF NOT EXISTS "public"."debezium_signal"')
    assert check.fix[1].startswith("GRANT SELECT, INSERT, UPDATE, DELETE")


def test_publication_absent_but_not_creatable_has_fix() -> None:
    check = checks(pg(owned=set()))["publication shop_pub"]
    assert check.status == "fail"
    assert check.fix == ('CREATE PUBLICATION "shop_pub" FOR TABLE "public"."orders", '
                         '"public"."debezium_signal"',)


def test_publication_missing_table_and_operations() -> None:
    partial = Publication("shop_pub", False, frozenset({"public.orders"}),
                          frozenset({"insert", "update", "delete"}))
    check = checks(pg(publication=partial))["publication shop_pub"]
    assert check.fix == ('ALTER PUBLICATION "shop_pub" ADD TABLE "public"."debezium_signal"',)
    inserts = replace(partial, tables=frozenset({"public.orders", "public.debezium_signal"}),
                      operations=frozenset({"insert"}))
    check = checks(pg(publication=inserts))["publication shop_pub"]
    assert check.status == "fail" and "update, delete" in check.observed
    all_tables = replace(partial, all_tables=True)
    assert checks(pg(publication=all_tables))["publication shop_pub"].status == "pass"


@pytest.mark.parametrize(
    ("slot", "status", "observed"),
    [
        (Slot("shop_slot", "pgoutput", "shop", True, 10), "pass", "active, 10 B behind"),
        (Slot("shop_slot", "pgoutput", "shop", False, 3 << 30), "warn",
         "inactive, holding back 3.0 GB of WAL"),
        (Slot("shop_slot", "pgoutput", "shop", True, 2 << 30), "warn", "active, 2.0 GB behind"),
        (Slot("shop_slot", "test_decoding", "shop", True, 0), "fail", "plugin test_decoding"),
        (Slot("shop_slot", "pgoutput", "other", True, 0), "fail", "database other"),
    ],
)
def test_slot(slot: Slot, status: str, observed: str) -> None:
    check = checks(pg(slot=slot))["replication slot shop_slot"]
    assert check.status == status and observed in check.observed


def test_report_fixes_only_from_failures_in_order() -> None:
    report = Report("shop", "postgres", [
        Check("a", "warn", "", fix=("W",)), Check("b", "fail", "", fix=("X", "Y")),
        Check("c", "fail", "", fix=("Y",)), Check("d", "pass", ""),
    ])
    assert report.fixes == ["X", "Y"]
    assert not report.ok and len(report.failures) == 2 and len(report.warnings) == 1


# --- MySQL / MariaDB ---------------------------------------------------------------------


def my(**changes: object) -> MyCatalog:
    orders = TableInfo("shop.orders", True, ("id",), {
        "id": Column("id", "bigint", "integer"),
        "status": Column("status", "varchar(20)", "string"),
        "note": Column("note", "longtext", "string"),
    })
    signal = TableInfo("shop.debezium_signal", True, ("id",),
                       {c: Column(c, "varchar(42)", "string") for c in ("id", "type", "data")})
    catalog = MyCatalog(
        "11.4.2-MariaDB",
        {"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL", "server_id": "1",
         "gtid_domain_id": "0"},
        ["GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO "
         "`cdc`@`%` IDENTIFIED BY PASSWORD '*ABC'",
         "GRANT INSERT ON `shop`.`debezium_signal` TO `cdc`@`%`"],
        "'cdc'@'%'",
        {"shop.orders": orders, "shop.debezium_signal": signal},
    )
    return replace(catalog, **changes)  # type: ignore[arg-type]


MY_TARGET = Target("inv", "cdc", ("shop.orders",), "shop.debezium_signal")


def my_checks(catalog: MyCatalog, rules: RuleSet | None = None) -> dict[str, Check]:
    needs = {}
    if rules is not None:
        needs = {"shop.orders": replace(read_rules(rules, "shop")["public.orders"],
                                        table="shop.orders")}
    return {c.label: c for c in mysql_checks(catalog, MY_TARGET, needs, "12345")}


def test_mariadb_healthy() -> None:
    found = my_checks(my())
    assert {c.status for c in found.values()} == {"pass"}, found


def test_mysql_binlog_settings_fail_without_fixes() -> None:
    variables = {"log_bin": "OFF", "binlog_format": "MIXED", "binlog_row_image": "MINIMAL",
                 "server_id": "0", "gtid_mode": "OFF"}
    found = my_checks(my(version="8.0.36", variables=variables), ruleset(SHIPPED))
    for name in ("log_bin", "binlog_format", "binlog_row_image", "server_id"):
        assert found[name].status == "fail", name
        assert found[name].fix == ()
    assert "rule sales.OrderShipped.v1 reads" in found["binlog_row_image"].observed
    assert found["gtid"].status == "warn"


def test_server_id_equal_to_connector_fails() -> None:
    variables = {**my().variables, "server_id": "12345"}
    assert my_checks(my(variables=variables))["server_id"].status == "fail"


def test_missing_grants_named() -> None:
    found = my_checks(my(grants=["GRANT SELECT ON `shop`.* TO `cdc`@`%`"]))
    check = found["grants"]
    assert check.status == "fail"
    assert "RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT" in check.observed
    assert "SELECT on" not in check.observed


def test_all_privileges_cover_everything() -> None:
    found = my_checks(my(grants=["GRANT ALL PRIVILEGES ON *.* TO `root`@`%`"]))
    assert found["grants"].status == "pass"
    assert found["signal table shop.debezium_signal"].status == "pass"


def test_parse_grants_column_privileges_and_db_targets() -> None:
    grants = parse_grants([
        "GRANT USAGE ON *.* TO `u`@`%`",
        "GRANT SELECT (`a`, `b`), INSERT ON `shop`.`t` TO `u`@`%`",
        "GRANT SELECT ON `shop`.* TO `u`@`%`",
    ])
    assert grants == {"*.*": {"USAGE"}, "shop.t": {"SELECT", "INSERT"}, "shop.*": {"SELECT"}}


def test_mysql_signal_table_fix() -> None:
    absent = TableInfo("shop.debezium_signal", False)
    tables = {**my().tables, "shop.debezium_signal": absent}
    check = my_checks(my(tables=tables, grants=my().grants[:1]))[
        "signal table shop.debezium_signal"]
    assert check.fix[0].startswith("CREATE TABLE IF NOT EXISTS `shop`.`debezium_signal`")
    assert check.fix[1] == ("GRANT SELECT, INSERT, UPDATE, DELETE ON `shop`.`debezium_signal` "
                            "TO 'cdc'@'%'")


def test_json_field_accepts_mariadb_longtext() -> None:
    typed = rule("Noted", expr("after.note IS NOT NULL", "after.note"),
                 (FieldSpec("note", expr("after.note", "after.note"), "json"),))
    assert "column type shop.orders" not in my_checks(my(), ruleset(typed))


# --- column families ---------------------------------------------------------------------


def test_families_and_compatibility() -> None:
    assert pg_family("timestamptz") == "timestamp"
    assert pg_family("_int4", "A") == "array"
    assert pg_family("mood", "E") == "enum"
    assert mysql_family("tinyint", "tinyint(1)") == "boolean"
    assert mysql_family("datetime") == "timestamp"
    assert compatible("decimal", "integer") and not compatible("integer", "float")
    assert compatible("string", "uuid") and not compatible("string", "binary")
    assert compatible("json", "array") and not compatible("json", "string")


def test_table_needs_rules_reading() -> None:
    needs = TableNeeds("t", reads=[ColumnRead("r1", "before", "a"), ColumnRead("r2", "after", "a"),
                                   ColumnRead("r1", "before", "b")])
    assert needs.rules_reading({"a"}, ("before",)) == {"r1": {"before.a"}}


# --- admin DSNs and connection errors -----------------------------------------------------


def test_admin_dsn_of_postgres_is_parsed_into_parameters() -> None:
    params = admin_params("postgres", "postgresql://admin:my%20s3cret@db.internal:5433/shop")
    assert params == {"user": "admin", "password": "my s3cret", "host": "db.internal",
                      "port": "5433", "dbname": "shop"}
    assert admin_params("postgres", "host=db dbname=shop user=a")["host"] == "db"


@pytest.mark.parametrize(("kind", "dsn", "message"), [
    ("postgres", "postgresql://admin:my s3cret@h/db", "not a valid PostgreSQL connection"),
    ("postgres", "host=h password=my s3cret", "not a valid PostgreSQL connection"),
    ("postgres", "mysql://root:s3cret@h/db", "is for MySQL/MariaDB"),
    ("mariadb", "postgresql://admin:s3cret@h/db", "is for PostgreSQL"),
    ("mariadb", "mysql://root:s3cret@h:99999/db", "must look like mysql://"),
])
def test_a_bad_admin_dsn_is_refused_without_quoting_it(kind: str, dsn: str, message: str) -> None:
    with pytest.raises(PreflightError) as info:
        admin_params(kind, dsn)
    assert message in info.value.message
    assert info.value.__context__ is None or info.value.__suppress_context__  # no psycopg text
    assert "s3cret" not in f"{info.value.message} {info.value.hint}"


def test_an_unreachable_server_is_named_by_host_port_and_database() -> None:
    params = parse_dsn("postgresql://admin:s3cret@127.0.0.1:9/shopdb")
    with pytest.raises(DatabaseUnavailableError) as info:
        postgres.connect(params)
    assert info.value.message.startswith("PostgreSQL at 127.0.0.1:9/shopdb cannot be reached")
    assert "s3cret" not in info.value.message


class _FakeConnection:
    def __enter__(self) -> _FakeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.mark.parametrize(("raised", "expected"), [
    (psycopg.OperationalError("server closed the connection"), DatabaseUnavailableError),
    (psycopg.errors.InsufficientPrivilege("permission denied for table x"), PreflightError),
])
def test_psycopg_errors_inside_a_session_become_typed_errors(
        monkeypatch: pytest.MonkeyPatch, raised: psycopg.Error, expected: type[Exception]) -> None:
    monkeypatch.setattr(postgres.psycopg, "connect", lambda **_kwargs: _FakeConnection())
    with pytest.raises(expected) as info, postgres.session({"host": "db", "dbname": "shop"}):
        raise raised
    assert "PostgreSQL at db/shop" in str(info.value)
