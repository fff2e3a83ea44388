"""Reading the ``examples`` of a mapping file: changes and the facts they must make.

Running them is :mod:`cdc_facts.rules.testing`; this module only checks their shape.
"""

from __future__ import annotations

from typing import Any, Final

from ruamel.yaml.comments import CommentedMap

from cdc_facts.envelope.records import is_millis
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
        found = check_keys(doc, change, CHANGE_KEYS, f"the change of {where}")
        problems.extend(found or _impossible_change(doc, node, change, where))
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


#: The images each op carries in a change Debezium writes: ``(before, after)``, each
#: ``True`` (there), ``False`` (null) or ``None`` (either: a delete's before image may be
#: left out, for one the table does not deliver).
_IMAGES: Final[dict[str, tuple[bool | None, bool]]] = {
    "c": (False, True), "r": (False, True), "u": (None, True), "d": (None, False),
    "t": (False, False),
}
_OP_NAMES: Final = {"c": "an insert (op c)", "r": "a snapshot read (op r)",
                    "u": "an update (op u)", "d": "a delete (op d)", "t": "a truncate (op t)"}


def _impossible_change(doc: Document, node: CommentedMap, change: CommentedMap,
                       where: str) -> list[Problem]:
    """A change Debezium never writes: an image its op does not have, or no ``after`` where
    its op has one; ``source`` fields that are not single values, and a ``ts_ms`` (or
    ``source.ts_ms``) that is no time."""
    op = str(change["op"])
    problems = []
    for name, wanted in zip(("before", "after"), _IMAGES[op], strict=True):
        present = change.get(name) is not None
        if wanted is None or present == wanted:
            continue
        if present:
            line, col = key_position(change, name)
            message = (f"the change of {where} is {_OP_NAMES[op]}, which has no `{name}` "
                       f"image: Debezium writes `{name}: null`; remove `{name}`")
        else:
            line, col = key_position(node, "change")
            message = (f"the change of {where} is {_OP_NAMES[op]}, which always has an "
                       f"`{name}` image: add `{name}` with the row's columns")
        problems.append(Problem(doc.file, line, col, message, fragment=name if present
                                else "change"))
    source = change.get("source")
    fields = [(change, "ts_ms", "ts_ms")] + ([(source, f, f"source.{f}") for f in source]
                                            if isinstance(source, CommentedMap) else [])
    for holder, field, name in fields:
        value = plain(holder.get(field))
        if isinstance(value, dict | list) or (field == "ts_ms" and not is_millis(value)):
            line, col = value_position(holder, field)
            kind = ("epoch milliseconds of the years 1 to 9999" if field == "ts_ms"
                    else "a single value")
            problems.append(Problem(
                doc.file, line, col,
                f"`{name}` of the change of {where} must be {kind}, as Debezium writes it"))
    return problems


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
