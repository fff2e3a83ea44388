"""Reading the ``examples`` of a mapping file: changes and the facts they must make.

Running them is :mod:`cdc_facts.rules.testing`; this module only checks their shape.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap

from cdc_facts.errors import Problem
from cdc_facts.rules.document import (
    Document,
    item_position,
    key_position,
    plain,
    value_position,
)
from cdc_facts.rules.model import Example, ExpectedFact, Rule, SourceSpec
from cdc_facts.rules.schema import CHANGE_KEYS, EXAMPLE_KEYS, EXPECT_KEYS, check_keys, suggest


def read_examples(
    doc: Document, node: Any, rules: list[Rule] | None, source: SourceSpec | None
) -> tuple[list[Example], list[Problem]]:
    """Check every example; ``rules`` (None when a fact is invalid) checks expected types."""
    if not isinstance(node, list):
        return [], []
    examples: list[Example] = []
    problems: list[Problem] = []
    for index in range(len(node)):
        example, found = _example(doc, node, index, rules)
        problems.extend(found)
        if example is not None:
            examples.append(example)
    return examples, problems


def _example(
    doc: Document, seq: Any, index: int, rules: list[Rule] | None
) -> tuple[Example | None, list[Problem]]:
    node = seq[index]
    where = f"example #{index + 1}"
    problems = check_keys(doc, node, EXAMPLE_KEYS, where)
    if not isinstance(node, CommentedMap):
        return None, problems
    change = node.get("change")
    if isinstance(change, CommentedMap):
        problems.extend(check_keys(doc, change, CHANGE_KEYS, f"the change of {where}"))
    expected: list[ExpectedFact] = []
    expect = node.get("expect")
    if isinstance(expect, list):
        for position in range(len(expect)):
            fact, found = _expected(doc, expect, position, rules, where)
            problems.extend(found)
            expected.append(fact)
    if problems:
        return None, problems
    line = item_position(seq, index)[0]
    description = str(node["description"])
    change_data = plain(change)
    assert isinstance(change_data, dict)
    return Example(description, change_data, tuple(expected), doc.file, line), problems


def _expected(
    doc: Document, seq: Any, index: int, rules: list[Rule] | None, where: str
) -> tuple[ExpectedFact, list[Problem]]:
    node = seq[index]
    where = f"expected fact #{index + 1} of {where}"
    line = item_position(seq, index)[0]
    problems = check_keys(doc, node, EXPECT_KEYS, where)
    if not isinstance(node, CommentedMap):
        return ExpectedFact({}, line), problems
    rule = _expected_rule(doc, node, rules, where, problems)
    if rule is not None and isinstance(node.get("data"), CommentedMap):
        problems.extend(_data_fields(doc, node["data"], rule, where))
    attributes = plain(node)
    assert isinstance(attributes, dict)
    return ExpectedFact(attributes, line), problems


def _expected_rule(
    doc: Document, node: CommentedMap, rules: list[Rule] | None, where: str,
    problems: list[Problem],
) -> Rule | None:
    fact_type = node.get("type")
    if rules is None or not isinstance(fact_type, str):
        return None
    by_type = {rule.fact_type: rule for rule in rules}
    if fact_type in by_type:
        return by_type[fact_type]
    line, col = value_position(node, "type")
    known = ", ".join(f"`{t}`" for t in by_type) or "none"
    problems.append(Problem(
        doc.file, line, col,
        f"{where}: this file defines no fact type `{fact_type}` (it defines {known})",
        fragment=fact_type, suggestion=suggest(fact_type, by_type),
    ))
    return None


def _data_fields(doc: Document, data: CommentedMap, rule: Rule, where: str) -> list[Problem]:
    names = [spec.name for spec in rule.fields]
    problems = []
    for name in data:
        if name not in names:
            line, col = key_position(data, name)
            problems.append(Problem(
                doc.file, line, col,
                f"{where}: `{rule.name}` has no data field `{name}`",
                fragment=str(name), suggestion=suggest(str(name), names),
            ))
    missing = [name for name in names if name not in data]
    if missing:
        line, col = key_position(data, next(iter(data), None))
        listed = ", ".join(f"`{m}`" for m in missing)
        problems.append(Problem(
            doc.file, line, col,
            f"{where}: expected data misses {listed}; data is compared as a whole, "
            "so state every field (`null` for NULL) or leave `data` out",
        ))
    return problems
