"""What every command prints on errors: literally, unwrapped, secrets masked, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cdc_facts.cli import cli
from cdc_facts.cli.output import SECRETS

MAPPINGS = str(Path(__file__).resolve().parent.parent / "mappings")


def invoke(*args: str, env: dict[str, str | None] | None = None, columns: int = 400) -> Result:
    wide: dict[str, str | None] = {"COLUMNS": str(columns), **(env or {})}
    return CliRunner().invoke(cli, list(args), env=wide, catch_exceptions=False)


def run(*args: str, env: dict[str, str | None] | None = None, columns: int = 400) -> Result:
    return invoke("run", "-m", MAPPINGS, "--group", "g", "--bootstrap-servers", "k:1", *args,
                  env=env, columns=columns)


@pytest.mark.parametrize("value", ["[/x]", "[public.orders]", "[bold]x[/bold]"])
def test_error_messages_are_printed_literally(value: str) -> None:
    result = run(env={"CDC_FACTS__SERVICE__BATCH_SIZE": value})
    assert result.exit_code == 1
    assert f"expected a whole number, got '{value}'" in result.stderr
    assert "Traceback" not in result.stderr


def test_error_messages_are_not_wrapped_when_not_on_a_terminal(tmp_path: Path) -> None:
    config = tmp_path / "a-config-file-with-a-rather-long-name.yaml"
    config.write_text("service:\n  comit_interval_ms: 5\n  batch_size: lots\n"
                      "kafka: {group.id: x}\n")
    result = run("--config", str(config), columns=40)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"ConfigError: 3 problems in the config file {config}:"
    assert lines[1:4] == [
        f"  {config}:2:3: unknown service setting `comit_interval_ms` "
        "(did you mean `commit_interval_ms`?)",
        f"  {config}:3:15: wrong value for the batch size (`batch_size`): expected a whole "
        "number, got 'lots'",
        f"  {config}:4:9: `group.id` cannot be set: use --group (or service.group_id)",
    ]
    assert lines[4] == "hint: fix the config file; docs/service.md lists every setting"


def test_a_yaml_syntax_error_in_the_config_file_never_echoes_a_secret(tmp_path: Path) -> None:
    config = tmp_path / "service.yaml"
    config.write_text("kafka:\n  bootstrap.servers: k:9092\n  sasl.password: Sup3r: S3cret\n")
    result = run("--config", str(config))
    assert result.exit_code == 1
    assert f"{config}:3:23: YAML syntax error: mapping values are not allowed here" \
        in result.stderr
    assert "S3cret" not in result.stderr and "Sup3r" not in result.stderr


def test_a_port_out_of_range_is_a_usage_error() -> None:
    result = run("--metrics-port", "99999")
    assert result.exit_code == 2
    assert "99999 is not in the range 0<=x<=65535" in result.stderr


def test_an_unexpected_error_is_one_masked_line_not_a_traceback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("cannot [/x] with Unexp3cted-pw")

    SECRETS.add("Unexp3cted-pw")
    monkeypatch.setattr("cdc_facts.cli.run.load_settings", boom)
    result = run()
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "RuntimeError: cannot [/x] with ****"
    assert "--debug" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(RuntimeError):
        invoke("--debug", "run", "-m", MAPPINGS, "--group", "g", "--bootstrap-servers", "k:1")
