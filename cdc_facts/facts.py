"""A fact: one immutable, named, timestamped business event, as a CloudEvents 1.0 event.

The encoder writes a :class:`Fact` as a CloudEvents 1.0 event for Kafka, in structured
mode (:func:`encode_fact` with :func:`fact_headers`) or binary mode
(:func:`encode_fact_binary`). Data values become JSON exactly: decimals as strings with
their digits, times in UTC RFC 3339, bytes in base64.

>>> from datetime import datetime, UTC
>>> from decimal import Decimal
>>> fact = Fact(id="f-1", type="shop.order.placed", source="/cdc-facts/shop/public.orders",
...             subject="42", time=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
...             data={"total": Decimal("12.30")}, topic="facts", rule="order-placed",
...             extensions={"cdcop": "c"})
>>> encode_fact(fact).decode()[:60]
'{"specversion":"1.0","id":"f-1","source":"/cdc-facts/shop/pu'
>>> to_cloudevent(fact)["data"]
{'total': '12.30'}
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Final, Protocol
from uuid import UUID

from cdc_facts.changes import Change, key_text
from cdc_facts.errors import EvaluationError, RecordError, UnknownValueError
from cdc_facts.json_forms import (
    DUMPS_UTC_ERRORS,
    EncodeError,
    dumps,
    dumps_utc,
    encode_mapping,
    std_dumps,
)
from cdc_facts.json_forms import rfc3339 as rfc3339
from cdc_facts.types import JSON, Row


@dataclass(frozen=True, slots=True, init=False)
class Fact:
    """One business fact made by one rule from one change.

    ``data`` holds typed Python values (``Decimal``, ``datetime`` in UTC, ``date``...);
    encoding them to JSON is the job of the CloudEvents encoder in this module.
    ``extensions`` are CloudEvents extension attributes: names of lowercase letters and
    digits (``cdcop``, ``cdcposition``...). ``dataschema``, when set, is the URI of the
    schema ``data`` adheres to.
    """

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    data: dict[str, object]
    topic: str
    rule: str
    extensions: dict[str, str] = field(default_factory=dict)
    dataschema: str | None = None

    def __init__(
        self,
        id: str,
        type: str,
        source: str,
        subject: str,
        time: datetime,
        data: dict[str, object],
        topic: str,
        rule: str,
        extensions: dict[str, str] | None = None,
        dataschema: str | None = None,
    ) -> None:
        # The fields' slots set directly: twice as fast as a frozen dataclass's __init__,
        # which matters on the hot path (one fact per matching rule). No extensions: ``{}``.
        _set_id(self, id)
        _set_type(self, type)
        _set_source(self, source)
        _set_subject(self, subject)
        _set_time(self, time)
        _set_data(self, data)
        _set_topic(self, topic)
        _set_rule(self, rule)
        _set_extensions(self, {} if extensions is None else extensions)
        _set_dataschema(self, dataschema)


def _slot_setter(name: str) -> Callable[[Fact, Any], None]:
    setter: Callable[[Fact, Any], None] = vars(Fact)[name].__set__
    return setter


_set_id: Final = _slot_setter("id")
_set_type: Final = _slot_setter("type")
_set_source: Final = _slot_setter("source")
_set_subject: Final = _slot_setter("subject")
_set_time: Final = _slot_setter("time")
_set_data: Final = _slot_setter("data")
_set_topic: Final = _slot_setter("topic")
_set_rule: Final = _slot_setter("rule")
_set_extensions: Final = _slot_setter("extensions")
_set_dataschema: Final = _slot_setter("dataschema")


#: The namespace of fact ids: ``uuid5(NAMESPACE_URL, "urn:cdc-facts:fact-id")``. It never
#: changes, so that a fact keeps its id across restarts and versions of cdc-facts.
FACT_ID_NAMESPACE: Final = UUID("88d4ccc6-c82b-5567-ac37-9041544584a8")

#: ``content-type`` of a structured-mode record.
STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json; charset=UTF-8"

#: ``datacontenttype`` of every fact.
DATA_CONTENT_TYPE: Final = "application/json"

_NAMESPACE_BYTES: Final = FACT_ID_NAMESPACE.bytes
_STRUCTURED_HEADER: Final = ("content-type", STRUCTURED_CONTENT_TYPE.encode())


def fact_id(connector: str, table: str, position: str, rule: str, version: int) -> str:
    """The deterministic id of the fact a rule makes from one change.

    A name-based UUID (version 5) over :data:`FACT_ID_NAMESPACE` and the length-prefixed
    parts, so the same change and rule give the same id after any restart, and no two
    different tuples of parts share a name.

    >>> fact_id("shop", "public.orders", "lsn:24023928", "order-placed", 1)
    '1ae113fc-eb0b-5fe6-ab5b-350733a474af'
    """
    return fact_ids(connector, table, rule, version)(position)


def fact_ids(connector: str, table: str, rule: str, version: int) -> Callable[[str], str]:
    """:func:`fact_id` for one rule of one table, as a function of the position alone.

    The constant parts are hashed once; each call hashes only the position.

    >>> fact_ids("shop", "public.orders", "order-placed", 1)("lsn:24023928")
    '1ae113fc-eb0b-5fe6-ab5b-350733a474af'
    """
    head, tail = _id_parts(connector, table, rule, version)
    if _compiled is not None:  # the same UUID, made in C
        return partial(_compiled.fact_id, head, tail)
    prefix = hashlib.sha1(head)  # noqa: S324 - UUID version 5 is SHA-1

    def make(position: str) -> str:
        digest = prefix.copy()
        digest.update(f"{len(position)}:{position}|".encode() + tail)
        raw = digest.digest()
        h = raw.hex()
        # version 5 in the 13th digit, the RFC 4122 variant in the top bits of the 17th
        return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[raw[8] >> 4]}{h[17:20]}-{h[20:32]}"

    return make


def row_fact_ids(connector: str, table: str, rule: str,
                 version: int) -> Callable[[str, Row | None], str]:
    """:func:`fact_ids`, as a function of a position and the key of the change's row: the
    id of the position with the key appended as :func:`~cdc_facts.changes.with_key` appends
    it (the position alone when the key is None or empty).

    >>> make = row_fact_ids("shop", "public.orders", "order-placed", 1)
    >>> make("lsn:24023928", {"id": 7}) == fact_id(
    ...     "shop", "public.orders", "lsn:24023928:id=7", "order-placed", 1)
    True
    """
    if _compiled is not None:  # the same UUID, made in C
        return partial(_compiled.row_fact_id, *_id_parts(connector, table, rule, version))
    make = fact_ids(connector, table, rule, version)

    def make_row(position: str, key: Row | None) -> str:
        return make(f"{position}:{key_text(key)}" if key else position)

    return make_row


def compiled_fact_maker(
    connector: str, table: str, rule: str, version: int, fact_type: str, source: str,
    topic: str,
) -> Callable[[Change, str, datetime, dict[str, object]], Fact | None] | None:
    """The end of making a fact in C, for one rule of one table: ``(change, subject, time,
    data) -> Fact``, with the id of :func:`row_fact_ids`, the ``cdc*`` extensions and the
    type, source and topic given here, as :class:`~cdc_facts.rule_plans.RulePlan` makes
    them; None from it for a change of a shape it leaves to Python. None where the C module
    is not built."""
    if _compiled is None:
        return None
    head, tail = _id_parts(connector, table, rule, version)
    return partial(_compiled.make_fact, (head, tail, fact_type, source, topic))


#: How the compiled builder converts a data field's value that is not of its type's exact
#: class, by the field's type: decimal text to ``Decimal``, timestamp text to ``datetime``
#: in UTC (any other type: no conversion, the value is handed back to Python).
BUILD_CONVERSIONS: Final = {"decimal": 1, "timestamp": 2}


def compiled_build_plan(
    connector: str, table: str, rule: str, version: int, fact_type: str, source: str,
    topic: str, reading: tuple[object, ...],
) -> tuple[object, ...] | None:
    """What the C code needs to make a rule's facts from changes alone (see
    :func:`compiled_fact_builder`): the fact's identity, and ``reading``, how the rule reads
    the key, the time and the data, as :class:`~cdc_facts.rule_plans.RulePlan` packs it (see
    ``build_fact`` in ``_facts.c``). None where the C module is not built."""
    if _compiled is None:
        return None
    head, tail = _id_parts(connector, table, rule, version)
    return ((head, tail, fact_type, source, topic), *reading)


def compiled_fact_builder(plan: tuple[object, ...]) -> Callable[[Change], Fact | None]:
    """All of :meth:`RulePlan.build <cdc_facts.rule_plans.RulePlan.build>` in C, for the
    rule of ``plan`` (:func:`compiled_build_plan`): ``change -> Fact``, or None for a change
    it leaves to Python (a value to convert otherwise, to check against the contract, or
    unknown)."""
    assert _compiled is not None, "a plan is made only where the C module is built"
    return partial(_compiled.build_fact, plan)


def compiled_rule_runner(
    steps: tuple[tuple[Callable[[Change], object], tuple[object, ...]], ...],
) -> Callable[[Change], list[Fact] | None] | None:
    """The rule loop of one table and op in C: ``steps`` is ``(when, plan)`` for each rule in
    file order; ``change -> facts`` of the rules whose ``when`` is TRUE, each made by
    :func:`compiled_fact_builder`'s code, or None for a change it leaves to the Python loop
    (a ``when`` unknown or failing, a fact handed back). None where the C module is not
    built."""
    if _compiled is None:
        return None
    return partial(_compiled.run_rules, steps)


def _id_parts(connector: str, table: str, rule: str, version: int) -> tuple[bytes, bytes]:
    """The constant parts of a fact id's UUID v5 name, around the position: the namespace
    with the connector and table, and the rule and its version (all length-prefixed)."""
    head = f"{len(connector)}:{connector}|{len(table)}:{table}|".encode()
    return _NAMESPACE_BYTES + head, f"{len(rule)}:{rule}|{version}".encode()


#: The 17th hex digit of a UUID with the RFC 4122 variant, by the digit it replaces.
_VARIANT: Final = "89ab" * 4


def to_cloudevent(fact: Fact) -> dict[str, JSON]:
    """The fact as a CloudEvents 1.0 event in structured JSON form (a JSON-ready dict).

    Raises:
        RecordError: an attribute is empty or an extension name is not valid.
        EvaluationError: a data value cannot be written as JSON (NaN, infinity, a type
            with no JSON form).
        UnknownValueError: a data value is :data:`~cdc_facts.types.UNKNOWN`.
    """
    event: dict[str, JSON] = {
        "specversion": "1.0",
        "id": fact.id,
        "source": fact.source,
        "type": fact.type,
    }
    if not (fact.id and fact.source and fact.type):
        raise RecordError(
            f"fact from rule `{fact.rule}` has an empty id, source or type: {event}", rule=fact.rule
        )
    if fact.subject:
        event["subject"] = fact.subject
    event["time"] = rfc3339(fact.time)
    event["datacontenttype"] = DATA_CONTENT_TYPE
    if fact.dataschema:
        event["dataschema"] = fact.dataschema
    extensions = fact.extensions
    if not extensions.keys() <= _VALID_EXTENSIONS:
        for name in extensions:
            _check_extension(name, fact)
    event.update(extensions)
    event["data"] = encode_data(fact)
    return event


def encode_fact(fact: Fact) -> bytes:
    """The Kafka record value of the fact: structured-mode CloudEvents JSON, compact.

    Raises:
        RecordError: as :func:`to_cloudevent`.
    """
    if _compiled is not None:  # a plain fact, written in C as below
        value = _compiled.encode(fact)
        if value is not None:
            return value
    if dumps_utc is not None and fact.time.tzinfo is UTC:
        event = _plain_event(fact)
        if event is not None:
            try:
                return dumps_utc(event)  # writes UTC times and decimals as encode_data
            except DUMPS_UTC_ERRORS:  # an integer beyond 64 bits, a decimal with no JSON form
                pass
    return dumps(to_cloudevent(fact))


def _plain_event(fact: Fact) -> dict[str, object] | None:
    """The event of a fact with a subject, valid extensions and no dataschema, with its time
    and its data values left as they are when orjson writes them as :func:`encode_data`
    would (a ``Decimal`` through :func:`_fast_default`); None for any other fact
    (:func:`to_cloudevent` handles it)."""
    if not (fact.subject and fact.id and fact.source and fact.type) or fact.dataschema:
        return None
    extensions = fact.extensions
    if not extensions.keys() <= _VALID_EXTENSIONS:
        return None
    data: Mapping[str, object] = fact.data
    for value in data.values():
        cls = value.__class__
        if cls is str or cls is int or cls is bool or value is None or cls is Decimal or (
            cls is datetime and value.tzinfo is UTC  # type: ignore[attr-defined]
        ) or cls is date:
            continue
        data = encode_data(fact)
        break
    return {"specversion": "1.0", "id": fact.id, "source": fact.source, "type": fact.type,
            "subject": fact.subject, "time": fact.time, "datacontenttype": DATA_CONTENT_TYPE,
            **extensions, "data": data}


def fact_headers(fact: Fact) -> list[tuple[str, bytes]]:
    """The Kafka record headers that go with :func:`encode_fact`."""
    return [_STRUCTURED_HEADER]


def encode_fact_binary(fact: Fact) -> tuple[list[tuple[str, bytes]], bytes]:
    """The fact in CloudEvents binary mode: ``ce_*`` headers, and ``data`` as the value.

    >>> from datetime import datetime
    >>> headers, value = encode_fact_binary(Fact(id="f-1", type="t", source="/s", subject="",
    ...     time=datetime(2024, 5, 1), data={"n": 1}, topic="facts", rule="r"))
    >>> headers[:2], value
    ([('ce_specversion', b'1.0'), ('ce_id', b'f-1')], b'{"n":1}')
    """
    event = to_cloudevent(fact)
    data = event.pop("data")
    event.pop("datacontenttype")
    headers = [(f"ce_{name}", str(value).encode()) for name, value in event.items()]
    headers.append(("content-type", DATA_CONTENT_TYPE.encode()))
    return headers, dumps(data)


def encode_data(fact: Fact) -> dict[str, JSON]:
    """The fact's data as JSON-ready values (see :mod:`cdc_facts.facts` for the mapping).

    Raises:
        EvaluationError: a value cannot be written as JSON.
        UnknownValueError: a value is :data:`~cdc_facts.types.UNKNOWN`.
    """
    try:
        return encode_mapping(fact.data)
    except EncodeError as exc:
        where = f"fact `{fact.type}` of rule `{fact.rule}`: data field `{exc.path}`"
        if exc.unknown:
            raise UnknownValueError(
                f"{where} is unknown (the database did not deliver it)",
                rule=fact.rule,
                hint="make the rule read it only when it is known, or set on_unknown",
            ) from exc
        raise EvaluationError(f"{where}: {exc.reason}", rule=fact.rule) from exc


def is_valid_extension_name(name: str) -> bool:
    """Whether ``name`` may name a CloudEvents extension attribute of a fact.

    CloudEvents 1.0 names are lowercase ASCII letters and digits; cdc-facts also keeps
    them off the context attributes of the specification (``id``, ``time``, ``data``...).

    >>> is_valid_extension_name("cdcop"), is_valid_extension_name("cdc_op")
    (True, False)
    """
    return bool(_EXTENSION_NAME.fullmatch(name)) and name not in _RESERVED


_EXTENSION_NAME: Final = re.compile(r"[a-z0-9]+")
_RESERVED: Final = frozenset(
    "specversion id source type subject time datacontenttype dataschema data data_base64".split()
)
#: Extension names already found valid (the translator's own are known to be).
_VALID_EXTENSIONS: set[str] = {"cdcop", "cdcposition", "cdcrule", "cdcsnapshot", "cdctxid"}


def _check_extension(name: str, fact: Fact) -> None:
    if not is_valid_extension_name(name):
        raise RecordError(
            f"fact `{fact.type}` of rule `{fact.rule}`: {name!r} cannot name a CloudEvents "
            "extension attribute",
            rule=fact.rule,
            hint="use lowercase letters and digits only (20 at most is recommended), and not "
            "the name of a CloudEvents attribute",
        )
    _VALID_EXTENSIONS.add(name)


#: The writers of :func:`to_cloudevent` documents: the fast one and the standard library's
#: (tests compare them).
_dumps: Final = dumps
_std_dumps: Final = std_dumps


class _Compiled(Protocol):
    """What ``_facts.c`` provides."""

    def fact_id(self, prefix: bytes, tail: bytes, position: str, /) -> str: ...

    def row_fact_id(self, prefix: bytes, tail: bytes, position: str, key: Row | None,
                    /) -> str: ...

    def encode(self, fact: Fact, /) -> bytes | None: ...

    def make_fact(self, rule: tuple[bytes, bytes, str, str, str], change: Change, subject: str,
                  time: datetime, data: dict[str, object], /) -> Fact | None: ...

    def build_fact(self, plan: tuple[object, ...], change: Change, /) -> Fact | None: ...

    def run_rules(self, steps: tuple[tuple[Callable[[Change], object], tuple[object, ...]], ...],
                  change: Change, /) -> list[Fact] | None: ...


def _compiled_facts() -> _Compiled | None:
    """The C fact ids and encoder (``_facts.c``), set up; None where they were not built
    (no C compiler at install): this module then does the same in Python."""
    try:
        from cdc_facts import _facts
    except ImportError:
        return None
    _facts.configure(Decimal, UTC, _VALID_EXTENSIONS, DATA_CONTENT_TYPE, Fact)
    return _facts


_compiled: Final = _compiled_facts()


def compiled() -> bool:
    """Whether the C fact ids and encoder are installed."""
    return _compiled is not None
