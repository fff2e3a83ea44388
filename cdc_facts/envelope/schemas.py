"""Kafka Connect schemas, compiled once into decoders of the JSON values they describe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from cdc_facts.envelope.logical_types import _LOGICAL_TYPES, _PRIMITIVES, Decoder
from cdc_facts.envelope.parsing import _json_type, _loads
from cdc_facts.errors import ChangeDecodeError
from cdc_facts.types import UNKNOWN, Row

#: What a value's decoder raises when the value does not match its schema.
DECODE_ERRORS: Final = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError)


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
    #: For ``before`` and ``after`` when they are structs: the decoder of each column that
    #: needs one.
    columns: dict[str, dict[str, Decoder]] = field(default_factory=dict)

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

    def for_columns(self, columns: frozenset[str]) -> ColumnDecoders | None:
        """The decoders of ``columns`` in ``before`` and ``after``, and of ``source``; None
        when a row's schema is not a struct (only :meth:`decode_rows` decodes it)."""
        steps = []
        for name in ("before", "after"):
            decoders = self.columns.get(name)
            if decoders is None and self.fields.get(name) is not None:
                return None
            steps.append(tuple((c, d) for c, d in (decoders or {}).items() if c in columns))
        return ColumnDecoders(steps[0], steps[1], self.fields.get("source"))


@dataclass(frozen=True, slots=True)
class ColumnDecoders:
    """:meth:`_Schema.decode_rows` for rows that hold only some of their columns: the
    decoder of each column that needs one, among those kept."""

    before: tuple[tuple[str, Decoder], ...]
    after: tuple[tuple[str, Decoder], ...]
    source: Decoder | None

    def decode(self, before: Row | None, after: Row | None, source: dict[str, Any]) -> None:
        """Decode the rows' columns and the source block in place.

        Raises:
            ValueError: a value does not match its schema (:meth:`_Schema.decode_rows`
                names it); also TypeError, KeyError, AttributeError or ArithmeticError.
        """
        for row, steps in ((before, self.before), (after, self.after)):
            if row:
                for column, decoder in steps:
                    value = row.get(column)
                    if value is not None and value is not UNKNOWN:
                        row[column] = decoder(value)
        if source and self.source is not None:
            self.source(source)


def _decode_field(decoder: Decoder, value: object, name: str) -> None:
    try:
        decoder(value)
    except _FieldError as exc:
        raise ChangeDecodeError(
            f"cannot decode `{name}.{exc.path}`: {exc.reason}",
            hint="the value does not match the schema the record carries",
        ) from exc
    except DECODE_ERRORS as exc:
        # a whole row or key described as a logical type (a hand-made schema)
        raise ChangeDecodeError(
            f"cannot decode `{name}`: {exc} (value {_short(value)})",
            hint="the value does not match the schema the record carries",
        ) from exc


#: Compiled schemas with their text, by ``(length, tail)`` of the text; and by stream
#: (a topic's values or keys), the schema last seen there, tried first: with it, there is no


def _compile_text(text: bytes | str) -> _Schema:
    """Compile a schema's JSON text (raises ValueError when it is not JSON)."""
    document = _loads(text)
    if document.__class__ is not dict:
        raise ValueError(f"the schema is a JSON {_json_type(document)}, not an object")
    try:
        fields = {f["field"]: compile_schema(f) for f in document.get("fields") or ()}
        columns = {f["field"]: decoders for f in document.get("fields") or ()
                   if f["field"] in ("before", "after")
                   and (decoders := _column_decoders(f)) is not None}
        return _Schema(compile_schema(document), fields, columns)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed schema ({type(exc).__name__}: {exc})") from exc


def _column_decoders(struct: dict[str, Any]) -> dict[str, Decoder] | None:
    """The decoder of each field of a plain struct schema that needs one; None for
    anything else (a logical type, a field named twice): only the whole row's decoder
    decodes those."""
    if struct.get("type") != "struct" or struct.get("name") in _LOGICAL_TYPES:
        return None
    fields = struct.get("fields") or ()
    if len({f["field"] for f in fields}) != len(fields):
        return None
    return {f["field"]: decoder for f in fields if (decoder := compile_schema(f)) is not None}


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
                except DECODE_ERRORS as exc:
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
