"""JsonConverter documents: a record's payload, and its schema compiled once.

With ``schemas.enable`` on, JsonConverter writes ``{"schema":S,"payload":P}``. Only P is
parsed for each record; S is compiled once and found again by the topic it came on (or,
for a new topic, by its text), without parsing it.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Final, TypeAlias

from cdc_facts.envelope.parsing import _HINT, _loads, _not_json_reason
from cdc_facts.envelope.schemas import _compile_text, _Schema
from cdc_facts.errors import ChangeDecodeError

#: A record value or key: bytes or text as delivered, or already parsed.
RawRecord: TypeAlias = bytes | str | dict[str, Any] | None


def _parse(
    raw: RawRecord, what: str, stream: _Stream | None = None
) -> tuple[Any, _Schema | None, int]:
    """Split a JsonConverter document into its payload and compiled schema (or None).

    The third item is where the payload's text starts in ``raw``. ``stream`` names where
    the record comes from (its topic, for keys ``("key", topic)``): the schema last seen
    there is tried first.
    """
    cls = raw.__class__
    if cls is not bytes and cls is not str and isinstance(raw, bytes | str):
        raw = bytes(raw) if isinstance(raw, bytes) else str(raw)  # a subclass: as its base
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
    if raw is None or raw == b"" or raw == "":
        return None, None, 0  # a tombstone
    raise ChangeDecodeError(  # never dropped as if it were a tombstone
        f"the record's {what} is a {type(raw).__name__}, not JSON text or a parsed object",
        hint=_HINT,
    )


def _known_payload(raw: bytes, stream: _Stream) -> tuple[Any, _Schema, int] | None:
    """The payload of ``raw`` when it carries the schema last seen on ``stream``."""
    found = known_schema(raw, stream)
    if found is None:
        return None
    schema, start = found
    try:
        return _loads(raw[start:-1]), schema, start
    except ValueError:
        return None  # parsed whole, for a precise error


def known_schema(raw: bytes, stream: _Stream) -> tuple[_Schema, int] | None:
    """When ``raw`` is ``{"schema":S,"payload":P}`` with S the schema last seen on
    ``stream``, byte for byte: S compiled, and where P starts. Nothing is parsed: the whole
    of ``raw`` is JSON exactly when P is (``raw[start:-1]``).

    A stream's schema is remembered when a record of it is decoded in full
    (:func:`~cdc_facts.envelope.decode_change`).
    """
    known = _SCHEMAS.get(stream)
    if known is None:
        return None
    text, schema = known
    start = len(text) + 21  # len('{"schema":') + len(',"payload":')
    if text.__class__ is bytes and raw.startswith(b'{"schema":') and raw.startswith(
        text, 10
    ) and raw.startswith(b',"payload":', start - 11) and raw.endswith(b"}"):
        return schema, start
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



#: Compiled schemas with their text, by ``(length, tail)`` of the text; and by stream
#: (a topic's values or keys), the schema last seen there, tried first: with it, there is no
#: need to look for where the schema ends.
_SCHEMAS: dict[tuple[int, bytes | str] | _Stream, tuple[bytes | str, _Schema]] = {}
_SCHEMA_CACHE_LIMIT: Final = 4096
