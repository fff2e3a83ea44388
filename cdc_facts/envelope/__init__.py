"""Decode Debezium records, as Kafka Connect's JsonConverter writes them, into changes.

:func:`decode_change` takes a Kafka record value (and key) exactly as delivered, with
``schemas.enable`` on or off, and returns a :class:`~cdc_facts.changes.Change`, or ``None``
for records that are not row changes (tombstones, heartbeats, schema changes, transaction
metadata). With a schema, logical types become exact Python values (``Decimal``, ``date``,
``datetime``, ``UUID``, parsed JSON...). Each distinct schema is compiled once into field
decoders and cached by its JSON text, so a record costs one parse of its payload.

>>> change = decode_change(b'{"before":null,"after":{"id":1},"source":{"name":"shop",'
...                        b'"schema":"public","table":"orders","lsn":42},"op":"c","ts_ms":7}')
>>> change.op, change.after, change.table
('c', {'id': 1}, 'public.orders')
>>> decode_change(None) is None
True

The modules, each named after what it knows:

- :mod:`.records`: the envelope, the key, and records that are not changes;
- :mod:`.documents`: a JsonConverter document's payload and its schema, compiled once;
- :mod:`.schemas` and :mod:`.logical_types`: Connect schemas into value decoders;
- :mod:`.placeholders`: the unavailable-value placeholder;
- :mod:`.parsing`: the JSON parser.
"""

from __future__ import annotations

from cdc_facts.envelope.documents import RawRecord
from cdc_facts.envelope.logical_types import Decoder
from cdc_facts.envelope.records import (
    DEFAULT_SETTINGS,
    DEFAULT_UNAVAILABLE_VALUE,
    HEARTBEAT_TOPIC_PREFIX,
    EnvelopeSettings,
    RecordKind,
    classify,
    decode_change,
)
from cdc_facts.envelope.schemas import compile_schema
from cdc_facts.types import UNKNOWN

__all__ = [
    "DEFAULT_SETTINGS",
    "DEFAULT_UNAVAILABLE_VALUE",
    "HEARTBEAT_TOPIC_PREFIX",
    "UNKNOWN",
    "Decoder",
    "EnvelopeSettings",
    "RawRecord",
    "RecordKind",
    "classify",
    "compile_schema",
    "decode_change",
]
