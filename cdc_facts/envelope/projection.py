"""Schemaless change values decoded with only the row columns the rules read.

The translator reads a handful of each row's columns; a change value carries all of them,
and the ``source`` block besides. :func:`change_projector` returns a decoder, compiled in C
(``_projection.c``), that checks the whole value as strict JSON but makes Python objects
only for the envelope fields a :class:`~cdc_facts.changes.Change` keeps and, in ``before``
and ``after``, for the columns asked for. On updates and deletes a kept column holding the
unavailable-value placeholder becomes :data:`~cdc_facts.types.UNKNOWN`, as in
:func:`~cdc_facts.envelope.decode_change`.

It answers ``None`` for anything that is not plainly a schemaless change: a value with a
schema, a tombstone, a heartbeat (any record of a heartbeat topic), a record that is not
JSON, a key with a schema, an envelope whose ``source`` block, ``ts_ms`` or
``transaction`` does not hold what Debezium writes there
(:func:`~cdc_facts.envelope.records.envelope_fits`), and the rare numbers it leaves to
orjson (past 64 bits). The caller then decodes the record with
:func:`~cdc_facts.envelope.decode_change`, which gives the same change (with every column)
or names the problem.

Values with a schema (``schemas.enable=true``) get the same treatment from
:func:`schema_change_projector` once their topic's schema is known, byte for byte: the
payload is projected, and the columns kept are decoded by their logical types.

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
from cdc_facts.envelope.documents import _SCHEMA_CACHE_LIMIT, known_schema
from cdc_facts.envelope.placeholders import _Placeholders
from cdc_facts.envelope.records import (
    DEFAULT_SETTINGS,
    HEARTBEAT_TOPIC_PREFIX,
    EnvelopeSettings,
    _key,
    envelope_fits,
)
from cdc_facts.envelope.schemas import DECODE_ERRORS, ColumnDecoders, _Schema
from cdc_facts.errors import ChangeDecodeError
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


#: Members of Debezium's source block that neither the translator nor the service reads:
#: a translator leaves them out of its changes, unless a rule reads them (``source.version``).
#: ``xmin`` is PostgreSQL's; ``thread`` and ``query`` (the statement, with
#: ``include.query``) are MySQL's and MariaDB's.
UNREAD_SOURCE_FIELDS: Final = frozenset(
    {"version", "connector", "ts_us", "ts_ns", "xmin", "thread", "query"})


def change_projector(
    columns: frozenset[str], settings: EnvelopeSettings = DEFAULT_SETTINGS,
    unread_source: frozenset[str] = frozenset(),
) -> Projector | None:
    """A decoder of schemaless change values that keeps only ``columns`` in the rows, and
    leaves the members of the source block in ``unread_source`` (at most 8) out.

    Returns ``None`` when the compiled decoder is not installed.
    """
    if _project is None:
        return None
    if len(unread_source) > 8:
        raise ValueError("at most 8 source members can be left out")
    placeholders = _Placeholders(settings.unavailable_value)
    return functools.partial(_project, columns, placeholders.strings, placeholders.lists,
                             UNKNOWN, OPS, frozenset(unread_source), Change,
                             HEARTBEAT_TOPIC_PREFIX)


def compiled() -> bool:
    """Whether the compiled decoder is installed."""
    return _project is not None


#: What a value's or key's decoders raise when a value does not match its schema.
_MISMATCH: Final = (ChangeDecodeError, *DECODE_ERRORS)


def schema_change_projector(project: Projector, columns: frozenset[str]) -> Projector:
    """A decoder of change values with a schema, built on ``project`` (a
    :func:`change_projector` of ``columns``): the payload is projected, then the columns
    kept and the ``source`` block are decoded by the schema, and the key as
    :func:`~cdc_facts.envelope.decode_change` decodes it.

    It answers ``None`` unless the value carries the schema last seen on its topic, byte
    for byte, and everything kept matches that schema; then
    :func:`~cdc_facts.envelope.decode_change` decodes the record (and remembers its
    schema) or names the problem.
    """
    plans: dict[int, tuple[_Schema, ColumnDecoders | None]] = {}

    def decoders(schema: _Schema) -> ColumnDecoders | None:
        entry = plans.get(id(schema))
        if entry is None or entry[0] is not schema:
            if len(plans) >= _SCHEMA_CACHE_LIMIT:  # as many as the schema cache holds
                plans.clear()
            entry = plans[id(schema)] = (schema, schema.for_columns(columns))
        return entry[1]

    def project_with_schema(value: bytes, key: Any, topic: str | None, partition: int | None,
                            offset: int | None) -> Change | None:
        if topic is None:
            return None
        found = known_schema(value, topic)
        if found is None or (decode := decoders(found[0])) is None:
            return None
        plain_key = _plain_key(key, topic)
        change = project(value[found[1]:-1], plain_key, topic, partition, offset)
        if change is None:
            return None
        try:
            decode.decode(change.before, change.after, change.source)
            if decode.source is not None and not envelope_fits(
                    change.source, change.ts_ms, change.transaction):
                return None  # the schema made the source block into other values
            if plain_key is None and key:  # a key with logical types, or not seen before
                return Change(change.op, change.before, change.after, change.source,
                              change.ts_ms, _key(key, topic), change.transaction, topic,
                              partition, offset)
        except _MISMATCH:
            return None
        return change

    return project_with_schema


def _plain_key(key: object, topic: str) -> bytes | None:
    """The payload of a key with the schema last seen for the topic's keys, when that
    schema needs no decoding (the compiled decoder parses it as a schemaless key)."""
    if key.__class__ is not bytes:
        return None
    assert isinstance(key, bytes)
    found = known_schema(key, ("key", topic))
    if found is None or found[0].decode is not None or found[1] >= len(key) - 1:
        return None  # logical types to decode, or no payload: decode_change decides
    return key[found[1]:-1]
