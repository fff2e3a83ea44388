"""A mapping file as YAML with positions: where every key and value sits in the file.

Positions are 1-based ``(line, col)``. :class:`ScalarPositions` maps a position inside
an expression's text (as the expression compiler reports it) back to the file, through
plain, quoted, literal (``|``) and folded (``>``) scalars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from cdc_facts.errors import Problem
from cdc_facts.rules.syntax import character_problem, syntax_problem

Position = tuple[int, int]


@dataclass(frozen=True)
class Document:
    """One parsed YAML file: its text (for positions) and its round-trip data."""

    file: str
    lines: tuple[str, ...]
    data: Any

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line``, or ``""`` past the end."""
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


def parse_document(file: str, text: str) -> tuple[Document | None, list[Problem]]:
    """Parse ``text``; a syntax error becomes one problem at its position, with advice.

    Duplicate keys do not stop parsing: each one is a problem and the first value wins.
    """
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = True
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        return None, [syntax_problem(file, text, exc)]
    except ReaderError as exc:
        return None, [character_problem(file, text, exc)]
    problems = _duplicate_keys(file, text)
    return Document(file, tuple(text.splitlines()), data), problems


def _duplicate_keys(file: str, text: str) -> list[Problem]:
    root = YAML(typ="rt").compose(text)
    problems: list[Problem] = []
    stack: list[Node] = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            seen: dict[object, int] = {}
            for key, value in node.value:
                name = getattr(key, "value", None)
                if isinstance(name, str) and name in seen:
                    mark = key.start_mark
                    problems.append(Problem(
                        file, mark.line + 1, mark.column + 1,
                        f"duplicate key `{name}` (first defined on line {seen[name]}); "
                        "the first definition is used: remove or rename one",
                        fragment=name,
                    ))
                elif isinstance(name, str):
                    seen[name] = key.start_mark.line + 1
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return sorted(problems, key=lambda p: (p.line, p.col))


def key_position(node: object, key: object) -> Position:
    """Where ``key`` of mapping ``node`` starts (in the mapping merged in with
    ``<<: *anchor`` that writes it, if ``node`` does not)."""
    if isinstance(node, CommentedMap):
        try:
            line, col = _writer(node, key).lc.key(key)
            return line + 1, col + 1
        except (KeyError, TypeError):
            pass
    return node_position(node)


def value_position(node: object, key: object) -> Position:
    """Where the value of ``key`` in mapping ``node`` starts (in the mapping merged in with
    ``<<: *anchor`` that writes it, if ``node`` does not)."""
    if isinstance(node, CommentedMap):
        try:
            line, col = _writer(node, key).lc.value(key)
            return line + 1, col + 1
        except (KeyError, TypeError):
            pass
    return node_position(node)


def _writer(node: CommentedMap, key: object) -> CommentedMap:
    """The mapping that writes ``key`` of ``node``: ``node`` itself, or the first mapping
    it merges in (``<<: *anchor``, ``<<: [*a, *b]``) that does, as YAML's merge takes the
    value; ``node`` when none does."""
    try:
        node.lc.key(key)
        return node
    except (KeyError, TypeError):
        pass
    for merged in getattr(node, "merge", ()):
        if isinstance(merged, tuple):  # older ruamel: (position, mapping) pairs
            merged = merged[1]
        if isinstance(merged, CommentedMap) and key in merged:
            return _writer(merged, key)
    return node


def item_position(node: object, index: int) -> Position:
    """Where item ``index`` of sequence ``node`` starts."""
    if isinstance(node, CommentedSeq):
        try:
            line, col = node.lc.item(index)
            return line + 1, col + 1
        except (KeyError, TypeError, IndexError):
            pass
    return node_position(node)


def node_position(node: object) -> Position:
    """Where a mapping or sequence starts; ``(1, 1)`` when unknown."""
    lc = getattr(node, "lc", None)
    if lc is not None and lc.line is not None:
        return lc.line + 1, lc.col + 1
    return 1, 1


def plain(value: object) -> object:
    """Round-trip YAML data as plain Python: dicts, lists, str, int, float, bool, None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


class ScalarPositions:
    """Maps offsets inside a string scalar to file positions.

    >>> lines = ("when: op = 'u'",)
    >>> ScalarPositions(lines, "op = 'u'", (1, 7)).file_position(1, 6)
    (1, 12)
    """

    def __init__(self, lines: tuple[str, ...], value: str, start: Position) -> None:
        self._value = value
        self._positions = _walk(lines, value, start)

    def file_position(self, line: int, col: int) -> Position:
        """The file position of 1-based ``line``/``col`` inside the scalar's text."""
        rows = self._value.split("\n")
        line = min(max(line, 1), len(rows))
        offset = sum(len(row) + 1 for row in rows[: line - 1]) + max(col, 1) - 1
        if not self._positions:
            return 1, 1
        return self._positions[min(offset, len(self._positions) - 1)]


def _walk(lines: tuple[str, ...], value: str, start: Position) -> list[Position]:
    """The file position of every character of ``value`` (and one past its end)."""
    block = isinstance(value, LiteralScalarString | FoldedScalarString)
    quoted = isinstance(value, SingleQuotedScalarString | DoubleQuotedScalarString)
    row, col = start[0] - 1, start[1] - 1
    indent = 0
    if block:
        row, indent = _block_start(lines, row)
        col = indent
    elif quoted:
        col += 1
    positions: list[Position] = []
    for char in value:
        text = lines[row] if row < len(lines) else ""
        if col >= len(text) and row + 1 < len(lines):
            line_end = (row + 1, col + 1)
            row += 1
            col = indent if block else _first_non_space(lines[row])
            if char in " \n":
                positions.append(line_end)
                continue
            text = lines[row]
        positions.append((row + 1, col + 1))
        col += _escape_width(text, col, char, value) if quoted else 1
    positions.append((row + 1, col + 1))
    return positions


def _block_start(lines: tuple[str, ...], header: int) -> tuple[int, int]:
    """The first line of a block scalar's content and its indentation."""
    row = header + 1
    while row < len(lines) and not lines[row].strip():
        row += 1
    if row >= len(lines):
        return header, 0
    return header + 1, _first_non_space(lines[row])


def _first_non_space(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


#: How many characters of a double-quoted scalar each escape takes: ``\x41``, ``\u00e9``,
#: ``\U0001F600`` make one character; every other escape (``\t``, ``\"``...) is two.
_ESCAPE_WIDTHS = {"x": 4, "u": 6, "U": 10}


def _escape_width(text: str, col: int, char: str, value: str) -> int:
    """How many characters of the source at ``col`` make ``char``: an escape's, else 1."""
    here = text[col : col + 2]
    if isinstance(value, SingleQuotedScalarString):
        return 2 if here == "''" else 1
    if here[:1] != "\\" or (char == "\\" and here != "\\\\"):
        return 1
    return _ESCAPE_WIDTHS.get(here[1:], 2)
