"""Masking secrets in text, documents, errors and logs."""

from __future__ import annotations

import logging

import pytest

from cdc_facts.errors import ConnectorFailedError, ConnectorSpecError, Problem
from cdc_facts.secrets import MASK, Secrets, install_log_masking, is_secret_key


def test_mask_text_and_url_encoded_forms() -> None:
    secrets = Secrets(["p@ss word"])
    assert secrets.mask("pw=p@ss word") == f"pw={MASK}"
    assert secrets.mask("postgresql://cdc:p%40ss%20word@db/shop") == f"postgresql://cdc:{MASK}@db/shop"
    assert secrets.mask("postgresql://cdc:p%40ss+word@db/shop") == f"postgresql://cdc:{MASK}@db/shop"


def test_longest_secret_first() -> None:
    secrets = Secrets(["abcd", "abcdefg"])
    assert secrets.mask("abcdefg abcd") == f"{MASK} {MASK}"


def test_empty_secret_is_ignored() -> None:
    secrets = Secrets([""])
    assert len(secrets) == 0
    assert secrets.mask("text") == "text"


def test_mask_json_is_a_deep_copy() -> None:
    secrets = Secrets(["s3cr"])
    document = {"a": ["x s3cr", {"b": "s3cr"}], "n": 1, "s3cr": None}
    assert secrets.mask_json(document) == {"a": [f"x {MASK}", {"b": MASK}], "n": 1, MASK: None}
    assert document["a"] == ["x s3cr", {"b": "s3cr"}]


def test_a_short_secret_is_masked_only_as_a_whole_value(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cdc_facts.secrets"):
        secrets = Secrets(["a", "a"])
    assert "pw" not in secrets and "a" in secrets
    assert secrets.mask("database at localhost") == "database at localhost"
    assert secrets.mask("a") == MASK
    assert secrets.mask_json({"password": "a", "host": "a.b"}) == {"password": MASK, "host": "a.b"}
    assert len(caplog.records) == 1 and "too short to be masked" in caplog.messages[0]


def test_escaped_forms_are_masked_too() -> None:
    secrets = Secrets(['pa\\ss"word'])
    assert secrets.mask(repr('pa\\ss"word')) == f"'{MASK}'"
    assert secrets.mask('{"pw": "pa\\\\ss\\"word"}') == f'{{"pw": "{MASK}"}}'


@pytest.mark.parametrize("key", [
    "database.password", "value.converter.basic.auth.user.info",
    "schema.registry.basic.auth.user.info", "ssl.keystore.key",
    "producer.override.ssl.keystore.key", "ssl.key.pem", "consumer.ssl.key.pem",
    "snowflake.private.key", "sasl.jaas.config", "sasl.oauthbearer.client.secret",
])
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [
    "ssl.key.location", "ssl.keystore.location", "key.converter", "message.key.columns",
    "ssl.keystore.type", "database.user", "sasl.username",
])
def test_keys_that_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_add_config_learns_secret_keys_and_url_passwords() -> None:
    secrets = Secrets()
    secrets.add_config({"database.password": "pg-pa55", "database.user": "cdc",
                        "jdbc.url": "jdbc:postgresql://cdc:url%40pass@db:5432/shop",
                        "tasks.max": 1})
    assert secrets.mask("pg-pa55 url@pass cdc") == f"{MASK} {MASK} cdc"


def test_mask_config_masks_secret_keys_even_unknown_values() -> None:
    secrets = Secrets(["pw"])
    config = {"database.password": "other", "database.user": "cdc", "x": "pw", "a.password": ""}
    assert secrets.mask_config(config) == {
        "database.password": MASK, "database.user": "cdc", "x": MASK, "a.password": "",
    }


def test_mask_error_in_place() -> None:
    secrets = Secrets(["s3cr3t"])
    error = ConnectorFailedError("failed: s3cr3t", connector="c", trace="at s3cr3t", hint="s3cr3t")
    assert secrets.mask_error(error) is error
    assert (str(error), error.trace, error.hint) == (f"failed: {MASK}", f"at {MASK}", MASK)
    assert error.args == (f"failed: {MASK}",)


def test_mask_error_problems() -> None:
    secrets = Secrets(["s3cr3t"])
    error = ConnectorSpecError("bad", problems=[Problem("f", 1, 1, "s3cr3t", fragment="s3cr3t",
                                                        suggestion="pw: 's3cr3t'")])
    secrets.mask_error(error)
    assert error.problems[0].message == MASK and error.problems[0].fragment == MASK
    assert error.problems[0].suggestion == f"pw: '{MASK}'"


def test_log_filter(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.secrets.filter")
    logger.addFilter(Secrets(["s3cr3t"]).log_filter())
    with caplog.at_level(logging.INFO, logger="test.secrets.filter"):
        logger.info("connecting with %s", "s3cr3t")
    assert caplog.messages == [f"connecting with {MASK}"]


def test_install_log_masking_covers_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    secrets = Secrets(["t0ps3cret"])
    original = logging.getLogRecordFactory()
    try:
        install_log_masking(secrets)
        install_log_masking(secrets)
        with caplog.at_level(logging.INFO):
            logging.getLogger("any.where").info("dsn=%s", "postgresql://u:t0ps3cret@h")
            try:
                raise ValueError("t0ps3cret")
            except ValueError:
                logging.getLogger("any.where").exception("boom")
        assert caplog.messages[0] == f"dsn=postgresql://u:{MASK}@h"
        assert "t0ps3cret" not in caplog.text
    finally:
        logging.setLogRecordFactory(original)
