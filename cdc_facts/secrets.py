"""Secrets: remember every secret value and mask it (``****``) in whatever is printed.

A connector spec takes its secrets only from the environment (``${SHOP_DB_PASSWORD}``);
loading it records each secret value in a :class:`Secrets` set. Everything that reaches a
person or a log then goes through :meth:`Secrets.mask`: rendered configs, error messages,
Connect's answers (a task trace can quote a JDBC URL), log records.

>>> secrets = Secrets(["s3cr3t"])
>>> secrets.mask("password=s3cr3t")
'password=****'
>>> secrets.mask_json({"database.password": "s3cr3t", "port": 5432})
{'database.password': '****', 'port': 5432}
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import TypeVar
from urllib.parse import quote, quote_plus

from cdc_facts.errors import CdcFactsError, Problem

#: What a secret looks like once masked.
MASK = "****"

#: Option keys whose values are secrets, wherever they come from.
SECRET_KEY = re.compile(r"(password|passwd|secret|token|credential|jaas\.config|api\.key)", re.I)

_E = TypeVar("_E", bound=CdcFactsError)

#: The sets :func:`install_log_masking` already masks in log records.
_INSTALLED: list[Secrets] = []


class Secrets:
    """A set of secret values, and the masking of them in text and documents."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Remember ``value`` (and its URL-encoded forms, as found in DSNs) as secret."""
        if not value:
            return
        self._values.update({value, quote(value, safe=""), quote_plus(value)})
        self._pattern = None

    def update(self, other: Secrets) -> None:
        """Remember every secret of ``other`` too."""
        self._values.update(other._values)
        self._pattern = None

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __repr__(self) -> str:
        return f"<Secrets: {len(self._values)} values>"

    def mask(self, text: str) -> str:
        """``text`` with every occurrence of a secret replaced by ``****``."""
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
            key: MASK if (SECRET_KEY.search(key) and value) else self.mask(value)
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
        return replace(problem, message=self.mask(problem.message), fragment=fragment)

    def log_filter(self) -> logging.Filter:
        """A logging filter that masks secrets in each record's formatted message."""
        return _MaskingFilter(self)


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
