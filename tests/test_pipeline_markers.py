"""The benchmark's reader of commit markers in a broker's log segments
(benchmarks/pipeline/markers.py), on segments written here byte by byte in Kafka's record
batch format v2; the pipeline smoke test reads a real broker's."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from benchmarks.pipeline.markers import Batch, CommitTimes, batches

_TRANSACTIONAL, _CONTROL, _LOG_APPEND_TIME = 0x10, 0x20, 0x08


def _varint(value: int) -> bytes:
    value = (value << 1) ^ (value >> 63)  # zigzag
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _batch(base: int, last_delta: int, producer: int, ms: int, *, attributes: int,
           records: bytes) -> bytes:
    after_length = struct.pack(">ibIhiqqqhii", 0, 2, 0, attributes, last_delta, ms - 5, ms,
                               producer, 0, -1, last_delta + 1) + records
    return struct.pack(">qi", base, len(after_length)) + after_length


def _data(base: int, count: int, producer: int, ms: int) -> bytes:
    return _batch(base, count - 1, producer, ms, records=b"\x00" * (20 * count),
                  attributes=_TRANSACTIONAL | _LOG_APPEND_TIME)


def _marker(base: int, producer: int, ms: int, kind: int) -> bytes:
    key = struct.pack(">hh", 0, kind)
    body = b"\x00" + _varint(300) + _varint(0) + _varint(len(key)) + key + _varint(6) + bytes(6)
    record = _varint(len(body)) + body + _varint(0)
    return _batch(base, 0, producer, ms, records=record,
                  attributes=_TRANSACTIONAL | _CONTROL | _LOG_APPEND_TIME)


def test_batches_reads_data_and_markers_across_segments_and_stops_at_a_partial_batch(
        tmp_path: Path) -> None:
    (tmp_path / "00000000000000000000.log").write_bytes(
        _data(0, 3, 7, 1_000) + _data(3, 1, 8, 1_002) + _marker(4, 7, 1_010, 1))
    partial = _marker(7, 8, 1_030, 0)[:-3]  # the broker is still writing it
    (tmp_path / "00000000000000000005.log").write_bytes(
        _marker(5, 8, 1_020, 0) + _data(6, 1, 7, 1_025) + partial)

    assert list(batches(tmp_path)) == [
        Batch(0, 2, 7, 1_000, True, None), Batch(3, 3, 8, 1_002, True, None),
        Batch(4, 4, 7, 1_010, True, 1), Batch(5, 5, 8, 1_020, True, 0),
        Batch(6, 6, 7, 1_025, True, None)]


def test_a_record_is_committed_at_its_producers_next_marker_if_that_is_a_commit() -> None:
    log = [Batch(0, 2, 7, 1_000, True, None), Batch(3, 3, 8, 1_002, True, None),
           Batch(4, 4, 7, 1_010, True, 1), Batch(5, 5, 8, 1_020, True, 0),
           Batch(6, 6, 7, 1_025, True, None), Batch(7, 7, 9, 1_026, False, None)]
    times = CommitTimes(log)

    assert [times.committed_ms(offset) for offset in range(9)] == [
        1_010, 1_010, 1_010,  # committed by producer 7's marker at offset 4
        None,  # aborted: producer 8's next marker is an abort
        None, None,  # markers themselves
        None,  # producer 7's next transaction is still open
        None,  # not transactional
        None,  # past the end
    ]


def test_a_control_record_with_a_short_key_is_an_error(tmp_path: Path) -> None:
    body = b"\x00" + _varint(0) + _varint(0) + _varint(2) + b"\x00\x00"
    bad = _batch(0, 0, 7, 1_000, attributes=_TRANSACTIONAL | _CONTROL,
                 records=_varint(len(body)) + body)
    (tmp_path / "00000000000000000000.log").write_bytes(bad)

    with pytest.raises(ValueError, match="control record's key of 2 bytes"):
        list(batches(tmp_path))
