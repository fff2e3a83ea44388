"""The unavailable-value placeholder in every form Debezium gives it, found in a row."""

from __future__ import annotations

import base64

import pytest

from cdc_facts.envelope.placeholders import _Placeholders
from cdc_facts.types import UNKNOWN

TEXT = "__debezium_unavailable_value"
FORMS = [TEXT, base64.b64encode(TEXT.encode()).decode(), [TEXT], list(TEXT.encode())]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("others", [{"id": 1, "s": "x"}, {"id": 1, "tags": ["a"], "j": {"k": 1}}])
def test_each_form_becomes_unknown_and_nothing_else_changes(form: object,
                                                            others: dict[str, object]) -> None:
    row = {**others, "v": form}
    _Placeholders(TEXT).replace(row)
    assert row == {**others, "v": UNKNOWN}


@pytest.mark.parametrize("row", [{"id": 1, "s": TEXT + " "}, {"tags": [TEXT, TEXT]},
                                 {"j": {"v": TEXT}}, {}])
def test_values_that_only_contain_it_stay(row: dict[str, object]) -> None:
    before = dict(row)
    _Placeholders(TEXT).replace(row)
    assert row == before

