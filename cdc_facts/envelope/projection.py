"""Schemaless change values decoded with only the row columns the rules read.

The translator reads a handful of each row's columns; a change value carries all of them,
and the ``source`` block besides. :func:`change_projector` returns a decoder, compiled in C
(``_projection.c``), that checks the whole value as strict JSON but makes Python objects
only for the envelope fields a :class:`~cdc_facts.changes.Change` keeps and, in ``before``
and ``after``, for the columns asked for. On updates and deletes a kept column holding the
unavailable-value placeholder becomes :data:`~cdc_facts.types.UNKNOWN`, as in
:func:`~cdc_facts.envelope.decode_change`.

It answers ``None`` for anything that is not plainly a schemaless change: a value with a
schema, a tombstone, a heartbeat, a record that is not JSON, a key with a schema, and the
rare numbers it leaves to orjson (past 64 bits). The caller then decodes the record with
:func:`~cdc_facts.envelope.decode_change`, which gives the same change (with every column)
or names the problem.

>>> project = change_projector(frozenset({"status"}))
>>> change = project(b'{"before":null,"after":{"id":1,"status":"paid","note":"x"},'
...                  b'"source":{"name":"shop","schema":"public","table":"orders"},"op":"c"}',
...                  b'{"id":1}', "shop.public.orders", 0, 7)
>>> change.op, change.after, change.key, change.table
('c', {'status': 'paid'}, {'id': 1}, 'public.orders')
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final, TypeAlias

from cdc_facts.changes import OPS, Change
from cdc_facts.envelope.placeholders import _Placeholders
from cdc_facts.envelope.records import DEFAULT_SETTINGS, EnvelopeSettings
from cdc_facts.types import UNKNOWN


def _compiled_project() -> Callable[..., Change | None] | None:
    try:
        from cdc_facts.envelope._projection import project
    except ImportError:  # not compiled (no C compiler at install): decode_change does it all
        return None
    return project


_project: Final = _compiled_project()

#: ``(value, key, topic, partition, offset) -> Change | None``.
Projector: TypeAlias = Callable[[bytes, Any, str | None, int | None, int | None], Change | None]


def change_projector(
    columns: frozenset[str], settings: EnvelopeSettings = DEFAULT_SETTINGS
) -> Projector | None:
    """A decoder of schemaless change values that keeps only ``columns`` in the rows.

    Returns ``None`` when the compiled decoder is not installed.
    """
    if _project is None:
        return None
    placeholders = _Placeholders(settings.unavailable_value)
    return functools.partial(_project, columns, placeholders.strings, placeholders.lists,
                             UNKNOWN, OPS, Change)


def compiled() -> bool:
    """Whether the compiled decoder is installed."""
    return _project is not None
