"""The ``--update-golden`` option of the golden cases (``tests/test_golden.py``).

Golden files are rewritten only when asked: ``pytest tests/test_golden.py --update-golden``
(when this conftest is loaded as a plugin) or ``CDC_FACTS_UPDATE_GOLDEN=1 pytest
tests/test_golden.py`` (always works).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption(
            "--update-golden", action="store_true", default=False,
            help="rewrite the expected facts.jsonl of every golden case in tests/cases/",
        )
    except ValueError:  # already added: this file is loaded both as plugin and conftest
        pass
