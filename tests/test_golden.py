"""Golden cases: ``tests/cases/<name>/`` holds mapping files (``*.yaml``), input change
records (``changes.jsonl``) and the expected outcome of each record (``facts.jsonl``).

Each record of ``changes.jsonl`` is a Kafka record ``{"topic", "key", "value"}`` (or a bare
Debezium value). Each line of ``facts.jsonl`` is one outcome, in order: a fact
``{"record", "topic", "key", "value": <CloudEvent>}``, a failure ``{"record", "error",
"rule", "message"}`` or a skipped record ``{"record", "skipped": true}``.

Rewrite the expected files after a deliberate change with ``--update-golden`` or
``CDC_FACTS_UPDATE_GOLDEN=1``, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cdc_facts.errors import RecordError
from cdc_facts.facts import to_cloudevent
from cdc_facts.rules import load_mappings
from cdc_facts.translator import Translator

CASES = Path(__file__).resolve().parent / "cases"
_WRAPPER = frozenset({"topic", "partition", "offset", "key", "value"})


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if (p / "changes.jsonl").exists())


def _update(config: pytest.Config) -> bool:
    option = bool(config.getoption("--update-golden", default=False))
    return option or os.environ.get("CDC_FACTS_UPDATE_GOLDEN") == "1"


def case_records(case: Path) -> list[tuple[int, dict[str, Any]]]:
    """The Kafka records of a case, each with its line number: ``{"topic", "key",
    "value"...}``, a bare Debezium value wrapped as ``{"value": ...}``."""
    records = []
    lines = (case / "changes.jsonl").read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        document = json.loads(line)
        record = document if isinstance(document, dict) and "value" in document and \
            document.keys() <= _WRAPPER else {"value": document}
        records.append((number, record))
    return records


def outcomes(case: Path) -> list[dict[str, Any]]:
    """What the translator makes of every record of the case, in order."""
    translator = Translator(load_mappings([case]))
    found: list[dict[str, Any]] = []
    for number, record in case_records(case):
        found.extend(_outcome(translator, number, record))
    return found


def _outcome(translator: Translator, number: int, record: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        result = translator.translate_record(
            record["value"], record.get("key"), record.get("topic"),
            record.get("partition", 0), record.get("offset", number))
        events = [(fact, to_cloudevent(fact)) for fact in result.facts]
    except RecordError as exc:
        return [{"record": number, "error": exc.reason, "rule": exc.rule, "message": exc.message}]
    if result.change is None:
        return [{"record": number, "skipped": True}]
    return [{"record": number, "topic": fact.topic, "key": fact.subject, "value": event}
            for fact, event in events]


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_golden_case(case: Path, request: pytest.FixtureRequest) -> None:
    actual = outcomes(case)
    expected_file = case / "facts.jsonl"
    text = "".join(json.dumps(o, sort_keys=True) + "\n" for o in actual)
    if _update(request.config):
        expected_file.write_text(text)
    assert expected_file.exists(), f"{expected_file} is missing: run with --update-golden"
    expected = [json.loads(line) for line in expected_file.read_text().splitlines() if line]
    assert actual == expected


def test_there_are_golden_cases() -> None:
    assert len(_cases()) >= 10
