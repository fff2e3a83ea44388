"""Loading connector specs: substitution, secrets, problems with positions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cdc_facts.connectors import load_spec, parse_spec
from cdc_facts.connectors.env import broken_reference, expand
from cdc_facts.errors import ConnectorSpecError, TerminalError

ENV = {"SHOP_DB_PASSWORD": "pa55-w0rd!", "SHOP_DB_HOST": "db.internal"}

GOOD = """\
name: legacy-shop                # connector name
kind: postgres
database:
  host: ${SHOP_DB_HOST:-127.0.0.1}
  port: 5432
  name: shop
  user: cdc
  password: ${SHOP_DB_PASSWORD}
tables: [public.customers, public.orders]
snapshot: initial
options:
  heartbeat.interval.ms: 5000
  tombstones.on.delete: true
"""


def problems_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConnectorSpecError) as info:
        parse_spec(textwrap.dedent(text), file="c.yaml", env=ENV if env is None else env)
    assert isinstance(info.value, TerminalError)
    return [str(p) for p in info.value.problems]


def test_good_spec() -> None:
    spec = parse_spec(GOOD, file="c.yaml", env=ENV)
    assert spec.name == "legacy-shop"
    assert spec.kind == "postgres"
    assert spec.database.host == "db.internal"
    assert spec.database.port == 5432
    assert spec.database.password == "pa55-w0rd!"
    assert spec.tables == ("public.customers", "public.orders")
    assert spec.options == {"heartbeat.interval.ms": "5000", "tombstones.on.delete": "true"}
    assert spec.schemas == ("public",)
    assert spec.file == "c.yaml"


def test_default_used_when_variable_unset() -> None:
    spec = parse_spec(GOOD, env={"SHOP_DB_PASSWORD": "x"})
    assert spec.database.host == "127.0.0.1"


def test_password_is_tracked_as_secret_and_hidden_from_repr() -> None:
    spec = parse_spec(GOOD, env=ENV)
    assert "pa55-w0rd!" in spec.secrets
    assert "pa55-w0rd!" not in repr(spec)
    assert spec.secrets.mask("jdbc:...password=pa55-w0rd!") == "jdbc:...password=****"


def test_missing_variable_names_it_at_its_position() -> None:
    found = problems_of(GOOD, env={})
    assert found == [
        "c.yaml:8:13: `database.password`: environment variable SHOP_DB_PASSWORD is not set; "
        "export SHOP_DB_PASSWORD=..."
    ]


def test_a_missing_variable_of_another_key_may_take_a_default() -> None:
    found = problems_of(GOOD.replace("name: shop", "name: ${SHOP_DB_NAME}"))
    assert found == [
        "c.yaml:6:9: `database.name`: environment variable SHOP_DB_NAME is not set; "
        "export SHOP_DB_NAME=... or write ${SHOP_DB_NAME:-default}"
    ]


@pytest.mark.parametrize(("host", "problem"), [
    ("${A:-${B}}", "c.yaml:4:9: `database.host`: `${A:-${B}` holds `${` in its default: "
     "references do not nest; a default is plain text"),
    ("${A:-x}}", "c.yaml:4:9: `database.host`: `}` after `${A:-x}` closes nothing: a default "
     "cannot hold `}`"),
    ("'db-${A:-${B:-x}}-1'", "c.yaml:4:9: `database.host`: `${A:-${B:-x}` holds `${`"),
])
def test_nested_references_and_stray_braces_are_refused(host: str, problem: str) -> None:
    [found] = problems_of(GOOD.replace("${SHOP_DB_HOST:-127.0.0.1}", host),
                          env={**ENV, "B": "b"})
    assert found.startswith(problem)


def test_a_brace_that_is_text_still_works() -> None:
    spec = parse_spec(GOOD.replace("${SHOP_DB_HOST:-127.0.0.1}", "'{db}-${SHOP_DB_HOST}'"),
                      env=ENV)
    assert spec.database.host == "{db}-db.internal"


@pytest.mark.parametrize("password", ["hunter2", "'${PW:-hunter2}'", "'x${PW}'"])
def test_literal_password_is_an_error_and_never_echoed(password: str) -> None:
    text = GOOD.replace("${SHOP_DB_PASSWORD}", password)
    [found] = problems_of(text, env={"PW": "x"})
    assert found.startswith("c.yaml:8:13: `database.password` is a secret")
    assert "hunter2" not in found


@pytest.mark.parametrize("key", [
    "value.converter.basic.auth.user.info", "database.ssl.keystore.key", "ssl.key.pem",
])
def test_options_holding_credentials_or_private_keys_are_secrets(key: str) -> None:
    [found] = problems_of(GOOD + f"  {key}: literal-Cred\n")
    assert f"`options.{key}` is a secret" in found and "literal-Cred" not in found
    spec = parse_spec(GOOD + f"  {key}: ${{CRED}}\n", env={**ENV, "CRED": "user:Cr3d-x"})
    assert "user:Cr3d-x" in spec.secrets


def test_repr_masks_secret_options() -> None:
    env = {**ENV, "CRED": "user:Cr3d-x"}
    spec = parse_spec(GOOD + "  value.converter.basic.auth.user.info: ${CRED}\n"
                      "  database.sslpassword: ${SHOP_DB_PASSWORD}\n", env=env)
    shown = repr(spec)
    assert "Cr3d-x" not in shown and "pa55-w0rd!" not in shown
    assert "'value.converter.basic.auth.user.info': '****'" in shown
    assert "'heartbeat.interval.ms': '5000'" in shown


def test_secret_option_must_come_from_env() -> None:
    text = GOOD + "  database.sslpassword: literal\n"
    [found] = problems_of(text)
    assert "`options.database.sslpassword` is a secret" in found
    env = {**ENV, "SSL_PW": "sslsecret"}
    spec = parse_spec(GOOD + "  database.sslpassword: ${SSL_PW}\n", env=env)
    assert "sslsecret" in spec.secrets


def test_unknown_keys_with_suggestions() -> None:
    text = GOOD.replace("tables:", "tabels:").replace("  user:", "  usr:")
    found = problems_of(text)
    assert "c.yaml:7:3: unknown key `database.usr`; expected one of host, port, name, user, "\
        "password (did you mean `database.user`?)" in found
    assert any(p.startswith("c.yaml:9:1: unknown key `tabels`") and "`tables`" in p for p in found)
    assert any("missing `database.user`" in p for p in found)


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("kind: postgres", "kind: postgress").replace("port: 5432", "port: 99999")
    found = problems_of(text.replace("public.orders", "orders"))
    assert found == [
        "c.yaml:2:7: unknown kind `postgress`; expected one of postgres, mariadb, mysql, "
        "sqlserver, oracle (did you mean `postgres`?)",
        "c.yaml:5:9: database.port `99999` is not a port number",
        "c.yaml:9:28: table `orders` must be `schema.table`",
    ]


def test_error_message_lists_every_problem() -> None:
    text = GOOD.replace("kind: postgres", "kind: nope").replace("snapshot: initial", "snapshot: x")
    with pytest.raises(ConnectorSpecError) as info:
        parse_spec(text, file="c.yaml", env=ENV)
    assert str(info.value).startswith("2 problems:\n  c.yaml:2:7: unknown kind")
    assert "c.yaml:10:11: unknown snapshot mode `x`" in str(info.value)
    assert info.value.hint is not None


@pytest.mark.parametrize(("mode", "kind", "found"), [
    ("schema_only", "postgres", "c.yaml:10:11: snapshot mode `schema_only` was removed in "
     "Debezium 3.0 (did you mean `no_data`?)"),
    ("never", "postgres", "c.yaml:10:11: snapshot mode `never` was removed in Debezium 3.0 "
     "(did you mean `no_data`?)"),
    ("schema_only_recovery", "mysql", "c.yaml:10:11: snapshot mode `schema_only_recovery` was "
     "removed in Debezium 3.0 (did you mean `recovery`?)"),
    ("schema_only", "mariadb", "c.yaml:10:11: snapshot mode `schema_only` was removed in "
     "Debezium 3.0 (did you mean `no_data`?)"),
    ("recovery", "postgres", "c.yaml:10:11: the postgres connector has no snapshot mode "
     "`recovery`; it takes initial, initial_only, no_data, when_needed, always, "
     "configuration_based, custom"),
    ("inital", "oracle", "c.yaml:10:11: unknown snapshot mode `inital` (did you mean "
     "`initial`?)"),
])
def test_snapshot_modes_debezium_3_rejects(mode: str, kind: str, found: str) -> None:
    text = GOOD.replace("snapshot: initial", f"snapshot: {mode}")
    if kind != "postgres":
        text = text.replace("kind: postgres", f"kind: {kind}").replace("public.", "shop.")
    assert problems_of(text) == [found]


@pytest.mark.parametrize(("mode", "kinds"), [
    ("no_data", ("postgres", "mysql", "mariadb", "sqlserver", "oracle")),
    ("when_needed", ("postgres", "mysql", "mariadb", "sqlserver", "oracle")),
    ("recovery", ("mysql", "mariadb", "sqlserver", "oracle")),
])
def test_snapshot_modes_each_kind_accepts(mode: str, kinds: tuple[str, ...]) -> None:
    for kind in kinds:
        text = GOOD.replace("snapshot: initial", f"snapshot: {mode}")
        text = text.replace("kind: postgres", f"kind: {kind}")
        if kind in ("mysql", "mariadb"):
            text = text.replace("public.", "shop.")
        assert parse_spec(text, env=ENV).snapshot == mode


def test_unqualified_table_suggests_public_for_postgres() -> None:
    [found] = problems_of(GOOD.replace("public.orders", "orders"))
    assert "(did you mean `public.orders`?)" in found


def test_duplicate_table() -> None:
    [found] = problems_of(GOOD.replace("public.orders", "public.customers"))
    assert found == "c.yaml:9:28: table `public.customers` is listed twice"


def test_missing_sections() -> None:
    found = problems_of("name: x\nkind: postgres\n")
    assert any("missing `database` mapping" in p for p in found)
    assert any("`tables` must list at least one table" in p for p in found)


def test_invalid_yaml_has_position() -> None:
    [found] = problems_of("name: x\ntables: [a\n")
    assert found.startswith("c.yaml:3:1: invalid YAML")


def test_duplicate_key_is_invalid_yaml() -> None:
    [found] = problems_of("name: x\nname: y\n")
    assert "invalid YAML" in found


def test_not_a_mapping() -> None:
    [found] = problems_of("- a\n- b\n")
    assert "a connector spec is a mapping" in found


def test_bad_name() -> None:
    [found] = problems_of(GOOD.replace("name: legacy-shop", "name: legacy shop"))
    assert "name `legacy shop` may only hold" in found


def test_broken_reference() -> None:
    [found] = problems_of(GOOD.replace("${SHOP_DB_HOST:-127.0.0.1}", "${SHOP DB}"))
    assert "c.yaml:4:9: `database.host`: `${SHOP DB}...` is not a valid reference" in found


def test_option_must_be_scalar() -> None:
    [found] = problems_of(GOOD + "  column.exclude.list: [a, b]\n")
    assert "option `column.exclude.list` must be a single value" in found


def test_mysql_defaults_port_and_allows_no_database_name() -> None:
    text = GOOD.replace("kind: postgres", "kind: mariadb").replace("  port: 5432\n", "")
    text = text.replace("  name: shop\n", "").replace("public.", "shop.")
    spec = parse_spec(text, env=ENV)
    assert spec.database.port == 3306
    assert spec.database.name is None
    assert spec.is_mysql and spec.schemas == ("shop",)


def test_postgres_needs_database_name() -> None:
    [found] = problems_of(GOOD.replace("  name: shop\n", ""))
    assert "missing `database.name`" in found


def test_port_from_environment() -> None:
    spec = parse_spec(GOOD.replace("port: 5432", "port: ${PORT}"), env={**ENV, "PORT": "6543"})
    assert spec.database.port == 6543


def test_signal_table_must_be_qualified() -> None:
    [found] = problems_of(GOOD + "signal_table: signals\n")
    assert "signal_table `signals` must be" in found


def test_load_spec_from_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(GOOD)
    spec = load_spec(path, env=ENV)
    assert spec.file == str(path)


def test_load_spec_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConnectorSpecError, match="cannot read connector spec"):
        load_spec(tmp_path / "nope.yaml", env={})


def test_load_spec_reads_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(GOOD)
    monkeypatch.setenv("SHOP_DB_PASSWORD", "from-env")
    assert load_spec(path).database.password == "from-env"


def test_repository_specs_load() -> None:
    root = Path(__file__).resolve().parent.parent / "connectors"
    specs = sorted(root.glob("*.yaml")) + sorted(root.glob("examples/*.yaml"))
    assert specs, "connectors/ holds the demo spec and one example per kind"
    env = {
        "SHOP_DB_PASSWORD": "x", "INVENTORY_DB_PASSWORD": "x", "BILLING_DB_PASSWORD": "x",
        "CRM_DB_PASSWORD": "x", "ERP_DB_PASSWORD": "x",
    }
    kinds = {parse_spec(p.read_text(), file=str(p), env=env).kind for p in specs}
    assert kinds == {"postgres", "mariadb", "mysql", "sqlserver", "oracle"}


# --- substitution ----------------------------------------------------------------------


def test_expand_forms() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert expand("${A}", env).value == "1"
    assert expand("${EMPTY:-d}", env).value == "d"
    assert expand("${EMPTY:-d}", env).defaulted == ("EMPTY",)
    assert expand("${EMPTY}", env).missing == ()
    assert expand("${B}", env).missing == ("B",)
    assert expand("a$$b", env).value == "a$b"
    assert expand("x${A}y", env).literal == "xy"
    assert expand("${A}", env).only_references
    assert not expand("x${A}", env).only_references
    assert not expand("${B:-d}", env).only_references
    assert not expand("plain", env).only_references


def test_broken_reference_detection() -> None:
    assert broken_reference("${A B}") == 0
    assert broken_reference("x ${") == 2
    assert broken_reference("$${A B}") is None
    assert broken_reference("${A:-x y}") is None
