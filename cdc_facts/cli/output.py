"""Rendering shared by the commands: errors, tables, JSON.

Text that comes from users, files, databases or Kafka Connect is printed literally: it goes
through :func:`rich.markup.escape` (or ``markup=False``), so that ``[public.orders]`` shows
as written and ``[/x]`` cannot break the output, and with ``soft_wrap=True``, so that a
``file:line:col`` line is never cut in two when the output is not a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from cdc_facts.errors import CdcFactsError, LocalStackError, MappingError, Problem
from cdc_facts.secrets import Secrets

#: People read stdout; errors and progress go to stderr.
stdout = Console()
stderr = Console(stderr=True)
#: Every secret the process has seen; masked in all output and log records.
SECRETS = Secrets()


def render_error(exc: CdcFactsError) -> None:
    """Print ``ErrorType: message`` and a hint on stderr, literally and secrets masked.

    Mapping problems come first, each once and as ``cdc-facts validate`` shows them, then
    one line that counts them.
    """
    if isinstance(exc, MappingError):
        render_problems(exc.problems, stderr)
        stderr.print(f"[bold red]MappingError[/]: {mapping_summary(exc.problems)}",
                     highlight=False, soft_wrap=True)
        return
    _error_line(type(exc).__name__, exc.message)
    if isinstance(exc, LocalStackError) and exc.log_tail:
        _literal(f"  last lines of the {exc.service} log:")
        for line in exc.log_tail:
            _literal(f"    {line}")
    if exc.hint:
        stderr.print(f"[dim]hint:[/] {escape(SECRETS.mask(exc.hint))}", highlight=False,
                     soft_wrap=True)


def render_unexpected(exc: Exception) -> None:
    """Print an error cdc-facts did not foresee as ``ErrorType: message``, secrets masked."""
    _error_line(type(exc).__name__, str(exc) or repr(exc))
    stderr.print("[dim]hint:[/] this is unexpected: run again with --debug to see the "
                 "traceback, and report it", highlight=False, soft_wrap=True)


def _error_line(name: str, message: str) -> None:
    stderr.print(f"[bold red]{name}[/]: {escape(SECRETS.mask(message))}", highlight=False,
                 soft_wrap=True)


def _literal(text: str) -> None:
    stderr.print(SECRETS.mask(text), highlight=False, markup=False, soft_wrap=True)


def mapping_summary(problems: Sequence[Problem]) -> str:
    """One line that counts the errors among ``problems`` and the files they are in."""
    errors = [p for p in problems if p.severity == "error"]
    files = len({p.file for p in errors})
    return f"{len(errors)} error(s) in {files} mapping file(s); fix them and run again"


def render_problems(problems: Sequence[Problem], console: Console = stdout) -> None:
    """Print each problem: position and message, the line underlined, the suggestion."""
    lines: dict[str, list[str]] = {}
    for problem in problems:
        color = "red" if problem.severity == "error" else "yellow"
        console.print(
            f"[bold]{escape(problem.location())}[/]: [{color}]{problem.severity}[/]: "
            f"{escape(problem.message)}",
            highlight=False, soft_wrap=True,
        )
        source = lines.setdefault(problem.file, _file_lines(problem.file))
        for text in _excerpt(problem, source):
            console.print(text, highlight=False, markup=False, soft_wrap=True)
        if problem.suggestion:
            console.print(f"    did you mean `{escape(problem.suggestion)}`?", highlight=False,
                          soft_wrap=True)


def _file_lines(file: str) -> list[str]:
    try:
        return Path(file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _excerpt(problem: Problem, source: list[str]) -> list[str]:
    """The problem's line with its fragment underlined (``^^^``)."""
    if not 0 < problem.line <= len(source):
        return []
    text = source[problem.line - 1]
    start = min(max(problem.col - 1, 0), len(text))
    width = len(problem.fragment.split("\n")[0]) if problem.fragment else 1
    width = max(1, min(width, len(text) - start))
    # tabs shown as spaces, so that the carets sit under the column the position counts
    left, right = len(text[:start].expandtabs()), len(text[: start + width].expandtabs())
    gutter = f"{problem.line:>5} | "
    return [f"{gutter}{text.expandtabs()}",
            " " * (len(gutter) - 2) + "| " + " " * left + "^" * max(1, right - left)]


def print_json(document: object) -> None:
    """Print a JSON document on stdout, for machines."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
