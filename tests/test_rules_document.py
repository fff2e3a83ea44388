"""YAML documents with positions: syntax errors, duplicate keys, scalar positions."""

from __future__ import annotations

import pytest

from cdc_facts.rules.document import (
    ScalarPositions,
    item_position,
    key_position,
    parse_document,
    plain,
    value_position,
)


def _position_of(text: str, key: str, needle: str) -> tuple[int, int]:
    """Where ``needle`` inside the value of top-level ``key`` sits in the file."""
    doc, problems = parse_document("f.yaml", text)
    assert doc is not None and not problems
    value = doc.data[key]
    index = value.index(needle)
    line = value[:index].count("\n") + 1
    col = index - (value[:index].rfind("\n") + 1) + 1
    return ScalarPositions(doc.lines, value, value_position(doc.data, key)).file_position(line, col)


def _find(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """Where the ``occurrence``-th ``needle`` sits in ``text``, 1-based."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text[:index].count("\n") + 1
    return line, index - (text[:index].rfind("\n") + 1) + 1


@pytest.mark.parametrize(
    "text",
    [
        "when: op = 'u' AND after.zz = 1\n",
        "when: \"op = 'u' AND after.zz = 1\"\n",
        "when: 'op = ''u'' AND after.zz = 1'\n",
        "when: \"op = \\\"u\\\" AND after.zz = 1\"\n",
        "when: |\n  op = 'u'\n    AND after.zz = 1\n",
        "when: >-\n  op = 'u'\n  AND after.zz = 1\n",
        "when: op = 'u'\n  AND after.zz = 1\n",
        "other: 1\nwhen: |2\n\n  op = 'u'\n\n  AND after.zz = 1\n",
        "when: \"op = '\\u00e9\\x41\\U0001F600\\t' AND after.zz = 1\"\n",
        "when: \"after.a = '\\u00e9' AND\n  after.b = '\\x41\\x42' AND after.zz = 1\"\n",
    ],
    ids=["plain", "double", "single-escaped", "double-escaped", "literal", "folded",
         "plain-multiline", "literal-blank-lines", "double-unicode-escapes",
         "double-escapes-over-lines"],
)
def test_positions_inside_scalars_point_at_the_file(text: str) -> None:
    assert _position_of(text, "when", "after.zz") == _find(text, "after.zz")


def test_position_past_the_end_is_clamped_to_the_scalar() -> None:
    doc, _ = parse_document("f.yaml", "when: op\n")
    assert doc is not None
    positions = ScalarPositions(doc.lines, doc.data["when"], value_position(doc.data, "when"))
    assert positions.file_position(9, 99) == (1, 9)


def test_syntax_error_is_one_problem_at_its_position() -> None:
    doc, problems = parse_document("f.yaml", "a: [1, 2\nb: 3\n")
    assert doc is None
    assert len(problems) == 1
    assert (problems[0].line, problems[0].col) == (2, 2)
    assert problems[0].message.startswith("YAML syntax error")


def test_tab_indentation_is_a_syntax_error() -> None:
    _, problems = parse_document("f.yaml", "a:\n\tb: 1\n")
    assert problems and problems[0].file == "f.yaml" and problems[0].line == 2


def test_every_duplicate_key_is_reported_and_the_first_value_wins() -> None:
    text = "a: 1\nb:\n  x: 1\n  x: 2\na: 3\n"
    doc, problems = parse_document("f.yaml", text)
    assert doc is not None and doc.data["a"] == 1 and doc.data["b"]["x"] == 1
    assert [(p.line, p.col, p.fragment) for p in problems] == [(4, 3, "x"), (5, 1, "a")]
    assert "first defined on line 3" in problems[0].message


def test_key_value_and_item_positions_are_one_based() -> None:
    doc, _ = parse_document("f.yaml", "top:\n  - name: x\n    when: y\n")
    assert doc is not None
    item = doc.data["top"][0]
    assert item_position(doc.data["top"], 0) == (2, 5)
    assert key_position(item, "when") == (3, 5)
    assert value_position(item, "when") == (3, 11)


def test_plain_turns_round_trip_data_into_builtins() -> None:
    doc, _ = parse_document("f.yaml", "a: {b: [1, 2.5, 'x', true, null]}\n")
    assert doc is not None
    value = plain(doc.data)
    assert value == {"a": {"b": [1, 2.5, "x", True, None]}}
    assert type(value) is dict and type(value["a"]["b"][2]) is str  # type: ignore[index]


MERGED = """\
facts:
  - &base
    name: A
    when: op = 'c'
    key: after.id
  - <<: *base
    name: B
  - <<: [*base]
    key: after.code
"""


def test_positions_of_keys_merged_in_are_where_the_anchor_writes_them() -> None:
    doc, _ = parse_document("f.yaml", MERGED)
    assert doc is not None
    first, second, third = doc.data["facts"]
    assert key_position(second, "when") == key_position(first, "when") == (4, 5)
    assert value_position(second, "when") == value_position(first, "when") == (4, 11)
    assert value_position(second, "name") == (7, 11)  # its own key: its own place
    assert value_position(third, "key") == (9, 10)  # overrides the merged one
    assert value_position(third, "name") == (3, 11)
    assert value_position(third, "nothing") == (8, 5)  # no such key: the mapping
