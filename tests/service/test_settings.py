"""Settings of the service: precedence, names, values, secrets, missing settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdc_facts.errors import ConfigError
from cdc_facts.kafka.producer import ALTERNATE_SUFFIX
from cdc_facts.settings import KafkaSettings, is_secret_key, load_settings

BASE = {"CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS": "env:9092",
        "CDC_FACTS__SERVICE__GROUP_ID": "env-group",
        "CDC_FACTS__SERVICE__MAPPINGS": "mappings/shop,mappings/more"}


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_and_derived_names() -> None:
    settings = load_settings({}, BASE)
    assert settings.mappings == (Path("mappings/shop"), Path("mappings/more"))
    assert settings.kafka.bootstrap_servers == "env:9092"
    assert (settings.commit_interval_ms, settings.batch_size) == (1000, 5000)
    assert settings.dead_letter_topic == "env-group.dead-letter"
    assert settings.positions_topic == "env-group.positions"
    assert settings.guarantee == "exactly-once"
    assert settings.transaction_timeout_ms == 11_000
    assert settings.transactional_id == f"env-group-{settings.instance_id}"
    # the log names both ids the producer's clients use in turn
    shown = str(settings.describe()["transactional_id"])
    assert f"{settings.transactional_id}{ALTERNATE_SUFFIX}" in shown
    assert settings.origins["group_id"] == "CDC_FACTS__SERVICE__GROUP_ID"
    assert settings.origins["batch_size"] == "default"


def test_the_command_line_beats_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    config = _file(tmp_path, "service.toml", """
[service]
group_id = "file-group"
batch_size = 10
commit_interval_ms = 2500
log_format = "json"
[kafka]
"bootstrap.servers" = "file:9092"
linger.ms = 20
"sasl.mechanism" = "PLAIN"
""")
    env = {**BASE, "CDC_FACTS__SERVICE__BATCH_SIZE": "20", "CDC_FACTS__KAFKA__LINGER_MS": "7"}
    settings = load_settings({"batch_size": 30, "log_format": None}, env, config)
    assert settings.batch_size == 30
    assert settings.origins["batch_size"] == "--batch-size"
    assert settings.group_id == "env-group"
    assert settings.commit_interval_ms == 2500
    assert settings.origins["commit_interval_ms"] == str(config)
    assert settings.log_format == "json"
    assert settings.kafka.bootstrap_servers == "env:9092"
    assert dict(settings.kafka.client) == {"linger.ms": "7", "sasl.mechanism": "PLAIN"}


def test_a_yaml_file_works_as_well(tmp_path: Path) -> None:
    config = _file(tmp_path, "service.yaml", """
service:
  group_id: yaml-group
  mappings: [a.yaml, b.yaml]
  guarantee: at-least-once
kafka:
  bootstrap.servers: yaml:9092
  enable.ssl.certificate.verification: false
""")
    settings = load_settings({}, {}, config)
    assert settings.group_id == "yaml-group"
    assert settings.mappings == (Path("a.yaml"), Path("b.yaml"))
    assert settings.guarantee == "at-least-once"
    assert settings.kafka.config() == {"bootstrap.servers": "yaml:9092",
                                       "enable.ssl.certificate.verification": "false"}


def test_both_spellings_of_the_environment_names_work_and_two_underscores_win() -> None:
    env = {"CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS": "one:9092", "CDC_FACTS_SERVICE__GROUP_ID": "g",
           "CDC_FACTS__SERVICE__MAPPINGS": "m", "CDC_FACTS_CONNECT_URL": "http://ignored"}
    assert load_settings({}, env).kafka.bootstrap_servers == "one:9092"
    env["CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS"] = "two:9092"
    assert load_settings({}, env).kafka.bootstrap_servers == "two:9092"


def test_secrets_are_masked_in_every_output() -> None:
    env = {**BASE, "CDC_FACTS__KAFKA__SASL_PASSWORD": "hunter2",
           "CDC_FACTS__KAFKA__SSL_KEY_PASSWORD": "k3y",
           "CDC_FACTS__KAFKA__SASL_USERNAME": "svc"}
    settings = load_settings({}, env)
    assert settings.kafka.config()["sasl.password"] == "hunter2"
    shown = [repr(settings), repr(settings.kafka), str(settings.describe()),
             str(settings.kafka.masked())]
    assert all("hunter2" not in text and "k3y" not in text for text in shown)
    assert settings.kafka.masked()["sasl.username"] == "svc"
    assert settings.kafka.masked()["sasl.password"] == "****"
    assert settings.kafka.secrets().mask("password=hunter2") == "password=****"
    assert is_secret_key("sasl.oauthbearer.client.secret") and is_secret_key("ssl.key.pem")
    assert not is_secret_key("ssl.key.location")


def test_a_missing_setting_names_every_source_tried(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_settings({"mappings": ("m",), "group_id": "g"}, {})
    message = missing.value.message
    assert message.startswith("missing setting: the Kafka bootstrap servers; tried the option "
                              "--bootstrap-servers, the environment variable "
                              "CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS (or "
                              "CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS)")
    assert message.endswith("`kafka.bootstrap.servers` in a config file (none given with "
                            "--config)")
    config = _file(tmp_path, "empty.toml", "")
    with pytest.raises(ConfigError, match=r"`service.group_id` in .*empty.toml$"):
        load_settings({"mappings": ("m",)}, {"CDC_FACTS__KAFKA__BOOTSTRAP_SERVERS": "k"}, config)


@pytest.mark.parametrize(("env", "error"), [
    ({"CDC_FACTS__SERVICE__BATCH_SIZE": "lots"}, "the batch size (`batch_size`, from "
     "CDC_FACTS__SERVICE__BATCH_SIZE) is wrong: expected a whole number"),
    ({"CDC_FACTS__SERVICE__BATCH_SIZE": "0"}, "must be at least 1, got 0"),
    ({"CDC_FACTS__SERVICE__LOG_FORMAT": "xml"}, "expected one of text, json"),
    ({"CDC_FACTS__SERVICE__COMIT_INTERVAL_MS": "5"}, "unknown service setting `comit_interval_ms`"),
    ({"CDC_FACTS__KAFKA__GROUP_ID": "x"}, "`group.id` cannot be set: use --group"),
    ({"CDC_FACTS__KAFKA__ISOLATION_LEVEL": "read_uncommitted"}, "always reads with read_commit"),
])
def test_wrong_values_say_what_and_where(env: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError) as wrong:
        load_settings({}, {**BASE, **env})
    assert error in wrong.value.message


def test_an_unknown_setting_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError) as wrong:
        load_settings({}, {**BASE, "CDC_FACTS__SERVICE__COMIT_INTERVAL_MS": "5"})
    assert wrong.value.hint == "did you mean `commit_interval_ms`?"


@pytest.mark.parametrize(("name", "text", "error"), [
    ("bad.toml", "[service\n", r"bad.toml:1:9: TOML syntax error"),
    ("bad.yaml", "service: [1,\n",
     r"bad.yaml:2:1: YAML syntax error: .* the `\[` opened at line 1"),
    ("bad.ini", "", "use a .toml, .yaml or .yml file"),
    ("bad.toml", "[metrics]\nport = 1\n", "bad.toml:1:1: unknown section `metrics`"),
])
def test_a_bad_config_file_is_refused(tmp_path: Path, name: str, text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_settings({}, BASE, _file(tmp_path, name, text))


def test_every_problem_of_a_config_file_is_reported_at_once_with_its_position(
        tmp_path: Path) -> None:
    config = _file(tmp_path, "service.yaml", """\
service:
  group_id: shop-facts
  comit_interval_ms: 5
  batch_size: lots
kafka: {group.id: x}
""")
    with pytest.raises(ConfigError) as wrong:
        load_settings({}, BASE, config)
    assert [str(p) for p in wrong.value.problems] == [
        f"{config}:3:3: unknown service setting `comit_interval_ms` "
        "(did you mean `commit_interval_ms`?)",
        f"{config}:4:15: wrong value for the batch size (`batch_size`): expected a whole "
        "number, got 'lots'",
        f"{config}:5:9: `group.id` cannot be set: use --group (or service.group_id)",
    ]
    assert wrong.value.message.startswith(f"3 problems in the config file {config}:\n  ")


def test_every_problem_of_a_toml_file_is_reported_at_the_line_that_writes_it(
        tmp_path: Path) -> None:
    config = _file(tmp_path, "service.toml", """\
[service]
group_id = "g"
comit_interval_ms = 5
[kafka]
linger.ms = 5
"group.id" = "x"
transactional.id = "t"
""")
    with pytest.raises(ConfigError) as wrong:
        load_settings({}, BASE, config)
    assert [p.location() for p in wrong.value.problems] == [
        f"{config}:3:1", f"{config}:6:1", f"{config}:7:1"]


@pytest.mark.parametrize("text", [
    "kafka:\n  bootstrap.servers: k:9092\n  sasl.password: Sup3r: S3cret\n",
    "kafka:\n  sasl:\n    password: 'Sup3rS3cret' # rotated\n  sasl.username: x: y\n",
    "kafka:\n  sasl.password: Sup3rS3cret\n  sasl.password: Sup3rS3cret\n",
    "kafka:\n  sasl.password: *Sup3rS3cret\n",
    "kafka:\n  ssl.key.pem: |\n    Sup3rS3cret\n   x: y: z\n",
])
def test_a_yaml_syntax_error_names_its_position_and_never_the_secret(
        tmp_path: Path, text: str) -> None:
    config = _file(tmp_path, "service.yaml", text)
    with pytest.raises(ConfigError) as wrong:
        load_settings({}, BASE, config)
    shown = " ".join([str(wrong.value), str(wrong.value.hint), repr(wrong.value.problems)])
    assert f"{config}:" in shown
    assert "S3cret" not in shown and "Sup3r" not in shown


def test_the_metrics_port_must_be_a_port() -> None:
    with pytest.raises(ConfigError, match="must be at most 65535, got 99999"):
        load_settings({"metrics_port": 99999}, BASE)


def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings({}, BASE, tmp_path / "nope.toml")


def test_kafka_settings_repr_shows_no_secret() -> None:
    kafka = KafkaSettings("k:9092", (("sasl.password", "pw"), ("acks", "all")))
    assert repr(kafka) == ("KafkaSettings(bootstrap_servers='k:9092', "
                           "client={'sasl.password': '****', 'acks': 'all'})")


def test_the_producers_defaults_yield_to_the_users_kafka_settings() -> None:
    from cdc_facts.service import producer_config

    settings = load_settings({}, BASE)
    assert producer_config(settings)["retry.backoff.ms"] == "10"
    assert producer_config(settings)["linger.ms"] == "5"
    tuned = load_settings({}, {**BASE, "CDC_FACTS__KAFKA__RETRY_BACKOFF_MS": "100"})
    assert producer_config(tuned)["retry.backoff.ms"] == "100"
    assert producer_config(tuned)["transactional.id"] == tuned.transactional_id


def test_the_consumer_is_a_static_member_named_by_the_instance_id_unless_turned_off() -> None:
    from cdc_facts.service import consumer_config

    settings = load_settings({"instance_id": "pod-0"}, BASE)
    assert settings.static_membership is True
    assert consumer_config(settings)["group.instance.id"] == "pod-0"
    off = load_settings({"static_membership": False}, BASE)
    assert "group.instance.id" not in consumer_config(off)
    assert off.origins["static_membership"] == "--static-membership"
    for text in ("false", "no", "0", "off"):
        env = {**BASE, "CDC_FACTS__SERVICE__STATIC_MEMBERSHIP": text}
        assert load_settings({}, env).static_membership is False
    named = load_settings({"instance_id": "pod-0"},
                          {**BASE, "CDC_FACTS__KAFKA__GROUP_INSTANCE_ID": "custom"})
    assert consumer_config(named)["group.instance.id"] == "custom"


def test_static_membership_takes_only_true_or_false() -> None:
    with pytest.raises(ConfigError, match=r"static group membership .* expected true or false"):
        load_settings({}, {**BASE, "CDC_FACTS__SERVICE__STATIC_MEMBERSHIP": "maybe"})


def test_the_run_command_passes_the_static_membership_flag_through() -> None:
    from cdc_facts.cli.run import run

    for args, expected in (([], None), (["--no-static-membership"], False),
                           (["--static-membership"], True)):
        context = run.make_context("run", args)
        assert context.params["static_membership"] is expected


def test_an_instance_id_ending_like_the_second_transactional_id_is_refused() -> None:
    """`x.alt` would share its main transactional id with the second one of instance `x`."""
    with pytest.raises(ConfigError) as wrong:
        load_settings({"mappings": ("m",), "group_id": "g", "bootstrap_servers": "k",
                       "instance_id": "pod-1.alt"}, environ={})
    assert "`instance_id`" in wrong.value.message and "'pod-1'" in wrong.value.message
    ok = load_settings({"mappings": ("m",), "group_id": "g", "bootstrap_servers": "k",
                        "instance_id": "pod-1.alternate"}, environ={})
    assert ok.instance_id == "pod-1.alternate"


@pytest.mark.parametrize(("key", "value"), [
    ("PARTITION_ASSIGNMENT_STRATEGY", "cooperative-sticky"),
    ("PARTITION_ASSIGNMENT_STRATEGY", "range, Cooperative-Sticky"),
    ("GROUP_PROTOCOL", "consumer"),
])
def test_incremental_rebalancing_is_refused_since_the_service_assigns_eagerly(
        key: str, value: str) -> None:
    with pytest.raises(ConfigError) as wrong:
        load_settings({}, {**BASE, f"CDC_FACTS__KAFKA__{key}": value})
    name = key.lower().replace("_", ".")
    assert f"`{name}={value}` cannot be used: the service rebalances eagerly" in \
        wrong.value.message
    assert wrong.value.hint is not None and "leave it unset" in wrong.value.hint
    assert wrong.value.key == name


def test_incremental_rebalancing_is_refused_in_a_config_file_too(tmp_path: Path) -> None:
    config = _file(tmp_path, "service.yaml", """\
kafka:
  partition.assignment.strategy: [range, cooperative-sticky]
  group.protocol: consumer
""")
    with pytest.raises(ConfigError) as wrong:
        load_settings({}, BASE, config)
    assert [str(p) for p in wrong.value.problems] == [
        f"{config}:2:3: `partition.assignment.strategy=range,cooperative-sticky` cannot be "
        "used: the service rebalances eagerly, and cooperative rebalancing is incremental; "
        "use `range` or `roundrobin`",
        f"{config}:3:3: `group.protocol=consumer` cannot be used: the service rebalances "
        "eagerly, and the consumer protocol (KIP-848) rebalances incrementally; use `classic`",
    ]


def test_eager_rebalancing_settings_pass_through() -> None:
    env = {**BASE, "CDC_FACTS__KAFKA__PARTITION_ASSIGNMENT_STRATEGY": "roundrobin",
           "CDC_FACTS__KAFKA__GROUP_PROTOCOL": "classic"}
    assert dict(load_settings({}, env).kafka.client) == {
        "group.protocol": "classic", "partition.assignment.strategy": "roundrobin"}


def test_the_transaction_timeout_must_outlive_a_batch() -> None:
    """A batch stays open up to the commit interval: a shorter timeout aborts it."""
    with pytest.raises(ConfigError) as wrong:
        load_settings({"commit_interval_ms": 60_000},
                      {**BASE, "CDC_FACTS__SERVICE__TRANSACTION_TIMEOUT_MS": "5000"})
    assert wrong.value.message.startswith(
        "the transaction timeout (`transaction_timeout_ms` = 5000, from "
        "CDC_FACTS__SERVICE__TRANSACTION_TIMEOUT_MS) must be at least the commit interval "
        "(`commit_interval_ms` = 60000, from --commit-interval-ms) plus 5000 ms")
    assert wrong.value.hint is not None and "65000 or more" in wrong.value.hint
    assert wrong.value.key == "transaction_timeout_ms"
    with pytest.raises(ConfigError, match="plus 5000 ms"):  # the headroom is needed too
        load_settings({}, {**BASE, "CDC_FACTS__SERVICE__TRANSACTION_TIMEOUT_MS": "5999"})


@pytest.mark.parametrize(("cli", "env", "timeout_ms"), [
    ({}, {}, 11_000),  # the defaults
    ({"commit_interval_ms": 60_000}, {}, 70_000),  # the derived timeout follows
    ({}, {"CDC_FACTS__SERVICE__TRANSACTION_TIMEOUT_MS": "6000"}, 6000),  # 1000 + 5000
    ({"commit_interval_ms": 60_000, "guarantee": "at-least-once"},  # no transactions
     {"CDC_FACTS__SERVICE__TRANSACTION_TIMEOUT_MS": "5000"}, 5000),
])
def test_a_transaction_timeout_that_outlives_a_batch_is_accepted(
        cli: dict[str, object], env: dict[str, str], timeout_ms: int) -> None:
    assert load_settings(cli, {**BASE, **env}).transaction_timeout_ms == timeout_ms
