"""Durable Raft state: records survive restarts; a torn or corrupt tail is cut off, never used."""

from __future__ import annotations

from pathlib import Path

import pytest

from protospec.impl.raft.core import Entry
from protospec.impl.raft.kv import KVStore, encode_command
from protospec.impl.raft.storage import FileBackend, MemoryBackend, Storage, record_offsets


def write_three_records(path: Path) -> None:
    s = Storage(FileBackend(path))
    s.recover()
    s.save((2, 1), None, [])
    s.save(None, 1, [Entry(2, "a"), Entry(2, "b")])
    s.save((3, None), 2, [Entry(3, "B")])
    s.backend.close()


def recover(path: Path):
    backend = FileBackend(path)
    rec = Storage(backend).recover()
    backend.close()
    return rec


def test_state_is_rebuilt_from_the_records_in_order(tmp_path: Path):
    path = tmp_path / "raft.log"
    write_three_records(path)
    rec = recover(path)
    assert (rec.current_term, rec.voted_for, rec.log) == (3, None, [Entry(2, "a"), Entry(3, "B")])
    assert (rec.records, rec.truncated_bytes) == (3, 0)


def test_restart_after_a_torn_tail_recovers_to_the_last_complete_record(tmp_path: Path):
    path = tmp_path / "raft.log"
    write_three_records(path)
    data = path.read_bytes()
    last = record_offsets(data)[-1]
    torn = last + (len(data) - last) // 2  # cut the last record in the middle
    with open(path, "r+b") as f:
        f.truncate(torn)
    rec = recover(path)
    assert (rec.current_term, rec.voted_for) == (2, 1)
    assert rec.log == [Entry(2, "a"), Entry(2, "b")]
    assert rec.records == 2 and rec.truncated_bytes == torn - last
    assert "torn record" in rec.problem
    assert path.stat().st_size == last  # the torn bytes are gone from the file, not just skipped


def test_a_tail_torn_inside_the_header_is_cut_off(tmp_path: Path):
    path = tmp_path / "raft.log"
    write_three_records(path)
    data = path.read_bytes()
    last = record_offsets(data)[-1]
    path.write_bytes(data[:last + 3])
    rec = recover(path)
    assert rec.records == 2 and "header" in rec.problem and path.stat().st_size == last


def test_a_record_with_a_bad_checksum_is_cut_off_with_everything_after_it(tmp_path: Path):
    path = tmp_path / "raft.log"
    write_three_records(path)
    data = bytearray(path.read_bytes())
    second = record_offsets(bytes(data))[1]
    data[second + 10] ^= 0xFF  # flip a payload byte of the second record
    path.write_bytes(bytes(data))
    rec = recover(path)
    assert rec.records == 1 and (rec.current_term, rec.voted_for, rec.log) == (2, 1, [])
    assert "checksum" in rec.problem


def test_writes_after_a_recovered_tear_land_after_the_last_good_record(tmp_path: Path):
    path = tmp_path / "raft.log"
    write_three_records(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 1])
    backend = FileBackend(path)
    s = Storage(backend)
    s.recover()
    s.save(None, 3, [Entry(2, "c")])
    backend.close()
    assert recover(path).log == [Entry(2, "a"), Entry(2, "b"), Entry(2, "c")]


def test_a_log_change_that_would_leave_a_gap_is_refused(tmp_path: Path):
    s = Storage(MemoryBackend())
    s.recover()
    with pytest.raises(ValueError, match="gap"):
        s.save(None, 2, [Entry(1, "x")])


def test_the_simulated_disk_loses_unsynced_bytes_but_keeps_a_torn_prefix():
    disk = MemoryBackend()
    disk.append(b"abc")
    disk.sync()
    disk.append(b"defgh")
    disk.crash(keep=2)
    assert disk.read() == b"abcde"


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
