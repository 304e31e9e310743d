"""Durable Raft state: term, vote and log survive restarts; a torn last record is repaired;
any other damage refuses to start and leaves the file as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from protospec.impl.raft.core import Entry
from protospec.impl.raft.events import EventLog, read_events, segments
from protospec.impl.raft.kv import KVStore, encode_command
from protospec.impl.raft.storage import (
    CorruptLog,
    MemoryBackend,
    Snapshot,
    Storage,
    record_spans,
)
from protospec.impl.runtime.storage import RecordLog


def write_three_records(path: Path) -> None:
    s, _ = Storage.open(path)
    s.save((2, 1), None, [])
    s.save(None, 1, [Entry(2, "a"), Entry(2, "b")])
    s.save((3, None), 2, [Entry(3, "B")])
    s.close()


def recover(path: Path):
    s, rec = Storage.open(path)
    s.close()
    return rec


def test_state_is_rebuilt_from_the_records_in_order(tmp_path: Path):
    path = tmp_path / "raft.log"
    write_three_records(path)
    rec = recover(path)
    assert (rec.current_term, rec.voted_for, rec.log) == (3, None, [Entry(2, "a"), Entry(3, "B")])
    assert (rec.records, rec.repaired_bytes) == (3, 0)


def test_a_flipped_byte_in_the_middle_refuses_to_start_and_keeps_term_vote_and_log(tmp_path):
    # The vote of term 2 is in record 1: cutting at the damage would forget it and allow a
    # second vote in term 2 (Figure 2: votedFor is persistent state).
    path = tmp_path / "raft.log"
    write_three_records(path)
    data = bytearray(path.read_bytes())
    start, end = record_spans(bytes(data))[1]
    data[(start + end) // 2] ^= 0x20
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptLog) as info:
        recover(path)
    assert (info.value.offset, info.value.record) == (start, 2)
    assert path.read_bytes() == bytes(data)


def test_a_last_record_torn_halfway_is_repaired_to_the_record_before_it(tmp_path: Path):
    path = tmp_path / "raft.log"
    write_three_records(path)
    data = path.read_bytes()
    start, end = record_spans(data)[-1]
    path.write_bytes(data[:(start + end) // 2])
    rec = recover(path)
    assert (rec.current_term, rec.voted_for, rec.log) == (2, 1, [Entry(2, "a"), Entry(2, "b")])
    assert rec.repaired_bytes == (start + end) // 2 - start and "torn last record" in rec.note
    assert path.read_bytes() == data[:start]


def test_a_checksummed_record_that_does_not_fit_the_log_is_refused(tmp_path: Path):
    path = tmp_path / "raft.log"
    log, _ = RecordLog.open(path)
    log.append(b'{"from":5,"e":[[1,"x"]]}')  # index 5 of an empty log: a gap
    log.sync()
    log.close()
    with pytest.raises(CorruptLog, match="does not fit") as info:
        recover(path)
    assert info.value.record == 1


def test_writes_after_a_repaired_tear_land_after_the_last_good_record(tmp_path: Path):
    path = tmp_path / "raft.log"
    write_three_records(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 1])
    s, _ = Storage.open(path)
    s.save(None, 3, [Entry(2, "c")])
    s.close()
    assert recover(path).log == [Entry(2, "a"), Entry(2, "b"), Entry(2, "c")]


def test_a_log_change_that_would_leave_a_gap_is_refused():
    s = Storage(MemoryBackend())
    s.recover()
    with pytest.raises(ValueError, match="does not fit"):
        s.save(None, 2, [Entry(1, "x")])


def test_compaction_keeps_the_snapshot_the_hard_state_and_the_later_entries(tmp_path: Path):
    path = tmp_path / "raft.log"
    s, _ = Storage.open(path)
    s.save((4, 2), 1, [Entry(1, f"c{k}") for k in range(100)])
    big = s.size()
    s.compact(Snapshot(90, 1, {"k": "v"}), (4, 2), [Entry(1, f"c{k}") for k in range(90, 100)])
    s.save(None, 101, [Entry(4, "new")])
    s.close()
    rec = recover(path)
    assert rec.snapshot == Snapshot(90, 1, {"k": "v"})
    assert (rec.current_term, rec.voted_for) == (4, 2)
    assert rec.log == [Entry(1, f"c{k}") for k in range(90, 100)] + [Entry(4, "new")]
    assert path.stat().st_size < big


def test_the_state_machine_applies_put_get_delete_in_log_order():
    kv = KVStore()
    results = [kv.apply(i, c) for i, c in enumerate([
        encode_command("put", "k", "1", client="c", seq=1),
        encode_command("get", "k", client="c", seq=2),
        encode_command("put", "k", "2", client="c", seq=3),
        encode_command("delete", "k", client="c", seq=4),
        encode_command("get", "k", client="c", seq=5)], start=1)]
    assert results == [None, "1", "1", True, None]


def test_a_retried_command_takes_effect_once_and_gets_the_first_result():
    # Raft dissertation, section 6.3: client sessions make retried commands idempotent.
    kv = KVStore()
    put = encode_command("put", "k", "1", client="c", seq=1)
    assert kv.apply(1, put) is None
    kv.apply(2, encode_command("put", "k", "2", client="d", seq=1))
    assert kv.apply(3, put) is None  # the first result, and the map is unchanged
    assert kv.data == {"k": "2"}


def test_compare_and_set_applies_only_when_the_key_holds_the_expected_value():
    kv = KVStore()
    cas = [encode_command("cas", "k", "1", client="c", seq=1, expect=None),
           encode_command("cas", "k", "2", client="c", seq=2, expect="0"),
           encode_command("cas", "k", "3", client="c", seq=3, expect="1")]
    assert [kv.apply(i, c) for i, c in enumerate(cas, start=1)] == [True, False, True]
    assert kv.data == {"k": "3"}


def test_the_event_log_rotates_and_reads_back_every_segment_in_order(tmp_path: Path):
    log = EventLog(tmp_path / "events.jsonl", max_bytes=200)
    for k in range(30):
        log.write([{"n": 1, "action": "timeout", "k": k}])
    log.close()
    assert len(segments(tmp_path / "events.jsonl")) > 3
    events, note = read_events(tmp_path / "events.jsonl")
    assert [e["k"] for e in events] == list(range(30)) and note == ""


def test_only_the_live_event_file_may_end_in_an_incomplete_line(tmp_path: Path):
    log = EventLog(tmp_path / "events.jsonl", max_bytes=100)
    for k in range(5):
        log.write([{"n": 1, "action": "timeout", "k": k}])
    log.close()
    live = tmp_path / "events.jsonl"
    live.write_bytes(live.read_bytes() + b'{"n": 1, "act')
    events, note = read_events(live)
    assert "ignored an incomplete last line" in note and len(events) == 5
    first = segments(live)[0]
    first.write_bytes(first.read_bytes()[:-3])
    with pytest.raises(ValueError, match="rotated segment"):
        read_events(live)
