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
"""

from __future__ import annotations

import binascii
import copy
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any, Final, Literal, TypeAlias
from uuid import UUID

from cdc_facts.changes import OPS, Change
from cdc_facts.errors import ChangeDecodeError
from cdc_facts.types import UNKNOWN, Row

DEFAULT_UNAVAILABLE_VALUE: Final = "__debezium_unavailable_value"

#: Debezium's default ``heartbeat.topics.prefix``.
HEARTBEAT_TOPIC_PREFIX: Final = "__debezium-heartbeat"

#: What a Kafka record holds, as :func:`classify` names it.
RecordKind: TypeAlias = Literal["change", "tombstone", "heartbeat", "schema-change", "transaction"]

#: A compiled decoder for one field's JSON value.
Decoder: TypeAlias = Callable[[Any], object]

#: A record value or key: bytes or text as delivered, or already parsed.
RawRecord: TypeAlias = bytes | str | dict[str, Any] | None

_HINT = (
    "the topic must carry Debezium change events written by "
    "org.apache.kafka.connect.json.JsonConverter"
)


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
        where = f"{topic}[{partition}]@{offset}"
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
        payload, schema, start = _parse(value, "value", topic)
        if payload.__class__ is not dict or "op" not in payload:
            _kind(payload)  # raises unless it is a record to skip
            return None
        op = payload["op"]
        if op not in OPS:
            raise ChangeDecodeError(
                f"unknown op {op!r}: Debezium writes one of {', '.join(sorted(OPS))}", hint=_HINT
            )
        before = payload.get("before")
        if before is not None and before.__class__ is not dict:
            _row(before, "before")
        after = payload.get("after")
        if after is not None and after.__class__ is not dict:
            _row(after, "after")
        if op in _MAY_BE_UNAVAILABLE and self.placeholders.present(value, start):
            self.placeholders.replace(before)
            self.placeholders.replace(after)
        source = payload.get("source") or {}
        if schema is not None:
            before, after, source = schema.decode_rows(before, after, source)
        # positional: a third faster than keywords on this hot path (tests pin the order)
        return Change(op, before, after, source, payload.get("ts_ms"),
                      _key(key, topic) if key else None, payload.get("transaction"), topic,
                      partition, offset)


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


def _json_type(value: object) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return names.get(type(value), type(value).__name__)


# --- parsing -----------------------------------------------------------------------------


def _fast_json_loads() -> Callable[[bytes | str], Any]:
    """orjson's ``loads`` when it is installed (3x faster), else the standard library's."""
    try:
        module = importlib.import_module("orjson")
    except ModuleNotFoundError:
        return json.loads
    return module.loads  # type: ignore[no-any-return]


_loads: Final = _fast_json_loads()


def _parse(
    raw: RawRecord, what: str, stream: _Stream | None = None
) -> tuple[Any, _Schema | None, int]:
    """Split a JsonConverter document into its payload and compiled schema (or None).

    The third item is where the payload's text starts in ``raw``. ``stream`` names where
    the record comes from (its topic, for keys ``("key", topic)``): the schema last seen
    there is tried first.
    """
    cls = raw.__class__
    if cls is bytes and stream is not None:
        assert isinstance(raw, bytes)
        if raw.startswith(b'{"schema":'):  # the hot path with schemas: a stream's known one
            found = _known_payload(raw, stream)
            if found is not None:
                return found
    if (cls is bytes or cls is str) and raw:
        assert isinstance(raw, bytes | str)
        if raw.startswith(_SCHEMA_OPEN[cls]) and raw.endswith(_CLOSE[cls]):  # type: ignore[arg-type]
            found = _split_text(raw, stream)
            if found is not None:
                return found
        try:
            document = _loads(raw)
        except ValueError as exc:
            raise ChangeDecodeError(_not_json_reason(raw, what, exc), hint=_HINT) from exc
        if document.__class__ is dict and "payload" in document:
            return (*_split_document(document), 0)
        return document, None, 0
    if isinstance(raw, dict):
        return (*_split_document(copy.deepcopy(raw)), 0)  # decoding works in place
    return None, None, 0  # None or empty: a tombstone


def _known_payload(raw: bytes, stream: _Stream) -> tuple[Any, _Schema, int] | None:
    """The payload of ``raw`` when it carries the schema last seen on ``stream``."""
    known = _SCHEMAS.get(stream)
    if known is None:
        return None
    text, schema = known
    start = len(text) + 21  # len('{"schema":') + len(',"payload":')
    if text.__class__ is bytes and raw.startswith(text, 10) and raw.startswith(
        b',"payload":', start - 11
    ) and raw.endswith(b"}"):
        try:
            return _loads(raw[start:-1]), schema, start
        except ValueError:
            return None  # parsed whole, for a precise error
    return None


#: Where records come from, for the schema cache: a topic, or ``("key", topic)``.
_Stream: TypeAlias = str | tuple[str, str]


def _split_text(raw: bytes | str, stream: _Stream | None) -> tuple[Any, _Schema, int] | None:
    """Parse only the payload of ``{"schema":S,"payload":P}``, with S compiled once, and
    remember S as the schema of ``stream``.

    Returns None when the text is not laid out that way: the caller then parses it whole.
    """
    cut, start = _payload_cut(raw)
    if cut < 0:
        return None
    try:
        payload = _loads(raw[start:-1])
        schema = _schema_at(raw, cut)
    except ValueError:
        return None  # not what it looked like: parse it whole for a precise error
    if stream is not None and start == cut + 12 and len(_SCHEMAS) < _SCHEMA_CACHE_LIMIT:
        _SCHEMAS[stream] = (raw[10 : cut + 1], schema)  # the stream's schema, tried first
    return payload, schema, start


def _payload_cut(raw: bytes | str) -> tuple[int, int]:
    """Where the schema ends in ``{"schema":S,"payload":P}`` and where P starts.

    JsonConverter writes compact JSON; Python's ``json.dumps`` puts a space after each
    separator. Returns ``(-1, -1)`` for anything else: the caller then parses it whole.
    """
    for separator in _PAYLOAD_AFTER[raw.__class__]:
        cut = raw.find(separator, 10)  # type: ignore[arg-type]
        if cut > 0:
            return cut, cut + len(separator)
    return -1, -1


_SCHEMA_OPEN: Final = {bytes: b'{"schema":', str: '{"schema":'}
_PAYLOAD_AFTER: Final = {
    bytes: (b'},"payload":', b'}, "payload": '),
    str: ('},"payload":', '}, "payload": '),
}
_CLOSE: Final = {bytes: b"}", str: "}"}


def _schema_at(raw: bytes | str, cut: int) -> _Schema:
    """The compiled schema whose text is ``raw[10 : cut + 1]``.

    The cache is keyed by the text's length and tail, and a hit is confirmed by comparing
    the whole text in place: cheaper than hashing kilobytes of schema for every record.
    """
    key = (cut, raw[cut - 40 : cut])
    entry = _SCHEMAS.get(key)
    if entry is not None and raw.startswith(entry[0], 10):  # type: ignore[arg-type]
        return entry[1]
    text = raw[10 : cut + 1]
    schema = _compile_text(text)
    if len(_SCHEMAS) >= _SCHEMA_CACHE_LIMIT:
        _SCHEMAS.clear()
    _SCHEMAS[key] = (text, schema)
    return schema


def _split_document(document: Any) -> tuple[Any, _Schema | None]:
    if document.__class__ is not dict or len(document) != 2 or "payload" not in document:
        return document, None
    schema = document.get("schema", False)
    if schema is False:
        return document, None
    if schema is None:
        return document["payload"], None
    text = json.dumps(schema, separators=(",", ":"))
    try:
        return document["payload"], _schema_at(f'{{"schema":{text}', len(text) + 9)
    except ValueError as exc:
        raise ChangeDecodeError(
            f"record schema is not a Kafka Connect schema: {exc}", hint=_HINT
        ) from exc


def _not_json_reason(raw: bytes | str, what: str, exc: ValueError) -> str:
    if raw[:1] in (b"\x00", "\x00"):
        return (
            f"record {what} starts with byte 0x00: it is in a schema registry wire format "
            "(Avro, Protobuf or JSON Schema), not JsonConverter JSON"
        )
    return f"record {what} is not JSON ({exc})"


# --- placeholders ------------------------------------------------------------------------


class _Placeholders:
    """The forms Debezium gives its unavailable-value placeholder, and how to spot them.

    Text and JSON columns carry the text, bytes columns its base64, text arrays a
    one-element list of the text, integer arrays the list of its byte values.
    """

    def __init__(self, text: str) -> None:
        raw = text.encode()
        self.base64 = binascii.b2a_base64(raw, newline=False).decode()
        self.strings = frozenset({text, self.base64})
        self.lists = ([text], [b if b < 128 else b - 256 for b in raw])
        escaped = json.dumps(text, ensure_ascii=False)[1:-1]
        text_marks = (escaped, self.base64, ",".join(str(b) for b in self.lists[1]))
        self.text_marks = text_marks
        self.bytes_marks = tuple(mark.encode() for mark in text_marks)

    def present(self, raw: object, start: int) -> bool:
        """Whether the record text from ``start`` on may hold a placeholder.

        Always True for parsed input, which has no text to look at.
        """
        if isinstance(raw, bytes):
            a, b, c = self.bytes_marks
            return raw.find(a, start) >= 0 or raw.find(b, start) >= 0 or raw.find(c, start) >= 0
        if isinstance(raw, str):
            x, y, z = self.text_marks
            return raw.find(x, start) >= 0 or raw.find(y, start) >= 0 or raw.find(z, start) >= 0
        return True

    def replace(self, row: Row | None) -> None:
        """Replace every placeholder in ``row`` by :data:`UNKNOWN`, in place."""
        if row is None:
            return
        for name, value in row.items():
            cls = value.__class__
            if (cls is str and value in self.strings) or (cls is list and value in self.lists):
                row[name] = UNKNOWN


_DECODERS: dict[EnvelopeSettings, _EnvelopeDecoder] = {}
_LAST_DECODER: tuple[EnvelopeSettings, _EnvelopeDecoder] = (
    DEFAULT_SETTINGS, _DECODERS.setdefault(DEFAULT_SETTINGS, _EnvelopeDecoder(DEFAULT_SETTINGS))
)


# --- schemas -----------------------------------------------------------------------------


class _FieldError(ValueError):
    """A value does not match its schema; ``path`` names the field, innermost last."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Schema:
    """A compiled Kafka Connect schema: a decoder for the whole value and for its fields."""

    decode: Decoder | None
    fields: dict[str, Decoder | None]

    def decode_rows(
        self, before: Row | None, after: Row | None, source: dict[str, Any]
    ) -> tuple[Row | None, Row | None, dict[str, Any]]:
        fields = self.fields
        if before and (decoder := fields.get("before")) is not None:
            _decode_field(decoder, before, "before")
        if after and (decoder := fields.get("after")) is not None:
            _decode_field(decoder, after, "after")
        if source and (decoder := fields.get("source")) is not None:
            _decode_field(decoder, source, "source")
        return before, after, source


def _decode_field(decoder: Decoder, value: object, name: str) -> None:
    try:
        decoder(value)
    except _FieldError as exc:
        raise ChangeDecodeError(
            f"cannot decode `{name}.{exc.path}`: {exc.reason}",
            hint="the value does not match the schema the record carries",
        ) from exc


#: Compiled schemas with their text, by ``(length, tail)`` of the text; and by stream
#: (a topic's values or keys), the schema last seen there, tried first: with it, there is no
#: need to look for where the schema ends.
_SCHEMAS: dict[tuple[int, bytes | str] | _Stream, tuple[bytes | str, _Schema]] = {}
_SCHEMA_CACHE_LIMIT: Final = 4096


def _compile_text(text: bytes | str) -> _Schema:
    """Compile a schema's JSON text (raises ValueError when it is not JSON)."""
    document = _loads(text)
    if document.__class__ is not dict:
        raise ValueError(f"the schema is a JSON {_json_type(document)}, not an object")
    try:
        fields = {f["field"]: compile_schema(f) for f in document.get("fields") or ()}
        return _Schema(compile_schema(document), fields)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed schema ({type(exc).__name__}: {exc})") from exc


def compile_schema(schema: dict[str, Any]) -> Decoder | None:
    """Compile one Kafka Connect schema into a decoder of its JSON value.

    Returns None when the JSON value needs no conversion (strings, integers, booleans).
    Structs are decoded in place; the decoder returns the decoded value.

    >>> decode = compile_schema({"type": "int32", "name": "io.debezium.time.Date"})
    >>> decode(19844)
    datetime.date(2024, 5, 1)
    """
    name = schema.get("name")
    factory = _LOGICAL_TYPES.get(name) if name else None
    if factory is not None:
        return factory(schema)
    kind = schema.get("type")
    if kind == "struct":
        return _struct_decoder(schema)
    if kind == "array":
        return _array_decoder(compile_schema(schema.get("items") or {}))
    if kind == "map":
        return _map_decoder(compile_schema(schema.get("values") or {}))
    return _PRIMITIVES.get(kind)


def _struct_decoder(schema: dict[str, Any]) -> Decoder | None:
    steps = tuple(
        (field["field"], decoder)
        for field in schema.get("fields") or ()
        if (decoder := compile_schema(field)) is not None
    )
    if not steps:
        return None

    def decode_struct(row: dict[str, Any]) -> dict[str, Any]:
        for name, decoder in steps:
            value = row.get(name)
            if value is not None and value is not UNKNOWN:
                try:
                    row[name] = decoder(value)
                except _FieldError as exc:
                    raise _FieldError(f"{name}.{exc.path}", exc.reason) from exc
                except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
                    raise _FieldError(name, f"{exc} (value {_short(value)})") from exc
        return row

    return decode_struct


def _array_decoder(item: Decoder | None) -> Decoder | None:
    if item is None:
        return None
    return lambda values: [None if v is None else item(v) for v in values]


def _map_decoder(value: Decoder | None) -> Decoder | None:
    if value is None:
        return None

    def decode_map(entries: Any) -> Any:
        if entries.__class__ is dict:
            return {k: None if v is None else value(v) for k, v in entries.items()}
        return [[k, None if v is None else value(v)] for k, v in entries]

    return decode_map


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- logical types -----------------------------------------------------------------------

_EPOCH: Final = datetime(1970, 1, 1)  # noqa: DTZ001 - naive on purpose
_EPOCH_ORDINAL: Final = 719163  # date(1970, 1, 1).toordinal()
_DAY_US: Final = 86_400_000_000


def _base64(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        raise ValueError(f"not valid base64: {exc}") from exc


#: Scaling by a power of ten in this context never rounds.
_EXACT: Final = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_a2b_base64: Final = binascii.a2b_base64


def _decimal_decoder(schema: dict[str, Any]) -> Decoder:
    exponent = -int((schema.get("parameters") or {}).get("scale", 0))

    def decode_decimal(value: str | float) -> Decimal:
        if value.__class__ is str:
            try:
                raw = _a2b_base64(value, strict_mode=True)
            except binascii.Error:
                raw = _base64(value)  # raises, naming the problem
            return Decimal(int.from_bytes(raw, "big", signed=True)).scaleb(exponent, _EXACT)
        return _decimal(value, -exponent)

    return decode_decimal


def _decimal(value: str | float, scale: int) -> Decimal:
    """Base64 of the big-endian two's-complement unscaled value (or a JSON number)."""
    if value.__class__ is str:
        unscaled = int.from_bytes(_base64(value), "big", signed=True)
        return Decimal(unscaled).scaleb(-scale, _EXACT)
    if value.__class__ is bool or not isinstance(value, int | float):
        raise TypeError(f"a decimal is base64 text or a JSON number, not {type(value).__name__}")
    number = Decimal(repr(value)) if value.__class__ is float else Decimal(value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -scale:
        number = number.quantize(Decimal(f"1e{-scale}"))
    return number


def _variable_scale_decimal(value: dict[str, Any]) -> Decimal:
    return _decimal(value["value"], int(value["scale"]))


def _date(days: int) -> date:
    if days in _INFINITE_DATES:
        return _INFINITE_DATES[days]
    try:
        return date.fromordinal(_EPOCH_ORDINAL + days)
    except (ValueError, OverflowError):
        return date.max if days > 0 else date.min


#: PostgreSQL's ``infinity`` and ``-infinity`` dates, as Debezium writes them (their day
#: numbers since 2000 overflow to these values when shifted to the epoch).
_INFINITE_DATES: Final = {-2147472692: date.max, -2147472691: date.min}


def _timestamp(unit_us: int, divisor: int = 1) -> Decoder:
    def decode_timestamp(value: int) -> datetime:
        try:
            return _EPOCH + timedelta(0, 0, value * unit_us // divisor)
        except OverflowError:
            return datetime.max if value > 0 else datetime.min

    def decode_micro_timestamp(value: int) -> datetime:
        try:
            return _EPOCH + timedelta(0, 0, value)
        except OverflowError:
            return datetime.max if value > 0 else datetime.min

    return decode_micro_timestamp if unit_us == divisor == 1 else decode_timestamp


def _zoned_timestamp(text: str) -> datetime:
    if text.__class__ is str:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            if text in _INFINITE_TIMESTAMPS:  # PostgreSQL's infinity and -infinity
                return _INFINITE_TIMESTAMPS[text]
            raise
    elif text in _INFINITE_TIMESTAMPS:
        return _INFINITE_TIMESTAMPS[text]
    else:
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_INFINITE_TIMESTAMPS: Final = {
    "infinity": datetime.max.replace(tzinfo=UTC),
    "-infinity": datetime.min.replace(tzinfo=UTC),
}


def _time(unit_us: int, divisor: int = 1) -> Decoder:
    def decode(value: int) -> time | timedelta:
        us = value * unit_us // divisor
        if 0 <= us < _DAY_US:
            seconds, micro = divmod(us, 1_000_000)
            return time(seconds // 3600, seconds // 60 % 60, seconds % 60, micro)
        if us == _DAY_US:
            return time.max  # PostgreSQL's 24:00:00
        return timedelta(0, 0, us)  # MySQL TIME is a duration: -838:59:59..838:59:59

    return decode


def _zoned_time(text: str) -> time:
    if text.startswith("24:00:00"):
        return time.max.replace(tzinfo=UTC)
    moment = time.fromisoformat(text)
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    shifted = datetime.combine(date(2000, 1, 3), moment).astimezone(UTC)
    return shifted.timetz()


def _float(value: float | str) -> float:
    """Jackson writes NaN and the infinities as the strings "NaN", "Infinity", "-Infinity"."""
    return float(value) if value.__class__ is str else value  # type: ignore[return-value]


def _const(decoder: Decoder) -> Callable[[dict[str, Any]], Decoder]:
    return lambda _schema: decoder


_LOGICAL_TYPES: Final[dict[str, Callable[[dict[str, Any]], Decoder]]] = {
    "org.apache.kafka.connect.data.Decimal": _decimal_decoder,
    "io.debezium.data.VariableScaleDecimal": _const(_variable_scale_decimal),
    "org.apache.kafka.connect.data.Date": _const(_date),
    "io.debezium.time.Date": _const(_date),
    "org.apache.kafka.connect.data.Timestamp": _const(_timestamp(1000)),
    "io.debezium.time.Timestamp": _const(_timestamp(1000)),
    "io.debezium.time.MicroTimestamp": _const(_timestamp(1)),
    "io.debezium.time.NanoTimestamp": _const(_timestamp(1, 1000)),
    "io.debezium.time.ZonedTimestamp": _const(_zoned_timestamp),
    "org.apache.kafka.connect.data.Time": _const(_time(1000)),
    "io.debezium.time.Time": _const(_time(1000)),
    "io.debezium.time.MicroTime": _const(_time(1)),
    "io.debezium.time.NanoTime": _const(_time(1, 1000)),
    "io.debezium.time.ZonedTime": _const(_zoned_time),
    "io.debezium.time.MicroDuration": _const(lambda us: timedelta(0, 0, us)),
    "io.debezium.time.NanoDuration": _const(lambda ns: timedelta(0, 0, ns // 1000)),
    "io.debezium.data.Json": _const(_loads),
    "io.debezium.data.Uuid": _const(UUID),
}

_PRIMITIVES: Final[dict[str | None, Decoder]] = {
    "bytes": _base64,
    "float": _float,
    "double": _float,
}
