"""When each fact was committed, read from the broker's log: the append time of the commit
marker that made it readable.

A transactional record becomes readable with ``read_committed`` the moment the transaction
coordinator appends the ``COMMIT`` marker (a control batch) after it in its partition. The
fact topics of the benchmark are stamped with the broker's append time
(``LogAppendTime``), markers included, so the marker's timestamp is the fact's commit
time, to the millisecond, whatever the process that reads the facts is doing then. A
consumer notes the same moment later by its fetch and by its own scheduling, which on a
busy machine is what it measures at the tail.

This reads the log segment files of a local broker (``$CDC_FACTS_HOME/kafka/data`` of
``cdc-facts local up``), in Kafka's record batch format v2; only batch headers and the
key of a control record are decoded.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta,
#: baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence, records
_HEADER = struct.Struct(">qiibIhiqqqhii")
_TRANSACTIONAL = 0x10
_CONTROL = 0x20
_COMMIT = 1


@dataclass(frozen=True)
class Batch:
    """One record batch of a partition's log, as its header has it."""

    base_offset: int
    last_offset: int
    producer_id: int
    timestamp_ms: int  # maxTimestamp: the append time under LogAppendTime
    transactional: bool
    control: int | None  # 0 abort, 1 commit; None for a batch of data records


def batches(partition_dir: Path) -> Iterator[Batch]:
    """Every batch of one partition, in offset order, from its segment files."""
    for segment in sorted(partition_dir.glob("*.log")):
        yield from _segment_batches(segment.read_bytes())


def _segment_batches(data: bytes) -> Iterator[Batch]:
    at = 0
    while at + _HEADER.size <= len(data):
        (base, length, _epoch, magic, _crc, attributes, last_delta, _base_ts, max_ts,
         producer_id, _producer_epoch, _sequence, _count) = _HEADER.unpack_from(data, at)
        end = at + 12 + length
        if magic != 2 or end > len(data):
            return  # an older format, or the tail of a segment still being written
        control = _control_type(data, at + _HEADER.size) if attributes & _CONTROL else None
        yield Batch(base, base + last_delta, producer_id, max_ts,
                    bool(attributes & _TRANSACTIONAL), control)
        at = end


def _control_type(data: bytes, at: int) -> int:
    """The type in a control record's key (version int16, type int16)."""
    at = _skip_varint(data, at)  # the record's length
    at += 1  # its attributes
    at = _skip_varint(data, at)  # timestamp delta
    at = _skip_varint(data, at)  # offset delta
    key_length, at = _varint(data, at)
    if key_length < 4:
        raise ValueError(f"a control record's key of {key_length} bytes")
    return int(struct.unpack_from(">h", data, at + 2)[0])


def _skip_varint(data: bytes, at: int) -> int:
    while data[at] & 0x80:
        at += 1
    return at + 1


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), at  # zigzag
        shift += 7


class CommitTimes:
    """The commit time of each transactional record of a partition.

    >>> log = [Batch(0, 1, 7, 100, True, None), Batch(2, 2, 8, 103, True, None),
    ...        Batch(3, 3, 7, 105, True, 1), Batch(4, 4, 8, 109, True, 0),
    ...        Batch(5, 5, 8, 110, True, None)]
    >>> times = CommitTimes(log)
    >>> [times.committed_ms(offset) for offset in range(6)]
    [105, 105, None, None, None, None]
    """

    def __init__(self, log: Iterable[Batch]) -> None:
        self._data: list[Batch] = []
        #: producer id -> the offsets, times and types of its markers
        self._markers: dict[int, tuple[list[int], list[int], list[int]]] = {}
        for batch in log:
            if batch.control is None:
                self._data.append(batch)
            else:
                offsets, times, types = self._markers.setdefault(batch.producer_id,
                                                                 ([], [], []))
                offsets.append(batch.base_offset)
                times.append(batch.timestamp_ms)
                types.append(batch.control)
        self._starts = [b.base_offset for b in self._data]

    def committed_ms(self, offset: int) -> int | None:
        """When the record at ``offset`` became readable: the append time of its producer's
        next marker, a commit. None: not a transactional record whose transaction committed
        (aborted, still open, a marker offset or a gap)."""
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0 or offset > self._data[i].last_offset:
            return None
        batch = self._data[i]
        markers = self._markers.get(batch.producer_id)
        if not batch.transactional or markers is None:
            return None
        offsets, times, types = markers
        j = bisect.bisect_right(offsets, batch.last_offset)
        return times[j] if j < len(offsets) and types[j] == _COMMIT else None
