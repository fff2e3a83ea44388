"""Kafka records into changes: the Debezium envelope, the record key, and records that are
not row changes (tombstones, heartbeats, schema changes, transaction metadata)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from cdc_facts.changes import OPS, Change
from cdc_facts.envelope.documents import RawRecord, _parse
from cdc_facts.envelope.parsing import _HINT, _json_type, _loads
from cdc_facts.envelope.placeholders import _Placeholders
from cdc_facts.envelope.schemas import _decode_field, _Schema
from cdc_facts.errors import ChangeDecodeError
from cdc_facts.types import Row

DEFAULT_UNAVAILABLE_VALUE: Final = "__debezium_unavailable_value"

#: Debezium's default ``heartbeat.topics.prefix``.
HEARTBEAT_TOPIC_PREFIX: Final = "__debezium-heartbeat"

#: What a Kafka record holds, as :func:`classify` names it.
RecordKind: TypeAlias = Literal["change", "tombstone", "heartbeat", "schema-change", "transaction"]


@dataclass(frozen=True)
class EnvelopeSettings:
    """How the connector that wrote the records is configured.

    Attributes:
        unavailable_value: the connector's ``unavailable.value.placeholder`` (plain text).
    """

    unavailable_value: str = DEFAULT_UNAVAILABLE_VALUE


DEFAULT_SETTINGS: Final = EnvelopeSettings()


def decode_change(
    value: RawRecord,
    key: RawRecord = None,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    settings: EnvelopeSettings = DEFAULT_SETTINGS,
) -> Change | None:
    """Decode one Kafka record written by JsonConverter into a :class:`Change`.

    Args:
        value: the record value: bytes or text as delivered, or an already parsed object
            (which is left unchanged).
        key: the record key, in the same forms; ``None`` when the table has no key.
        topic: the record's topic, kept on the change and used to spot heartbeats.
        partition: the record's partition, kept on the change.
        offset: the record's offset, kept on the change.
        settings: how the connector is configured.

    Returns:
        The change, or ``None`` when the record is a tombstone, a heartbeat, a schema change
        or transaction metadata: records that are not fed to rules.

    Raises:
        ChangeDecodeError: the record is not a Debezium change event (not JSON, not an
            object, missing or unknown ``op``, a value that does not match its schema).
    """
    if topic is not None and topic.startswith(HEARTBEAT_TOPIC_PREFIX):
        return None
    last = _LAST_DECODER
    decoder = last[1] if last[0] is settings else _decoder(settings)
    try:
        return decoder.decode(value, key, topic, partition, offset)
    except ChangeDecodeError as exc:
        if topic is None:
            raise
        where = topic + ("" if partition is None else f"[{partition}]")
        where += "" if offset is None else f"@{offset}"
        raise ChangeDecodeError(f"{where}: {exc.message}", hint=exc.hint) from exc


def classify(value: RawRecord, topic: str | None = None) -> RecordKind:
    """Tell what a Kafka record value holds, without decoding its rows.

    >>> classify(b'{"ts_ms":1714557600000}')
    'heartbeat'
    >>> classify(b'{"status":"BEGIN","id":"571:53195832","ts_ms":1}', "shop.transaction")
    'transaction'

    Raises:
        ChangeDecodeError: the value is not JSON, not an object, or none of the known kinds.
    """
    if topic is not None and topic.startswith(HEARTBEAT_TOPIC_PREFIX):
        return "heartbeat"
    return _kind(_parse(value, "value")[0])


# --- the envelope ------------------------------------------------------------------------


class _EnvelopeDecoder:
    """Decodes values and keys for one :class:`EnvelopeSettings`."""

    def __init__(self, settings: EnvelopeSettings) -> None:
        self.placeholders = _Placeholders(settings.unavailable_value)

    def decode(self, value: RawRecord, key: RawRecord, topic: str | None, partition: int | None,
               offset: int | None) -> Change | None:
        if value.__class__ is bytes and not value.startswith(b'{"schema":'):
            payload, schema = _plain_payload(value)  # schemas off: the common case
        else:
            payload, schema, _start = _parse(value, "value", topic)
        if payload.__class__ is not dict or "op" not in payload:
            _kind(payload)  # raises unless it is a record to skip
            return None
        op = payload["op"]
        if op.__class__ is not str or op not in OPS:  # a list or object is no op either
            raise ChangeDecodeError(
                f"unknown op {op!r}: Debezium writes one of {', '.join(sorted(OPS))}", hint=_HINT
            )
        before = payload.get("before")
        if before is not None and before.__class__ is not dict:
            _row(before, "before")
        after = payload.get("after")
        if after is not None and after.__class__ is not dict:
            _row(after, "after")
        if op in _MAY_BE_UNAVAILABLE:
            replace = self.placeholders.replace
            replace(before)
            replace(after)
        source = payload.get("source")
        if source.__class__ is not dict:
            source = _source(source)
        if schema is not None:
            before, after, source = schema.decode_rows(before, after, source)
        ts_ms, transaction = payload.get("ts_ms"), payload.get("transaction")
        if not envelope_fits(source, ts_ms, transaction):
            raise _misfit(source, ts_ms, transaction)
        # positional, in the order of Change.__init__: a third faster than keywords here
        return Change(op, before, after, source, ts_ms, _key(key, topic) if key else None,
                      transaction, topic, partition, offset)


def _plain_payload(value: bytes) -> tuple[Any, _Schema | None]:
    """The payload of a value that does not start with a schema, and its schema (None
    unless it is a document laid out otherwise), as :func:`_parse` gives them."""
    try:
        document = _loads(value)
    except ValueError:
        document = None  # _parse names the problem
    if document.__class__ is dict and "payload" not in document:
        return document, None
    return _parse(value, "value")[:2]


def _decoder(settings: EnvelopeSettings) -> _EnvelopeDecoder:
    """The decoder for ``settings``, made once; the last one used is found without hashing."""
    global _LAST_DECODER
    decoder = _DECODERS.get(settings)
    if decoder is None:
        decoder = _DECODERS[settings] = _EnvelopeDecoder(settings)
    _LAST_DECODER = (settings, decoder)
    return decoder


#: Only updates leave values out (PostgreSQL's unchanged TOASTed columns); deletes are
#: checked too, in case a database sends an old row that way.
_MAY_BE_UNAVAILABLE: Final = frozenset({"u", "d"})


def _source(source: object) -> dict[str, Any]:
    """A ``source`` block that is not an object: none (null, left out) is empty."""
    if source is None:
        return {}
    raise ChangeDecodeError(f"`source` is a JSON {_json_type(source)}, not an object",
                            hint=_HINT)


#: What a text field of ``source`` (``name``, ``schema``, ``db``, ``table``) may hold.
_TEXT: Final = frozenset({str, type(None)})
#: What ``source.lsn`` may hold: a PostgreSQL LSN is an integer.
_LSN: Final = frozenset({int, str, type(None)})
#: The epoch milliseconds a timestamp can hold (years 1 to 9999).
_MIN_MS: Final = -62135596800000
_MAX_MS: Final = 253402300799999


def envelope_fits(source: dict[str, Any], ts_ms: object, transaction: object) -> bool:
    """Whether the envelope fields read as plain values are such values, as Debezium
    writes them: ``source.name``, ``schema``, ``db`` and ``table`` text (they find the
    table's rules), ``source.lsn`` an integer or text, ``ts_ms`` and ``source.ts_ms``
    epoch milliseconds (the default fact time), ``transaction`` an object. Each may be
    null or left out.

    >>> envelope_fits({"name": "shop", "table": "orders", "ts_ms": 1}, 2, None)
    True
    >>> envelope_fits({"name": ["shop"]}, None, None)
    False
    """
    get = source.get
    return (
        get("name").__class__ in _TEXT and get("table").__class__ in _TEXT
        and get("schema").__class__ in _TEXT and get("db").__class__ in _TEXT
        and get("lsn").__class__ in _LSN
        and is_millis(get("ts_ms")) and is_millis(ts_ms)
        and (transaction is None or transaction.__class__ is dict)
    )


def _misfit(source: dict[str, Any], ts_ms: object, transaction: object) -> ChangeDecodeError:
    """The error for an envelope :func:`envelope_fits` refuses, naming the first field."""
    for name in ("name", "schema", "db", "table"):
        if source.get(name).__class__ not in _TEXT:
            return _field_error(f"source.{name}", source[name], "a string")
    if source.get("lsn").__class__ not in _LSN:
        return _field_error("source.lsn", source["lsn"], "an integer")
    if transaction is not None and transaction.__class__ is not dict:
        return _field_error("transaction", transaction, "an object")
    name, millis = ("source.ts_ms", source.get("ts_ms"))
    if is_millis(millis):
        name, millis = "ts_ms", ts_ms
    if type(millis) is int:
        return ChangeDecodeError(
            f"`{name}` {millis} is out of range: epoch milliseconds of the years 1 to 9999",
            hint=_HINT)
    return _field_error(name, millis, "an integer (epoch milliseconds)")


def is_millis(value: object) -> bool:
    """Whether ``value`` is null or integer epoch milliseconds a timestamp can hold.

    >>> is_millis(1714557600000), is_millis(10**17), is_millis("1"), is_millis(True)
    (True, False, False, False)
    """
    return value is None or type(value) is int and _MIN_MS <= value <= _MAX_MS


def _field_error(name: str, value: object, kind: str) -> ChangeDecodeError:
    return ChangeDecodeError(f"`{name}` is a JSON {_json_type(value)}, not {kind}", hint=_HINT)


def _row(row: object, name: str) -> Row | None:
    if row is None or row.__class__ is dict:
        return row
    raise ChangeDecodeError(f"`{name}` is a JSON {_json_type(row)}, not an object", hint=_HINT)


def _key(key: bytes | str | dict[str, Any], topic: str | None = None) -> Row | None:
    if isinstance(key, bytes) and not key.startswith(b'{"schema":'):
        try:
            payload = _loads(key)  # a key without a schema: the common case, kept short
        except ValueError:
            payload = None  # the full path below names the problem
        if payload.__class__ is dict and "payload" not in payload:
            return payload
    payload, schema, _start = _parse(key, "key", None if topic is None else ("key", topic))
    if payload is None:
        return None
    if payload.__class__ is not dict:
        raise ChangeDecodeError(
            f"record key is a JSON {_json_type(payload)}, not an object", hint=_HINT
        )
    if schema is not None and schema.decode is not None:
        _decode_field(schema.decode, payload, "key")
    return payload


def _kind(payload: object) -> RecordKind:
    if payload is None:
        return "tombstone"
    if payload.__class__ is not dict:
        raise ChangeDecodeError(
            f"record value is a JSON {_json_type(payload)}, not an object", hint=_HINT
        )
    assert isinstance(payload, dict)
    if "op" in payload:
        return "change"
    if payload.get("status") in ("BEGIN", "END"):
        return "transaction"
    if "ddl" in payload or "tableChanges" in payload or "databaseName" in payload:
        return "schema-change"
    if payload.keys() <= {"ts_ms"}:
        return "heartbeat"
    keys = ", ".join(sorted(payload)[:8])
    raise ChangeDecodeError(
        f"record value has no `op` and is no heartbeat, schema change or transaction record "
        f"(keys: {keys})",
        hint=_HINT,
    )




_DECODERS: dict[EnvelopeSettings, _EnvelopeDecoder] = {}
_LAST_DECODER: tuple[EnvelopeSettings, _EnvelopeDecoder] = (
    DEFAULT_SETTINGS, _DECODERS.setdefault(DEFAULT_SETTINGS, _EnvelopeDecoder(DEFAULT_SETTINGS))
)
