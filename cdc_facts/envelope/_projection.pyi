"""The compiled projection of schemaless change values (see ``_projection.c``)."""

from typing import Any

from cdc_facts.changes import Change

def project(
    columns: frozenset[str] | None,
    strings: frozenset[str],
    lists: tuple[list[Any], ...],
    unknown: object,
    ops: frozenset[str],
    unread: frozenset[str],
    change: type[Change],
    value: bytes,
    key: Any,
    topic: str | None,
    partition: int | None,
    offset: int | None,
    /,
) -> Change | None: ...
