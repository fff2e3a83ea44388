"""Rendering shared by the commands: errors, tables, JSON."""

from __future__ import annotations

import json
import sys

from rich.console import Console

from cdc_facts.errors import CdcFactsError, LocalStackError, MappingError

#: People read stdout; errors and progress go to stderr.
stdout = Console()
stderr = Console(stderr=True)


def render_error(exc: CdcFactsError) -> None:
    """Print ``ErrorType: message`` and a hint on stderr."""
    stderr.print(f"[bold red]{type(exc).__name__}[/]: {exc.message}", highlight=False)
    if isinstance(exc, MappingError):
        for problem in exc.problems:
            stderr.print(f"  {problem}", highlight=False, markup=False)
    if isinstance(exc, LocalStackError) and exc.log_tail:
        stderr.print(f"  last lines of the {exc.service} log:", highlight=False)
        for line in exc.log_tail:
            stderr.print(f"    {line}", highlight=False, markup=False)
    if exc.hint:
        stderr.print(f"[dim]hint:[/] {exc.hint}", highlight=False)


def print_json(document: object) -> None:
    """Print a JSON document on stdout, for machines."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
