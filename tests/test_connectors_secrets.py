"""Masking secrets in text, documents, errors and logs."""

from __future__ import annotations

import logging

import pytest

from cdc_facts.errors import ConnectorFailedError, ConnectorSpecError, Problem
from cdc_facts.secrets import MASK, Secrets, install_log_masking


def test_mask_text_and_url_encoded_forms() -> None:
    secrets = Secrets(["p@ss word"])
    assert secrets.mask("pw=p@ss word") == f"pw={MASK}"
    assert secrets.mask("postgresql://cdc:p%40ss%20word@db/shop") == f"postgresql://cdc:{MASK}@db/shop"
    assert secrets.mask("postgresql://cdc:p%40ss+word@db/shop") == f"postgresql://cdc:{MASK}@db/shop"


def test_longest_secret_first() -> None:
    secrets = Secrets(["abc", "abcdef"])
    assert secrets.mask("abcdef abc") == f"{MASK} {MASK}"


def test_empty_secret_is_ignored() -> None:
    secrets = Secrets([""])
    assert len(secrets) == 0
    assert secrets.mask("text") == "text"


def test_mask_json_is_a_deep_copy() -> None:
    secrets = Secrets(["s3"])
    document = {"a": ["x s3", {"b": "s3"}], "n": 1, "s3": None}
    assert secrets.mask_json(document) == {"a": [f"x {MASK}", {"b": MASK}], "n": 1, MASK: None}
    assert document["a"] == ["x s3", {"b": "s3"}]


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
    error = ConnectorSpecError("bad", problems=[Problem("f", 1, 1, "s3cr3t", fragment="s3cr3t")])
    secrets.mask_error(error)
    assert error.problems[0].message == MASK and error.problems[0].fragment == MASK


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
