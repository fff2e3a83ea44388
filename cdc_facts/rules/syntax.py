"""A YAML syntax error as one problem: ruamel's position and text, and what to do about it.

ruamel says what it expected where it gave up, which is often a line after the mistake.
The advice reads the problem text, the offending line and the tokens scanned so far to
name the likely cause: a tab, a value that needs quotes, a bracket or quote left open,
bad indentation.
"""

from __future__ import annotations

import json
import re

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.tokens import (
    FlowMappingEndToken,
    FlowMappingStartToken,
    FlowSequenceEndToken,
    FlowSequenceStartToken,
    ScalarToken,
    Token,
)

from cdc_facts.errors import Problem

Advice = tuple[str | None, str | None]  # what to do, and the line as it should read

_KEY = re.compile(r"^\s*(?:-\s+)*[^\s#'\"\[{][^:#]*?:(?=\s|$)")
_KEY_WITHOUT_SPACE = re.compile(r"^\s*(?:-\s+)*[\w.-]+:[^\s:/]")
_CLOSING = {"[": ("]", "list"), "{": ("}", "mapping")}


def syntax_problem(file: str, text: str, exc: MarkedYAMLError) -> Problem:
    """The problem for a YAML syntax error ruamel raised while reading ``text``."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    what = exc.problem or exc.context or "invalid YAML"
    advice, suggestion = _advice(exc, text.splitlines(), line, col, text)
    message = f"YAML syntax error: {what}" + (f"; {advice}" if advice else "")
    return Problem(file, line, col, message, suggestion=suggestion)


def character_problem(file: str, text: str, exc: ReaderError) -> Problem:
    """The problem for a character YAML does not allow (ruamel's reader refuses it)."""
    before = text[: exc.position]
    line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
    return Problem(
        file, line, col,
        f"YAML syntax error: control character U+{char:04X} is not allowed in YAML; "
        f"remove it, or write it as the escape `\\x{char:02x}` inside double quotes",
    )


def _advice(exc: MarkedYAMLError, lines: list[str], line: int, col: int, text: str) -> Advice:
    problem, context = exc.problem or "", exc.context or ""
    row = lines[line - 1] if 0 < line <= len(lines) else ""
    start = _where(exc)
    if "'\\t'" in problem:
        if not row[: col - 1].strip():
            return "indent with spaces, not tabs", None
        spaced = row.replace("\t", " ")
        value = _value_start(spaced)
        return "use spaces, not tabs", None if ": " in spaced[value or 0 :] else spaced
    if "cannot start any token" in problem:
        char = row[col - 1 : col]
        shown = "a backquote" if char == "`" else f"`{char}`"
        return f"a value that starts with {shown} must be quoted", _quoted_at(row, col)
    if "alias" in problem or "alias" in context or "anchor" in context:
        mark = exc.context_mark if "alias" in context or "anchor" in context else None
        begins = col if mark is None else mark.column + 1
        return ("a value that starts with `*` (an alias) or `&` (an anchor) must be quoted",
                _quoted_at(row, begins))
    if "quoted scalar" in context and start is not None:
        quote = _char_at(lines, exc.context_mark)
        return f"the {quote} opened at {start} is not closed: end the value with {quote}", None
    if "another document" in problem:
        return "a mapping file holds one document: remove the `---` line", None
    if problem == "could not find expected ':'":
        return _key_advice(exc, lines)
    if problem == "mapping values are not allowed here":
        return _colon_advice(lines, line, col, row)
    return _parser_advice(exc, text, lines, line, col, row)


def _parser_advice(
    exc: MarkedYAMLError, text: str, lines: list[str], line: int, col: int, row: str
) -> Advice:
    problem = exc.problem or ""
    tokens = _tokens(text)
    unclosed = _open_flow(exc, lines) or _unclosed(tokens)
    if unclosed is not None:
        char, (at_line, at_col) = unclosed
        close, kind = _CLOSING[char]
        return (f"the `{char}` opened at line {at_line}, column {at_col} is not closed: "
                f"end the {kind} with `{close}`"), None
    runaway = _runaway_quote(tokens, line)
    if runaway is not None:
        return (f"the quoted value that starts at {runaway} ends only on line {line}: "
                "is its closing quote missing?"), None
    if not problem.startswith("expected <block end>"):
        return None, None
    if problem.endswith(("']'", "'}'")):
        return f"this `{problem[-2]}` closes nothing: remove it, or quote the value", None
    value = _value_start(row)
    if value is not None and value < col - 1 and row[value] in "'\"[{":
        return (f"a value that starts with `{row[value]}` ends where it closes: "
                "quote the whole value"), _quoted(row)
    return ("bad indentation: indent this line with spaces to the column of the keys or "
            f"`- ` items it belongs with{_enclosing(exc, lines)}"), None


def _colon_advice(lines: list[str], line: int, col: int, row: str) -> Advice:
    key = _KEY.match(row)
    if key is not None and col - 1 >= key.end():
        return "quote the value: unquoted, a `: ` inside it starts a key", _quoted(row)
    above = _line_above(lines, line)
    if above is None:
        return "quote a value that holds `: `", None
    glued = _space_after_colon(lines, above)
    if glued is not None:
        return glued, None
    if _indent(row) > _indent(lines[above - 1]):
        return (f"this line is indented deeper than line {above}, so YAML reads it as part "
                f"of the value there: line up the keys of one mapping"), None
    return (f"YAML reads this line as part of the value on line {above}: "
            "check its indentation and quote a value that holds `: `"), None


def _space_after_colon(lines: list[str], line: int) -> str | None:
    """Advice for line ``line`` when it holds ``key:value`` with no space after the colon."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    glued = _KEY_WITHOUT_SPACE.match(text)
    if glued is None:
        return None
    fixed = f"{glued.group()[:-1]} {text[glued.end() - 1 :]}".strip()
    return f"put a space after the colon on line {line}: `{fixed}`"


def _key_advice(exc: MarkedYAMLError, lines: list[str]) -> Advice:
    """Advice for a line that YAML took for the start of a key with no ``:``."""
    mark = exc.context_mark
    if mark is None:
        return None, None
    line = mark.line + 1
    glued = _space_after_colon(lines, line)
    if glued is not None:
        return glued, None
    return (f"line {line} is neither `key: value` nor a `- ` item: add the `: `, or indent "
            "it deeper to continue the value above it"), None


def _quoted(row: str) -> str | None:
    """``row`` with its value in double quotes, or ``None`` when it has no ``key: value``."""
    key = _KEY.match(row)
    if key is None:
        return None
    value, hash_, comment = row[key.end() :].strip().partition(" #")
    if not value:
        return None
    if '"' in value and "'" not in value:
        quoted = f"'{value}'"
    else:
        quoted = json.dumps(value, ensure_ascii=False)
    return f"{row[: key.end()]} {quoted}{hash_}{comment}"


def _quoted_at(row: str, col: int) -> str | None:
    """``row`` with its value quoted, if that value starts at ``col``."""
    return _quoted(row) if _value_start(row) == col - 1 else None


def _value_start(row: str) -> int | None:
    key = _KEY.match(row)
    if key is None:
        return None
    rest = row[key.end() :]
    return key.end() + len(rest) - len(rest.lstrip()) if rest.strip() else None


def _tokens(text: str) -> list[Token]:
    """The tokens ruamel scans before the first error."""
    tokens: list[Token] = []
    try:
        for token in YAML(typ="rt").scan(text):
            tokens.append(token)
    except YAMLError:
        pass
    return tokens


def _open_flow(exc: MarkedYAMLError, lines: list[str]) -> tuple[str, tuple[int, int]] | None:
    """The ``[`` or ``{`` the parser was inside when it gave up, from its context."""
    mark = exc.context_mark
    if mark is None or not (exc.context or "").startswith("while parsing a flow "):
        return None
    text = lines[mark.line] if 0 <= mark.line < len(lines) else ""
    char = text[mark.column : mark.column + 1]
    return (char, (mark.line + 1, mark.column + 1)) if char in _CLOSING else None


def _unclosed(tokens: list[Token]) -> tuple[str, tuple[int, int]] | None:
    """The innermost ``[`` or ``{`` left open, and where it is."""
    opened: list[tuple[str, tuple[int, int]]] = []
    for token in tokens:
        if isinstance(token, FlowSequenceStartToken | FlowMappingStartToken):
            char = "[" if isinstance(token, FlowSequenceStartToken) else "{"
            opened.append((char, (token.start_mark.line + 1, token.start_mark.column + 1)))
        elif isinstance(token, FlowSequenceEndToken | FlowMappingEndToken) and opened:
            opened.pop()
    return opened[-1] if opened else None


def _runaway_quote(tokens: list[Token], line: int) -> str | None:
    """Where a quoted value starts that runs over lines up to ``line``, if one does."""
    for token in reversed(tokens):
        if not isinstance(token, ScalarToken) or token.style not in ("'", '"'):
            continue
        first, last = token.start_mark.line + 1, token.end_mark.line + 1
        if first < last == line:
            return f"line {first}, column {token.start_mark.column + 1}"
    return None


def _line_above(lines: list[str], line: int) -> int | None:
    for number in range(line - 1, 0, -1):
        text = lines[number - 1].strip()
        if text and not text.startswith("#"):
            return number
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _enclosing(exc: MarkedYAMLError, lines: list[str]) -> str:
    """Where the block that the badly indented line ended starts, and its keys' column."""
    mark = exc.context_mark
    if mark is None:
        return ""
    text = lines[mark.line] if 0 <= mark.line < len(lines) else ""
    item = re.match(r"-\s+", text[mark.column :])
    if item is not None and text[mark.column + item.end() :].strip():
        return (f" (the `- ` item at line {mark.line + 1}, column {mark.column + 1} holds "
                f"keys at column {mark.column + item.end() + 1})")
    return f" (the enclosing block starts at line {mark.line + 1}, column {mark.column + 1})"


def _where(exc: MarkedYAMLError) -> str | None:
    mark = exc.context_mark
    return None if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"


def _char_at(lines: list[str], mark: object) -> str:
    line, col = getattr(mark, "line", -1), getattr(mark, "column", -1)
    text = lines[line] if 0 <= line < len(lines) else ""
    return f"`{text[col]}`" if 0 <= col < len(text) else "quote"

