"""A change record: one row-level change as Debezium captured it, already decoded.

The decoding of Kafka message bytes into a :class:`Change` lives in
:mod:`cdc_facts.envelope`; everything downstream sees only this plain data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from cdc_facts.types import Row

#: Debezium operation codes.
OPS = frozenset({"c", "u", "d", "r", "t", "m"})


@dataclass(frozen=True, slots=True, init=False)
class Change:
    """One decoded Debezium change event.

    Values inside ``before``/``after`` are decoded Python values (``int``, ``Decimal``,
    ``str``, ``bool``, ``datetime`` (aware in UTC for zoned types, naive for plain
    timestamps, as the database wrote them), ``date``, ``time``, ``UUID``, JSON values...),
    ``None`` for SQL NULL and :data:`cdc_facts.types.UNKNOWN` for a value the database did
    not deliver (Debezium's unavailable-value placeholder).

    >>> c = Change(op="u", before={"id": 1}, after={"id": 1},
    ...            source={"name": "shop", "schema": "public", "table": "orders", "lsn": 42})
    >>> c.table, c.connector
    ('public.orders', 'shop')
    """

    op: str
    before: Row | None
    after: Row | None
    source: dict[str, object] = field(default_factory=dict)
    ts_ms: int | None = None
    key: Row | None = None
    transaction: dict[str, object] | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    def __init__(
        self,
        op: str,
        before: Row | None,
        after: Row | None,
        source: dict[str, object] | None = None,
        ts_ms: int | None = None,
        key: Row | None = None,
        transaction: dict[str, object] | None = None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        # The fields' slots set directly: twice as fast as a frozen dataclass's __init__,
        # which matters on the hot path (one change per Kafka record). No source: ``{}``.
        _set_op(self, op)
        _set_before(self, before)
        _set_after(self, after)
        _set_source(self, {} if source is None else source)
        _set_ts_ms(self, ts_ms)
        _set_key(self, key)
        _set_transaction(self, transaction)
        _set_topic(self, topic)
        _set_partition(self, partition)
        _set_offset(self, offset)

    @property
    def connector(self) -> str:
        """The Debezium ``topic.prefix`` (``source.name``)."""
        return str(self.source.get("name", ""))

    @property
    def table(self) -> str:
        """``schema.table`` for PostgreSQL, ``db.table`` for MySQL/MariaDB."""
        schema = self.source.get("schema") or self.source.get("db")
        table = self.source.get("table")
        return f"{schema}.{table}" if schema else str(table)

    @property
    def is_snapshot(self) -> bool:
        """True for snapshot reads (op ``r``) and other records emitted while snapshotting."""
        snap = self.source.get("snapshot")
        return self.op == "r" or snap in (True, "true", "first", "last", "first_in_data_collection",
                                           "last_in_data_collection")

    @property
    def position(self) -> str:
        """The source position of this change within its connector.

        PostgreSQL: ``lsn:<lsn>``. MySQL/MariaDB with GTIDs: ``gtid:<gtid>:<n>``, where
        ``n`` is the event's order inside its transaction (Debezium's
        ``transaction.total_order``; without transaction metadata, the binlog ``pos`` and
        ``row``): a GTID names a whole transaction, which may change many rows. Without
        GTIDs: ``binlog:<file>:<pos>:<row>``. Snapshot reads share one position, so for
        them the record key is appended.

        A position may still be shared by several changes: PostgreSQL writes the rows of a
        ``COPY`` in one WAL record, and an update of a row's primary key becomes a delete
        and a create at one place (in PostgreSQL and MySQL alike). :attr:`row_position`
        tells them apart.
        """
        src = self.source
        if src.get("lsn") is not None:
            base = f"lsn:{src['lsn']}"
        elif src.get("gtid"):
            order = (self.transaction or {}).get("total_order")
            within = order if order is not None else f"{src.get('pos')}:{src.get('row', 0)}"
            base = f"gtid:{src['gtid']}:{within}"
        else:
            base = f"binlog:{src.get('file')}:{src.get('pos')}:{src.get('row', 0)}"
        if self.op == "r":
            return f"{base}:{key_text(self.key)}"
        return base

    @property
    def row_position(self) -> str:
        """:attr:`position` with the row's key: what names this change among all the
        changes of its connector, and so what a fact id is made of.

        >>> Change(op="c", before=None, after={"id": 2}, key={"id": 2},
        ...        source={"lsn": 5000}).row_position
        'lsn:5000:id=2'
        """
        return with_key(self.position, self)


def with_key(position: str, change: Change) -> str:
    """``position`` with the key of ``change`` appended, unless it holds it already (a
    snapshot read's) or the change has none (a table without a primary key)."""
    key = change.key
    if not key or change.op == "r":
        return position
    return f"{position}:{key_text(key)}"


def _slot_setter(name: str) -> Callable[[Change, Any], None]:
    setter: Callable[[Change, Any], None] = vars(Change)[name].__set__
    return setter


_set_op: Final = _slot_setter("op")
_set_before: Final = _slot_setter("before")
_set_after: Final = _slot_setter("after")
_set_source: Final = _slot_setter("source")
_set_ts_ms: Final = _slot_setter("ts_ms")
_set_key: Final = _slot_setter("key")
_set_transaction: Final = _slot_setter("transaction")
_set_topic: Final = _slot_setter("topic")
_set_partition: Final = _slot_setter("partition")
_set_offset: Final = _slot_setter("offset")


def key_text(key: Row | None) -> str:
    """A record key as text: ``name=value`` pairs in name order, joined by commas.

    >>> key_text({"order_id": 7, "line": 2})
    'line=2,order_id=7'
    """
    if not key:
        return ""
    if len(key) == 1:  # most keys: one column, on the hot path of every fact id
        for name, value in key.items():
            return f"{name}={value}"
    return ",".join(f"{name}={key[name]}" for name in sorted(key))
