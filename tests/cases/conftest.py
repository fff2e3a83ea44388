"""The ``--update-golden`` option of the golden cases (``tests/test_golden.py``).

Golden files are rewritten only when asked, with either of::

    CDC_FACTS_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py
    .venv/bin/python -m pytest -p tests.cases.conftest tests/test_golden.py --update-golden

(pytest reads options only from conftests it loads before collecting, and this one sits
below ``tests/``: the second form loads it as a plugin first.)
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
