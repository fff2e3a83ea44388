"""Secrets: remember every secret value and mask it (``****``) in whatever is printed.

A connector spec takes its secrets only from the environment (``${SHOP_DB_PASSWORD}``);
loading it records each secret value in a :class:`Secrets` set. Everything that reaches a
person or a log then goes through :meth:`Secrets.mask`: rendered configs, error messages,
Connect's answers (a task trace can quote a JDBC URL), log records.

A secret shorter than :data:`MIN_MASKED_LENGTH` characters is only masked where a whole
value equals it: masking it inside text would garble every message and, by where the
``****`` appear, reveal it.

>>> secrets = Secrets(["s3cr3t"])
>>> secrets.mask("password=s3cr3t")
'password=****'
>>> secrets.mask_json({"database.password": "s3cr3t", "port": 5432})
{'database.password': '****', 'port': 5432}
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit

from cdc_facts.errors import CdcFactsError, Problem

#: What a secret looks like once masked.
MASK = "****"

#: Option keys whose values are secrets, wherever they come from: passwords, tokens, JAAS
#: configs, basic-auth ``user:password`` pairs (``basic.auth.user.info``) and private keys
#: given inline (``ssl.keystore.key``, ``ssl.key.pem``, ``*.private.key``).
SECRET_KEY = re.compile(
    r"password|passwd|secret|token|credential|jaas\.config|api\.key|user\.info$"
    r"|keystore\.key$|(^|\.)key\.pem$|private\.key",
    re.I,
)

#: Secrets shorter than this are masked only where a whole value equals them, never inside
#: text: ``****`` in place of every ``a`` would garble the text and reveal the secret.
MIN_MASKED_LENGTH = 4

log = logging.getLogger(__name__)

_E = TypeVar("_E", bound=CdcFactsError)

#: The sets :func:`install_log_masking` already masks in log records.
_INSTALLED: list[Secrets] = []


def is_secret_key(key: str) -> bool:
    """Whether an option or client setting named ``key`` holds a secret.

    >>> is_secret_key("database.password"), is_secret_key("ssl.keystore.key")
    (True, True)
    >>> is_secret_key("value.converter.basic.auth.user.info"), is_secret_key("ssl.key.location")
    (True, False)
    """
    return bool(SECRET_KEY.search(key))


class Secrets:
    """A set of secret values, and the masking of them in text and documents."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._short: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Remember ``value`` as secret, with the forms it takes in URLs (DSNs), JSON text
        and Python reprs.

        A value shorter than :data:`MIN_MASKED_LENGTH` is masked only where a whole value
        equals it (with a warning, once).
        """
        if not value:
            return
        if len(value) < MIN_MASKED_LENGTH:
            if value not in self._short:
                log.warning("a secret of %d character(s) is too short to be masked inside "
                            "messages; only values equal to it are shown as %s",
                            len(value), MASK)
            self._short.add(value)
            return
        forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
                 repr(value)[1:-1]}
        self._values.update(form for form in forms if len(form) >= MIN_MASKED_LENGTH)
        self._pattern = None

    def add_config(self, config: Mapping[str, object]) -> None:
        """Remember the secrets of a connector config: the values of secret keys and the
        passwords written in URLs (``jdbc:postgresql://user:password@host/db``)."""
        for key, value in config.items():
            if not isinstance(value, str) or not value:
                continue
            if is_secret_key(str(key)):
                self.add(value)
            for password in _url_passwords(value):
                self.add(password)

    def update(self, other: Secrets) -> None:
        """Remember every secret of ``other`` too."""
        self._values.update(other._values)
        self._short.update(other._short)
        self._pattern = None

    def __len__(self) -> int:
        return len(self._values) + len(self._short)

    def __contains__(self, value: object) -> bool:
        return value in self._values or value in self._short

    def __repr__(self) -> str:
        return f"<Secrets: {len(self)} values>"

    def mask(self, text: str) -> str:
        """``text`` with every occurrence of a secret replaced by ``****``."""
        if text in self._short:
            return MASK
        if not self._values:
            return text
        if self._pattern is None:
            longest_first = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in longest_first))
        return self._pattern.sub(MASK, text)

    def mask_json(self, document: object) -> object:
        """A copy of a JSON-like document with secrets masked in every string."""
        if isinstance(document, str):
            return self.mask(document)
        if isinstance(document, dict):
            return {self.mask(str(k)): self.mask_json(v) for k, v in document.items()}
        if isinstance(document, list | tuple):
            return [self.mask_json(item) for item in document]
        return document

    def mask_config(self, config: dict[str, str]) -> dict[str, str]:
        """A copy of a connector config with secret values and secret-looking keys masked."""
        return {
            key: MASK if (is_secret_key(key) and value) else self.mask(value)
            for key, value in config.items()
        }

    def mask_error(self, error: _E) -> _E:
        """Mask secrets in an error's message, hint and text attributes, in place."""
        error.message = self.mask(error.message)
        error.args = tuple(self.mask(a) if isinstance(a, str) else a for a in error.args)
        if error.hint:
            error.hint = self.mask(error.hint)
        for name in ("trace", "observed"):
            value = getattr(error, name, None)
            if isinstance(value, str):
                setattr(error, name, self.mask(value))
        problems = getattr(error, "problems", None)
        if isinstance(problems, list):
            error.problems = [self._mask_problem(p) for p in problems]  # type: ignore[attr-defined]
        return error

    def _mask_problem(self, problem: Problem) -> Problem:
        fragment = self.mask(problem.fragment) if problem.fragment else problem.fragment
        suggestion = self.mask(problem.suggestion) if problem.suggestion else problem.suggestion
        return replace(problem, message=self.mask(problem.message), fragment=fragment,
                       suggestion=suggestion)

    def log_filter(self) -> logging.Filter:
        """A logging filter that masks secrets in each record's formatted message."""
        return _MaskingFilter(self)


def _url_passwords(text: str) -> list[str]:
    """The passwords of the ``scheme://user:password@host`` URLs in ``text``.

    >>> _url_passwords("jdbc:postgresql://cdc:p%40ss@db:5432/shop")
    ['p@ss']
    """
    passwords = []
    for match in _URL.finditer(text):
        try:
            password = urlsplit(match.group(0)).password
        except ValueError:
            continue
        if password:
            passwords.append(unquote(password))
    return passwords


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/@]+@[^\s/]*")


class _MaskingFilter(logging.Filter):
    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.secrets.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.secrets.mask(text)
        elif record.exc_text:
            record.exc_text = self.secrets.mask(record.exc_text)
        return True


def install_log_masking(secrets: Secrets) -> None:
    """Mask ``secrets`` in every log record of the process, whichever handler emits it.

    The record factory is wrapped once per :class:`Secrets` set, so installing it twice is
    harmless.
    """
    if any(installed is secrets for installed in _INSTALLED):
        return
    _INSTALLED.append(secrets)
    current = logging.getLogRecordFactory()
    masker = _MaskingFilter(secrets)

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = current(*args, **kwargs)
        masker.filter(record)
        return record

    logging.setLogRecordFactory(factory)
