"""Source positions and high-water marks: what counts as a change already handled."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cdc_facts.changes import Change
from cdc_facts.kafka.positions import (
    HighWaterMark,
    HighWaterMarks,
    MarkKey,
    SourcePosition,
    _postgres_order,
    _postgres_order_of_any,
    decode_mark,
    encode_mark,
    source_place,
    source_position,
)

KEY = MarkKey("shop.public.orders", 0, "shop")


def pg(lsn: int, last_commit: int | None, row: int = 1, op: str = "c",
       **source: Any) -> Change:
    sequence = json.dumps([None if last_commit is None else str(last_commit), str(lsn)])
    return Change(op=op, before=None, after={"id": row}, key={"id": row},
                  source={"name": "shop", "schema": "public", "table": "orders", "lsn": lsn,
                          "sequence": sequence, **source})


def binlog(file: str, pos: int, row: int = 0, server: int = 1, key: int = 1) -> Change:
    return Change(op="u", before={"id": key}, after={"id": key}, key={"id": key},
                  source={"name": "shop", "db": "shop", "table": "orders", "file": file,
                          "pos": pos, "row": row, "server_id": server})


def gtid(gtid: str, pos: int, row: int = 0, server: int = 1, file: str = "bin.000010",
         key: int = 1) -> Change:
    change = binlog(file, pos, row, server, key)
    change.source["gtid"] = gtid
    return change


UUID_A = "3e11fa47-71ca-11e1-9e33-c80aa9429562"


def test_with_gtids_the_order_holds_when_debezium_moves_to_another_server() -> None:
    # read from replica 1, then (after a failover) from replica 2, whose binlog files have
    # lower numbers: its changes are new, and a replay of replica 1's is still a repeat
    marks = HighWaterMarks()
    first = source_position(gtid(f"{UUID_A}:412", 9000, file="r1-bin.000412"))
    assert first is not None and first.scope == f"gtid:{UUID_A}"
    marks.advance(KEY, first)
    moved = source_position(gtid(f"{UUID_A}:413", 120, file="r2-bin.000007"))
    replayed = source_position(gtid(f"{UUID_A}:412", 388, file="r2-bin.000007"))
    assert moved is not None and not marks.is_duplicate(KEY, moved)
    assert replayed is not None and marks.is_duplicate(KEY, replayed)


def test_mariadb_gtids_order_by_sequence_within_their_domain() -> None:
    older, newer = (source_position(gtid(f"0-{server}-{seq}", 4)) for server, seq in
                    ((1, 41), (2, 42)))  # the primary changed: the domain's sequence goes on
    assert older is not None and newer is not None
    assert older.scope == newer.scope == "gtid:domain-0" and older.order < newer.order
    other_domain = source_position(gtid("1-1-5", 4))
    assert other_domain is not None and other_domain.scope == "gtid:domain-1"


def test_an_unknown_gtid_form_falls_back_to_the_binlog_position() -> None:
    position = source_position(gtid("not-a-gtid", 120))
    assert position is not None and position.scope == "binlog:1"


def test_postgres_orders_by_last_commit_then_lsn() -> None:
    # seen on a real stack: transaction 938 commits first although 937 wrote earlier
    stream = [pg(45679264, None, 2), pg(45679040, 45679440, 1), pg(45679440, 45679440, 3),
              pg(45679568, 45679440, 4), pg(45679744, 45679744, 1)]
    orders = [source_position(c).order for c in stream]  # type: ignore[union-attr]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert orders[1] == (45679440, 45679040)


def test_a_change_earlier_in_the_wal_but_later_in_the_stream_is_not_a_repeat() -> None:
    marks = HighWaterMarks()
    marks.advance(KEY, source_position(pg(45679264, None, 2)))  # type: ignore[arg-type]
    later_commit = source_position(pg(45679040, 45679440, 1))
    assert later_commit is not None and not marks.is_duplicate(KEY, later_commit)


@pytest.mark.parametrize("change", [
    pg(10, 5, op="r"),
    pg(10, 5, snapshot="true"),
    pg(10, 5, snapshot="last"),
    Change(op="c", before=None, after={}, source={"name": "s", "lsn": 10}),  # no sequence
    Change(op="c", before=None, after={}, source={"name": "s", "change_lsn": "00:01"}),
])
def test_snapshots_and_unordered_changes_have_no_position(change: Change) -> None:
    assert source_position(change) is None


def test_binlog_positions_order_by_file_number_position_and_row() -> None:
    stream = [binlog("mysql-bin.000009", 900, 2), binlog("mysql-bin.000010", 4),
              binlog("mysql-bin.000010", 120), binlog("mysql-bin.000010", 120, 1)]
    orders = [source_position(c).order for c in stream]  # type: ignore[union-attr]
    assert orders == [(9, 900, 2), (10, 4, 0), (10, 120, 0), (10, 120, 1)]


def test_positions_of_another_server_are_not_compared() -> None:
    marks = HighWaterMarks()
    marks.advance(KEY, source_position(binlog("bin.000010", 500)))  # type: ignore[arg-type]
    other = source_position(binlog("bin.000001", 4, server=2))
    assert other is not None and not marks.is_duplicate(KEY, other)


def test_changes_at_or_below_the_mark_are_repeats() -> None:
    marks = HighWaterMarks()
    first, second = (source_position(pg(lsn, 100, row)) for lsn, row in ((110, 1), (120, 2)))
    assert first is not None and second is not None
    marks.advance(KEY, first)
    marks.advance(KEY, second)
    assert marks.is_duplicate(KEY, first) and marks.is_duplicate(KEY, second)
    assert not marks.is_duplicate(KEY, source_position(pg(130, 100, 3)))  # type: ignore[arg-type]
    assert not marks.is_duplicate(MarkKey("other", 0, "shop"), first)


def test_rows_sharing_one_lsn_are_told_apart_by_their_keys() -> None:
    """COPY writes many rows in one WAL record: they share the LSN."""
    marks = HighWaterMarks()
    rows = [source_position(pg(500, 400, row)) for row in (1, 2, 3)]
    for position in rows[:2]:
        assert position is not None and not marks.is_duplicate(KEY, position)
        marks.advance(KEY, position)
    assert marks.is_duplicate(KEY, rows[0]) and marks.is_duplicate(KEY, rows[1])  # type: ignore[arg-type]
    assert not marks.is_duplicate(KEY, rows[2])  # type: ignore[arg-type]


def test_a_keyless_change_at_the_mark_goes_through() -> None:
    mark = HighWaterMark("pg", (5, 5))
    assert not mark.covers(SourcePosition("pg", (5, 5), None))
    assert mark.covers(SourcePosition("pg", (5, 4), None))
    assert mark.advanced(SourcePosition("pg", (5, 5), None)) == mark


def test_marks_of_an_aborted_transaction_are_forgotten() -> None:
    marks = HighWaterMarks()
    committed, aborted = SourcePosition("pg", (1, 1), "a"), SourcePosition("pg", (2, 2), "b")
    marks.advance(KEY, committed)
    assert marks.pending() == {KEY: HighWaterMark("pg", (1, 1), frozenset({"a"}))}
    marks.commit()
    assert marks.pending() == {}
    marks.advance(KEY, aborted)
    marks.rollback()
    assert marks.get(KEY) == HighWaterMark("pg", (1, 1), frozenset({"a"}))
    assert not marks.is_duplicate(KEY, aborted)


def test_marks_of_partitions_that_go_are_forgotten() -> None:
    marks = HighWaterMarks()
    other = MarkKey("shop.public.orders", 1, "shop")
    marks.load({KEY: HighWaterMark("pg", (1, 1)), other: HighWaterMark("pg", (2, 2))})
    marks.forget([("shop.public.orders", 0)])
    assert marks.get(KEY) is None and marks.get(other) == HighWaterMark("pg", (2, 2))


def test_marks_round_trip_through_the_positions_topic() -> None:
    mark = HighWaterMark("binlog:1", (10, 120, 3), frozenset({'{"id":1}', '{"id":2}'}))
    key, value = encode_mark(KEY, mark)
    assert decode_mark(key, value) == (KEY, mark)
    assert decode_mark(key, None) == (KEY, None)
    with pytest.raises(ValueError):
        decode_mark(None, value)


orders = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=30)


@given(orders)
def test_a_stream_replayed_from_any_point_is_dropped_up_to_where_it_was(
        stream: list[tuple[int, int]]) -> None:
    """Debezium re-sends a suffix of what it sent: everything re-sent is dropped, and
    every change never seen before goes through."""
    ordered = sorted(set(stream))
    positions = [SourcePosition("pg", order, str(order)) for order in ordered]
    marks = HighWaterMarks()
    for position in positions:
        assert not marks.is_duplicate(KEY, position)
        marks.advance(KEY, position)
    marks.commit()
    assert all(marks.is_duplicate(KEY, p) for p in positions)
    beyond = SourcePosition("pg", (ordered[-1][0], ordered[-1][1] + 1), "new")
    assert not marks.is_duplicate(KEY, beyond)


def test_the_record_key_as_delivered_names_the_row() -> None:
    change = pg(10, 5, row=7)
    assert source_position(change, b'{"id":7}') == SourcePosition("pg", (5, 10), '{"id":7}')
    assert source_position(change) == SourcePosition("pg", (5, 10), '{"id":7}')
    assert source_position(change, b"").key is None  # type: ignore[union-attr]


@given(st.lists(st.tuples(st.sampled_from(["pg", "binlog:1"]), st.integers(0, 5),
                          st.integers(0, 5), st.sampled_from(["a", "b", None])),
                max_size=30), st.sets(st.integers(0, 30)), st.booleans())
def test_admit_is_is_duplicate_then_advance(steps: list[tuple[str, int, int, str | None]],
                                             commit_at: set[int], loaded: bool) -> None:
    """Admitting a position answers and moves the marks as the two calls it stands for:
    through a mark the open transaction moves or a committed one, across scopes, with and
    without keys, as a SourcePosition or the plain tuple the service passes."""
    admitting, checking = HighWaterMarks(), HighWaterMarks()
    if loaded:
        for marks in (admitting, checking):
            marks.load({KEY: HighWaterMark("pg", (2, 2), frozenset({"a"}))})
    for index, (scope, last_commit, lsn, key) in enumerate(steps):
        position = SourcePosition(scope, (last_commit, lsn), key)
        new = not checking.is_duplicate(KEY, position)
        if new:
            checking.advance(KEY, position)
        assert admitting.admit(KEY, tuple(position) if index % 2 else position) is new
        assert admitting.get(KEY) == checking.get(KEY)
        if index in commit_at:
            admitting.commit()
            checking.commit()


@given(st.lists(st.tuples(st.sampled_from(["pg", "binlog:1"]), st.integers(0, 5),
                          st.integers(0, 5), st.sampled_from(["a", "b", None])),
                min_size=1, max_size=30))
def test_a_mark_covers_what_is_at_or_below_it_in_its_scope(
        steps: list[tuple[str, int, int, str | None]]) -> None:
    """The rule itself, spelled out: same scope, and a lower order, or the same order and
    a key seen there."""
    marks = HighWaterMarks()
    mark: tuple[str, tuple[int, int], set[str]] | None = None
    for scope, last_commit, lsn, key in steps:
        order = (last_commit, lsn)
        covered = mark is not None and mark[0] == scope and (
            order < mark[1] or order == mark[1] and key is not None and key in mark[2])
        assert marks.admit(KEY, (scope, order, key)) is not covered
        if mark is None or mark[0] != scope or order > mark[1]:
            mark = (scope, order, set() if key is None else {key})
        elif order == mark[1] and key is not None:
            mark[2].add(key)
        assert marks.get(KEY) == HighWaterMark(mark[0], mark[1], frozenset(mark[2]))


@pytest.mark.parametrize(("sequence", "order"), [
    ('["100","120"]', (100, 120)),
    ('["100", "120"]', (100, 120)),
    ('[ "100" , "120" ]', (100, 120)),
    ('[null,"120"]', (120, 120)),
    ('["","120"]', (120, 120)),
    ('["x1","120"]', None),
    ('[100,"120"]', (100, 120)),
    ('["100"x,"120"]', None),
    ('["100" ,"120"]', (100, 120)),
    (',"100","120"]', (120, 120)),
    ('["null","120"]', (120, 120)),
    ('["100"]', (100, 120)),
])
def test_the_last_commit_is_read_from_every_spelling_of_the_sequence(
        sequence: str, order: tuple[int, int] | None) -> None:
    change = Change(op="u", before=None, after={"id": 1}, key={"id": 1},
                    source={"name": "shop", "lsn": 120, "sequence": sequence})
    position = source_position(change, b'{"id":1}')
    assert (position.order if position else None) == order
    assert position is None or position == SourcePosition("pg", order, '{"id":1}')


_SEQUENCE_PARTS = st.sampled_from(['["', '",', '"', ",", "[", "]", " ", "null", "_", "-", "+",
                                   "1", "07", "120", "x", "\u0661"])


@given(st.lists(_SEQUENCE_PARTS, max_size=8).map("".join),
       st.sampled_from([120, "120", " 120", "x", None, True, 1.5]))
@example('100"x', 120)  # a last commit followed by more than its quote
@example('1"2', 120)
@example("100", True)  # an LSN that is a bool, not an int
@example(' 1_0 ', 120)
def test_the_quick_reading_of_the_sequence_reads_what_the_thorough_one_does(
        sequence: str, lsn: object) -> None:
    """Debezium's own spelling takes a shortcut; any text reads as the general parser
    reads it."""
    for text in (sequence, f'["{sequence}","120"]', f'["{sequence}",', f'{sequence}","120"]'):
        # repr: the same values of the same types (True == 1, but it is not an LSN)
        assert repr(_postgres_order(lsn, text)) == repr(_postgres_order_of_any(lsn, text))


def test_a_snapshot_flag_of_any_spelling_is_read_as_change_is_snapshot_reads_it() -> None:
    for flag in (None, "false", False, 0, "true", True, 1, "first", "last", "incremental",
                 "first_in_data_collection", "last_in_data_collection"):
        change = pg(10, 5, snapshot=flag)
        assert (source_place(change, b"k") is None) is change.is_snapshot, flag
        assert (source_position(change) is None) is change.is_snapshot, flag


def test_the_plain_place_is_the_position_without_names() -> None:
    for change in (pg(10, 5, row=7), binlog("mysql-bin.000010", 120, 1),
                   gtid(f"{UUID_A}:412", 9000), pg(10, 5, op="r")):
        for record_key in (None, b'{"id":7}', b"", '{"id":7}', b"\xff"):
            place = source_place(change, record_key)
            position = source_position(change, record_key)
            assert place == position and (place is None or type(place) is tuple)
    assert source_place(pg(10, 5), b"\xff") == ("pg", (5, 10), "\ufffd")
