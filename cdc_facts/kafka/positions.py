"""Source positions, and the high-water marks that drop changes Debezium sends twice.

Debezium delivers at least once: after a Connect worker dies, it sends again, at new Kafka
offsets, the changes it had sent but not yet recorded as sent. Every change carries its
position in the source database's log, so the service keeps, for each change-topic
partition and connector, the highest position it has turned into facts (its high-water
mark) and drops any change at or below it.

Positions are ordered within one connector's stream:

* PostgreSQL: ``(last commit LSN, LSN)`` from ``source.sequence``. The LSN alone is not
  ordered: Debezium sends transactions in commit order, and a transaction that began
  earlier can hold lower LSNs than one that committed before it. Several changes can share
  one LSN (a ``COPY`` writes many rows in one WAL record), so the record keys seen at the
  mark's exact position are kept with it.
* MySQL and MariaDB with GTIDs: ``(transaction number, event position, row)`` within one
  GTID source (``gtid:<server uuid>`` for MySQL, ``gtid:<domain>`` for MariaDB). A GTID
  names the same transaction on every server of a replication topology, so the order
  holds when Debezium moves to another server; the event position only orders the rows of
  one transaction.
* MySQL and MariaDB without GTIDs: ``(binlog file number, event position, row)``, within
  one server (``source.server_id``); a change from another server is not compared. (Debezium
  cannot resume a binlog position on another server: without GTIDs a move starts anew.)

Snapshot reads (op ``r``) share one position, so they are never dropped and never move a
mark: their fact ids (deterministic, keyed by the row) let consumers spot repeats.

>>> change = Change(op="c", before=None, after={"id": 1}, key={"id": 1},
...                 source={"name": "shop", "lsn": 120, "sequence": '["100","120"]'})
>>> position = source_position(change)
>>> position.order
(100, 120)
>>> marks = HighWaterMarks()
>>> key = MarkKey("shop.public.orders", 0, "shop")
>>> marks.is_duplicate(key, position)
False
>>> marks.advance(key, position)
>>> marks.is_duplicate(key, position)
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Final, NamedTuple

from cdc_facts.changes import Change

_BINLOG_NUMBER: Final = re.compile(r"(\d+)$")
#: A MySQL GTID (``<server uuid>:<transaction number>``) and a MariaDB one
#: (``<domain>-<server id>-<sequence number>``).
_MYSQL_GTID: Final = re.compile(r"([0-9a-fA-F-]{36}):(\d+)")
_MARIADB_GTID: Final = re.compile(r"(\d+)-\d+-(\d+)")


class MarkKey(NamedTuple):
    """Where a high-water mark applies: one change-topic partition, one connector."""

    topic: str
    partition: int
    connector: str


class SourcePosition(NamedTuple):
    """A change's place in its connector's stream.

    ``scope`` names the stream the ``order`` is valid in (``pg``, ``binlog:<server id>``);
    ``key`` is the record key as text, telling apart changes that share one position.
    """

    scope: str
    order: tuple[int, ...]
    key: str | None = None


#: A position's fields, ``(scope, order, key)``: a :class:`SourcePosition` (whose fields
#: have names), or the plain tuple :func:`source_place` makes for each record, a fifth of
#: the cost to build. Marks take either.
Place = tuple[str, tuple[int, ...], str | None]


def _covers(scope: str, order: tuple[int, ...], keys: Set[str], position: Place) -> bool:
    at_scope, at_order, key = position
    if at_scope != scope or at_order > order:
        return False
    if at_order < order:
        return True
    return key is not None and key in keys


@dataclass(frozen=True, slots=True)
class HighWaterMark:
    """The highest position turned into facts, and the record keys seen exactly there."""

    scope: str
    order: tuple[int, ...]
    keys: frozenset[str] = frozenset()

    def covers(self, position: Place) -> bool:
        """Whether ``position`` was already handled (it is at or below this mark).

        A change at the mark's exact position counts as handled only if its key was seen
        there; a change without a key is then let through (a repeat beats a loss).
        """
        return _covers(self.scope, self.order, self.keys, position)

    def advanced(self, position: Place) -> HighWaterMark:
        """This mark moved up to ``position`` (or widened by its key at the same place)."""
        moving = _Moving(self.scope, self.order, set(self.keys))
        moving.move(position)
        return moving.frozen()

    @staticmethod
    def at(position: Place) -> HighWaterMark:
        """A mark exactly at ``position``."""
        scope, order, key = position
        return HighWaterMark(scope, order, frozenset() if key is None else frozenset({key}))


class _Moving:
    """A mark the open transaction moves, changed in place (one per partition and batch,
    not one per change)."""

    __slots__ = ("scope", "order", "keys")

    def __init__(self, scope: str, order: tuple[int, ...], keys: set[str]) -> None:
        self.scope = scope
        self.order = order
        self.keys = keys

    def covers(self, position: Place) -> bool:
        return _covers(self.scope, self.order, self.keys, position)

    def move(self, position: Place) -> None:
        scope, order, key = position
        if scope == self.scope:
            if order == self.order:
                if key is not None:
                    self.keys.add(key)
                return
            if order < self.order:
                return
        self.scope, self.order = scope, order
        self.keys = set() if key is None else {key}

    def admit(self, position: Place) -> bool:
        """:meth:`covers`, then :meth:`move` if not covered, in one call: whether the
        change at ``position`` is new. Positions mostly grow: that case is tested first."""
        scope, order, key = position
        if scope != self.scope or order > self.order:
            self.scope, self.order = scope, order
            self.keys = set() if key is None else {key}
            return True
        if order < self.order:
            return False
        if key is None:  # at the mark, without a key: let through, the mark stays
            return True
        if key in self.keys:
            return False
        self.keys.add(key)
        return True

    def frozen(self) -> HighWaterMark:
        return HighWaterMark(self.scope, self.order, frozenset(self.keys))


def source_position(change: Change, record_key: bytes | str | None = None) -> SourcePosition | None:
    """The ordered position of ``change``, or ``None`` when it cannot be ordered.

    ``None`` for snapshot reads, for PostgreSQL changes without ``source.sequence``
    (Debezium before 1.3) and for connectors of other databases.

    Args:
        change: the decoded change.
        record_key: the Kafka record key as delivered; it names the row more cheaply than
            the decoded key (Debezium writes the same bytes when it sends a change again).
    """
    place = source_place(change, record_key)
    return None if place is None else SourcePosition(*place)


def source_place(change: Change, record_key: bytes | str | None = None) -> Place | None:
    """:func:`source_position` as a plain tuple ``(scope, order, key)``: what the service
    makes for every record, so the common case comes first (a PostgreSQL change, not a
    snapshot, with its Kafka record key)."""
    source = change.source
    snapshot = source.get("snapshot")
    # ``None`` and "false" are the values of a change that is not a snapshot read
    if change.op == "r" or (snapshot is not None and snapshot != "false" and change.is_snapshot):
        return None
    if isinstance(record_key, bytes) and record_key:
        key: str | None = record_key.decode("utf-8", "replace")
    else:
        key = _key_text(change.key) if record_key is None else _text(record_key)
    lsn = source.get("lsn")
    if lsn is not None:
        order = _postgres_order(lsn, source.get("sequence"))
        return None if order is None else ("pg", order, key)
    if source.get("gtid") and source.get("pos") is not None:
        place = _gtid_place(str(source["gtid"]), source, key)
        if place is not None:
            return place
    if source.get("file") and source.get("pos") is not None:
        return _binlog_place(source, key)
    return None


def _postgres_order(lsn: object, sequence: object) -> tuple[int, int] | None:
    """``(last commit LSN, LSN)`` from ``sequence``, the text ``["<last commit>","<lsn>"]``.
    The first transaction a connector streams has no last commit (``null``): its own LSN
    stands in (every later commit ends above it).

    >>> _postgres_order(120, '["100","120"]'), _postgres_order(120, '[null, "120"]')
    ((100, 120), (120, 120))
    """
    if type(lsn) is int and isinstance(sequence, str) and sequence.startswith('["'):
        # as Debezium writes it: the last commit lies between `["` and `",`. Text that
        # int() reads holds no quote or comma, so the general reading finds the same number.
        end = sequence.find('",', 2)
        if end > 2:
            try:
                return int(sequence[2:end]), lsn
            except ValueError:
                pass
    return _postgres_order_of_any(lsn, sequence)


def _postgres_order_of_any(lsn: object, sequence: object) -> tuple[int, int] | None:
    """:func:`_postgres_order` for every spelling of ``sequence`` (spaces, ``null``, a
    number without quotes...) and an LSN given as text."""
    if not isinstance(sequence, str):
        return None
    last_commit = sequence[1:sequence.find(",")].strip().strip('"')
    try:
        current = int(lsn)  # type: ignore[call-overload]
        return (int(last_commit) if last_commit and last_commit != "null" else current, current)
    except (ValueError, TypeError):
        return None


def _gtid_place(gtid: str, source: Mapping[str, object], key: str | None) -> Place | None:
    """``gtid:<source>``, ``(transaction number, event position, row)``; None for a GTID
    of another form (the binlog position is used then)."""
    mysql = _MYSQL_GTID.fullmatch(gtid)
    match = mysql or _MARIADB_GTID.fullmatch(gtid)
    if match is None:
        return None
    try:
        order = (int(match.group(2)), int(str(source["pos"])), int(str(source.get("row") or 0)))
    except ValueError:
        return None
    scope = match.group(1).lower() if mysql else f"domain-{match.group(1)}"
    return f"gtid:{scope}", order, key


def _binlog_place(source: Mapping[str, object], key: str | None) -> Place | None:
    number = _BINLOG_NUMBER.search(str(source["file"]))
    try:
        order = (int(number.group(1)) if number else 0, int(str(source["pos"])),
                 int(str(source.get("row") or 0)))
    except ValueError:
        return None
    return f"binlog:{source.get('server_id', '')}", order, key


def _text(record_key: bytes | str) -> str | None:
    if not record_key:
        return None
    return record_key if isinstance(record_key, str) else record_key.decode("utf-8", "replace")


def _key_text(key: object) -> str | None:
    if not key:
        return None
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


class HighWaterMarks:
    """The marks of the partitions this instance owns: committed ones, and the ones the
    open transaction moved (kept apart until it commits, forgotten if it aborts)."""

    def __init__(self) -> None:
        self._committed: dict[MarkKey, HighWaterMark] = {}
        self._pending: dict[MarkKey, _Moving] = {}

    def is_duplicate(self, key: MarkKey, position: Place) -> bool:
        """Whether a change at ``position`` was already turned into facts."""
        mark = self._pending.get(key) or self._committed.get(key)
        return mark is not None and mark.covers(position)

    def admit(self, key: MarkKey, position: Place) -> bool:
        """Whether a change at ``position`` is new; if it is, the open transaction's mark
        moves up to it: :meth:`is_duplicate`, then :meth:`advance`, in one look-up."""
        moving = self._pending.get(key)
        if moving is not None:
            return moving.admit(position)
        mark = self._committed.get(key)
        if mark is not None and mark.covers(position):
            return False
        self.advance(key, position)
        return True

    def advance(self, key: MarkKey, position: Place) -> None:
        """Record that the change at ``position`` is handled, in the open transaction."""
        moving = self._pending.get(key)
        if moving is None:
            mark = self._committed.get(key)
            if mark is None:
                scope, order, row = position
                self._pending[key] = _Moving(scope, order, set() if row is None else {row})
                return
            moving = self._pending[key] = _Moving(mark.scope, mark.order, set(mark.keys))
        moving.move(position)

    def pending(self) -> dict[MarkKey, HighWaterMark]:
        """The marks the open transaction moved: to be written with it."""
        return {key: moving.frozen() for key, moving in self._pending.items()}

    def commit(self) -> None:
        """The open transaction committed: its marks hold."""
        self._committed.update(self.pending())
        self._pending.clear()

    def rollback(self) -> None:
        """The open transaction aborted: forget the marks it moved."""
        self._pending.clear()

    def load(self, marks: Mapping[MarkKey, HighWaterMark]) -> None:
        """Take the committed marks read back from the positions topic."""
        self._committed.update(marks)

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Drop the marks of partitions this instance no longer owns."""
        gone = set(partitions)
        for marks in (self._committed, self._pending):
            for key in [k for k in marks if (k.topic, k.partition) in gone]:
                del marks[key]

    def get(self, key: MarkKey) -> HighWaterMark | None:
        """The current mark of ``key`` (the open transaction's, if it moved it)."""
        moving = self._pending.get(key)
        return moving.frozen() if moving is not None else self._committed.get(key)


# --- the positions topic -----------------------------------------------------------------


def encode_mark(key: MarkKey, mark: HighWaterMark) -> tuple[bytes, bytes]:
    """The record key and value of a mark in the compacted positions topic.

    >>> encode_mark(MarkKey("t", 0, "shop"), HighWaterMark("pg", (1, 2)))[1]
    b'{"scope":"pg","order":[1,2],"keys":[]}'
    """
    record_key = json.dumps({"topic": key.topic, "partition": key.partition,
                             "connector": key.connector}, separators=(",", ":"))
    value = json.dumps({"scope": mark.scope, "order": list(mark.order),
                        "keys": sorted(mark.keys)}, separators=(",", ":"))
    return record_key.encode(), value.encode()


def decode_mark(key: bytes | None, value: bytes | None) -> tuple[MarkKey, HighWaterMark | None]:
    """Read back a record of the positions topic (a ``None`` value deletes the mark).

    Raises:
        ValueError: the record was not written by :func:`encode_mark`.
    """
    if key is None:
        raise ValueError("a positions record without a key")
    fields = json.loads(key)
    mark_key = MarkKey(str(fields["topic"]), int(fields["partition"]), str(fields["connector"]))
    if value is None:
        return mark_key, None
    data = json.loads(value)
    mark = HighWaterMark(str(data["scope"]), tuple(int(n) for n in data["order"]),
                         frozenset(str(k) for k in data.get("keys", ())))
    return mark_key, mark
