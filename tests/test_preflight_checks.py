"""Preflight checks as pure functions of a catalog, the target and what the rules need."""

from __future__ import annotations

from dataclasses import dataclass, replace

import psycopg
import pytest

from cdc_facts.errors import DatabaseUnavailableError, PreflightError
from cdc_facts.preflight import Target, admin_params, parse_dsn, postgres, read_rules
from cdc_facts.preflight.columns import Column, compatible, mysql_family, pg_family
from cdc_facts.preflight.model import Check, Report
from cdc_facts.preflight.mysql import MyCatalog, mysql_checks, parse_grants, tinyint_booleans
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


def test_replica_identity_nothing_without_a_key_is_fixed_with_full() -> None:
    nothing = replace(ORDERS, replica_identity="n", primary_key=())
    check = checks(pg(tables={"public.orders": nothing, "public.debezium_signal": SIGNAL}))[
        "replica identity public.orders"]
    assert check.status == "fail", "DEFAULT would change nothing on a table without a key"
    assert check.fix == ('ALTER TABLE "public"."orders" REPLICA IDENTITY FULL',)


KEYLESS = replace(ORDERS, primary_key=())
DECLARED_KEY = RuleSet((Mapping("o.yaml", "sales", "t",
                                SourceSpec("shop", "public.orders", "full", ("id",)), (NOTED,)),))


@pytest.mark.parametrize("rules", [DECLARED_KEY, None], ids=["declared-key", "no-rules"])
@pytest.mark.parametrize(("ident", "why"), [
    ("d", "DEFAULT without a primary key"),
    ("i", "USING INDEX, but the index is gone"),
])
def test_replica_identity_without_a_key_of_the_table_fails(
        rules: RuleSet | None, ident: str, why: str) -> None:
    table = replace(KEYLESS, replica_identity=ident)
    found = checks(pg(tables={"public.orders": table, "public.debezium_signal": SIGNAL}), rules)
    check = found["replica identity public.orders"]
    assert check.status == "fail", "a key in the mapping is no replica identity"
    assert check.observed.startswith(why) and "refuses every UPDATE and DELETE" in check.observed
    assert check.fix == ('ALTER TABLE "public"."orders" REPLICA IDENTITY FULL',)
    assert "ACCESS EXCLUSIVE" in check.remedy and "WAL" in check.remedy
    assert "toast public.orders" not in found


def test_keyless_table_with_full_identity_passes_replica_identity() -> None:
    full = replace(KEYLESS, replica_identity="f")
    found = checks(pg(tables={"public.orders": full, "public.debezium_signal": SIGNAL}),
                   DECLARED_KEY)
    assert found["replica identity public.orders"].status == "pass"
    assert found["primary key public.orders"].status == "pass"


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


DISABLED = replace(TARGET, publication_mode="disabled")
OPS = frozenset({"insert", "update", "delete", "truncate"})
BOTH = frozenset({"public.orders", "public.debezium_signal"})


def publication_check(catalog: PgCatalog, target: Target = TARGET) -> Check:
    return {c.label: c for c in postgres_checks(catalog, target, {})}["publication shop_pub"]


def test_filtered_publication_absent_is_created_by_debezium() -> None:
    check = publication_check(pg())
    assert (check.status, check.observed) == ("pass", "absent; Debezium creates shop_pub")
    assert publication_check(pg(owned=set(), superuser=True)).status == "pass"


def test_filtered_publication_needs_the_user_to_own_every_table() -> None:
    admins = Publication("shop_pub", False, BOTH, OPS, "admin", False)
    for publication in (None, admins):
        check = publication_check(pg(owned=set(), publication=publication))
        assert check.status == "fail" and check.fix == (), "no fix can make filtered work"
        assert "cdc does not own public.orders, public.debezium_signal" in check.observed
        assert "ALTER PUBLICATION ... SET TABLE" in check.observed
        assert "`publication.autocreate.mode: disabled`" in check.remedy


def test_filtered_publication_absent_and_not_creatable_is_created_for_the_user() -> None:
    check = publication_check(pg(can_create=False))
    assert check.status == "fail" and "no CREATE privilege on database shop" in check.observed
    assert check.fix == (
        'CREATE PUBLICATION "shop_pub" FOR TABLE "public"."orders", "public"."debezium_signal"',
        'ALTER PUBLICATION "shop_pub" OWNER TO "cdc"',
    )


def test_filtered_publication_owned_by_another_role_is_given_to_the_user() -> None:
    admins = Publication("shop_pub", False, BOTH, OPS, "admin", False)
    check = publication_check(pg(publication=admins))
    assert check.status == "fail" and check.observed.startswith("owned by admin")
    assert check.fix == ('ALTER PUBLICATION "shop_pub" OWNER TO "cdc"',)
    assert publication_check(pg(publication=admins, superuser=True)).status == "pass"


def test_filtered_publication_of_the_user_passes_whatever_it_holds() -> None:
    partial = Publication("shop_pub", False, frozenset({"public.orders"}), OPS, "cdc", True)
    assert publication_check(pg(publication=partial)).status == "pass", "Debezium sets them"


def test_filtered_publication_for_all_tables_fails() -> None:
    everything = Publication("shop_pub", True, frozenset(), OPS, "cdc", True)
    check = publication_check(pg(publication=everything))
    assert check.status == "fail" and check.observed.startswith("FOR ALL TABLES")
    assert "`publication.autocreate.mode: disabled`" in check.remedy
    assert publication_check(pg(publication=everything), DISABLED).status == "pass"


def test_disabled_publication_absent_is_created_even_when_the_user_owns_nothing() -> None:
    check = publication_check(pg(owned=set()), DISABLED)
    assert check.status == "fail"
    assert check.fix == ('CREATE PUBLICATION "shop_pub" FOR TABLE "public"."orders", '
                         '"public"."debezium_signal"',)


def test_all_tables_mode_creates_only_as_a_superuser() -> None:
    target = replace(TARGET, publication_mode="all_tables")
    assert publication_check(pg(superuser=True), target).status == "pass"
    check = publication_check(pg(), target)
    assert check.status == "fail" and "needs a superuser" in check.observed
    assert check.fix[0].startswith('CREATE PUBLICATION "shop_pub" FOR TABLE')


def test_disabled_publication_missing_table_and_operations() -> None:
    partial = Publication("shop_pub", False, frozenset({"public.orders"}),
                          frozenset({"insert", "update", "delete"}), "admin", False)
    check = publication_check(pg(publication=partial), DISABLED)
    assert check.fix == ('ALTER PUBLICATION "shop_pub" ADD TABLE "public"."debezium_signal"',)
    inserts = replace(partial, tables=BOTH, operations=frozenset({"insert"}))
    check = publication_check(pg(publication=inserts), DISABLED)
    assert check.status == "fail" and "update, delete" in check.observed
    assert publication_check(pg(publication=replace(partial, tables=BOTH)),
                             DISABLED).status == "pass"


PARTITIONED = replace(ORDERS, replica_identity="d", partitioned=True)


def partitioned(**changes: object) -> PgCatalog:
    return pg(tables={"public.orders": PARTITIONED, "public.debezium_signal": SIGNAL}, **changes)


def test_partitioned_table_needs_a_publication_via_its_root() -> None:
    check = publication_check(partitioned())
    assert check.status == "fail" and "without publish_via_partition_root" in check.observed
    assert check.fix[0] == ('CREATE PUBLICATION "shop_pub" FOR TABLE "public"."orders", '
                            '"public"."debezium_signal" WITH (publish_via_partition_root = true)')
    leaves = Publication("shop_pub", False, frozenset({"public.orders_2024", "public.orders",
                                                       "public.debezium_signal"}), OPS, "cdc",
                         True)
    check = publication_check(partitioned(publication=leaves))
    assert check.fix == ('ALTER PUBLICATION "shop_pub" SET (publish_via_partition_root = true)',)
    via_root = replace(leaves, via_root=True)
    assert publication_check(partitioned(publication=via_root)).status == "pass"
    assert publication_check(partitioned(publication=via_root), DISABLED).status == "pass"


def test_partitioned_table_membership_counts_the_parent_not_its_partitions() -> None:
    only_leaves = Publication("shop_pub", False, frozenset({"public.orders_2024",
                                                            "public.debezium_signal"}),
                              OPS, "admin", False, via_root=True)
    check = publication_check(partitioned(publication=only_leaves), DISABLED)
    assert check.fix == ('ALTER PUBLICATION "shop_pub" ADD TABLE "public"."orders"',)


def test_partitioned_table_before_postgresql_13_cannot_be_published() -> None:
    check = publication_check(partitioned(version=120000, version_text="12.18"))
    assert check.status == "fail" and check.fix == ()
    assert "cannot publish partitioned tables (public.orders)" in check.observed


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


CONVERTER = {"converters": "boolean",
             "boolean.type": "io.debezium.connector.binlog.converters.TinyIntOneToBooleanConverter"}


def prioritised(field_type: str, boolean: bool = False) -> dict[str, Check]:
    priority = Column("priority", "tinyint(1)",
                      mysql_family("tinyint", "tinyint(1)", tinyint_boolean=boolean))
    orders = my().tables["shop.orders"]
    tables = {**my().tables, "shop.orders": replace(
        orders, columns={**orders.columns, "priority": priority})}
    typed = rule("Prioritised", expr("after.priority > 0", "after.priority"),
                 (FieldSpec("priority", expr("after.priority", "after.priority"), field_type),))
    return my_checks(my(tables=tables), ruleset(typed))


def test_tinyint_1_fills_an_integer_field_unless_a_converter_makes_it_boolean() -> None:
    assert "column type shop.orders" not in prioritised("integer")
    check = prioritised("boolean")["column type shop.orders"]
    assert check.status == "fail" and "TinyIntOneToBooleanConverter" in check.remedy
    assert "column type shop.orders" not in prioritised("boolean", boolean=True)
    assert prioritised("integer", boolean=True)["column type shop.orders"].status == "fail"


def test_tinyint_booleans_follow_the_converter_options() -> None:
    assert not tinyint_booleans({})("shop.orders.paid", "tinyint(1)")
    assert tinyint_booleans(CONVERTER)("shop.orders.paid", "tinyint(1)")
    assert not tinyint_booleans(CONVERTER)("shop.orders.count", "tinyint(4)")
    assert not tinyint_booleans(CONVERTER)("shop.orders.flag", "bit(1)")
    legacy = {**CONVERTER, "boolean.type":
              "io.debezium.connector.mysql.converters.TinyIntOneToBooleanConverter"}
    assert tinyint_booleans(legacy)("shop.orders.paid", "tinyint(1)")
    selected = {**CONVERTER, "boolean.selector": r"shop\.orders\.paid, crm\..*\.active"}
    assert tinyint_booleans(selected)("SHOP.orders.paid", "tinyint(1) unsigned")
    assert tinyint_booleans(selected)("crm.users.active", "tinyint(1)")
    assert not tinyint_booleans(selected)("shop.orders.paid_late", "tinyint(1)")
    any_length = {**CONVERTER, "boolean.length.checker": "false"}
    assert tinyint_booleans(any_length)("shop.orders.count", "tinyint(4)")
    other = {"converters": "boolean", "boolean.type": "com.example.Other"}
    assert not tinyint_booleans(other)("shop.orders.paid", "tinyint(1)")


# --- column families ---------------------------------------------------------------------


def test_families_and_compatibility() -> None:
    assert pg_family("timestamptz") == "timestamp"
    assert pg_family("_int4", "A") == "array"
    assert pg_family("mood", "E") == "enum"
    assert mysql_family("tinyint", "tinyint(1)") == "integer", "Debezium sends an int16"
    assert mysql_family("tinyint", "tinyint(1)", tinyint_boolean=True) == "boolean"
    assert mysql_family("bit", "bit(1)") == "boolean"
    assert mysql_family("bit", "bit(12)") == "binary", "io.debezium.data.Bits: bytes"
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


class _RecordingConnection:
    """Records what ``apply`` runs; refuses statements holding ``refuse`` with ``error``."""

    def __init__(self, refuse: str = "", error: psycopg.Error | None = None) -> None:
        self.executed: list[tuple[str, object]] = []
        self.refuse, self.error = refuse, error

    def execute(self, statement: str | bytes, params: object = None) -> None:
        text = statement.decode() if isinstance(statement, bytes) else statement
        self.executed.append((text, params))
        if self.error is not None and self.refuse and self.refuse in text:
            raise self.error


ALTER = 'ALTER TABLE "public"."orders" REPLICA IDENTITY FULL'


def test_fixes_run_under_a_lock_timeout() -> None:
    conn = _RecordingConnection()
    postgres.apply(conn, [ALTER])  # type: ignore[arg-type]
    assert conn.executed == [("SELECT set_config('lock_timeout', %s, false)", ("5000ms",)),
                             (ALTER, None)]
    conn = _RecordingConnection()
    postgres.apply(conn, [ALTER], lock_timeout=0.25)  # type: ignore[arg-type]
    assert conn.executed[0][1] == ("250ms",)


def test_a_lock_timeout_names_the_table_and_what_to_do() -> None:
    timeout = psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    conn = _RecordingConnection("REPLICA IDENTITY", timeout)
    with pytest.raises(PreflightError) as info:
        postgres.apply(conn, [ALTER, "GRANT ..."], lock_timeout=2)  # type: ignore[arg-type]
    assert info.value.message == ("fix gave up after waiting 2s for a lock on public.orders: "
                                  f"{ALTER}")
    assert info.value.hint is not None and "--lock-timeout" in info.value.hint
    assert [sql for sql, _ in conn.executed][-1] == ALTER, "stops at the first that fails"


def test_run_preflight_reads_the_publication_mode_and_passes_the_lock_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cdc_facts.connectors import parse_spec, render
    from cdc_facts.preflight import run as preflight_run

    applied: list[tuple[list[str], float]] = []
    monkeypatch.setattr(postgres, "session", lambda _params: _FakeConnection())
    monkeypatch.setattr(preflight_run, "read_pg_catalog",
                        lambda _conn, _names, _pub, _slot: pg(owned=set()))
    monkeypatch.setattr(postgres, "apply", lambda _conn, fixes, lock_timeout:
                        applied.append((fixes, lock_timeout)))
    spec = parse_spec("name: shop\nkind: postgres\ndatabase: {host: db, name: shop, user: cdc, "
                      "password: '${PW}'}\ntables: [public.orders]\noptions:\n"
                      "  publication.autocreate.mode: disabled\n", env={"PW": "pw"})
    report = preflight_run.run_preflight(spec, render(spec), fix=True, lock_timeout=1.5)
    create = ('CREATE PUBLICATION "shop_pub" FOR TABLE "public"."orders", '
              '"public"."debezium_signal"')
    assert applied == [([create], 1.5)]
    assert report.applied == [create]
