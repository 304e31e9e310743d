"""The shared record log: what was synced comes back; a torn last record is repaired and said;
any other damage stops recovery, names file, offset and record, and leaves the file as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protospec.impl.runtime.storage import (
    MAGIC,
    CorruptLog,
    MemoryBackend,
    RecordLog,
    record_spans,
)

PAYLOADS = [b"first", b"second record", b"third"]


def write(path: Path, payloads=PAYLOADS) -> None:
    log, _ = RecordLog.open(path)
    for p in payloads:
        log.append(p)
    log.sync()
    log.close()


def reopen(path: Path):
    log, rec = RecordLog.open(path)
    log.close()
    return rec


def test_synced_records_come_back_in_order_after_a_reopen(tmp_path: Path):
    path = tmp_path / "x.log"
    write(path)
    rec = reopen(path)
    assert rec.records == PAYLOADS and rec.repaired_bytes == 0 and rec.note == ""


def test_a_byte_flipped_in_a_middle_record_refuses_naming_file_offset_and_record(tmp_path):
    path = tmp_path / "x.log"
    write(path)
    data = bytearray(path.read_bytes())
    start, end = record_spans(bytes(data))[1]
    data[(start + end) // 2 + 4] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptLog) as info:
        reopen(path)
    err = info.value
    assert (err.path, err.offset, err.record) == (str(path), start, 2)
    assert str(path) in str(err) and f"byte offset {start}" in str(err) and "record 2" in str(err)
    assert path.read_bytes() == bytes(data)  # untouched: nothing cut, nothing rewritten


def test_a_corrupted_length_is_corruption_not_a_torn_tail(tmp_path: Path):
    path = tmp_path / "x.log"
    write(path)
    data = bytearray(path.read_bytes())
    start, _ = record_spans(bytes(data))[0]
    data[start] = 0x7F  # a huge length that would run past the end of the file
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptLog, match="header's checksum") as info:
        reopen(path)
    assert info.value.record == 1 and path.read_bytes() == bytes(data)


def test_a_flipped_byte_in_a_complete_last_record_is_refused_too(tmp_path: Path):
    # A torn write leaves a record short; a complete record that fails its checksum was
    # synced, and perhaps acknowledged, so it is not ours to cut.
    path = tmp_path / "x.log"
    write(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptLog) as info:
        reopen(path)
    assert info.value.record == 3 and path.read_bytes() == bytes(data)


def test_a_last_record_torn_halfway_is_repaired_and_reported(tmp_path: Path):
    path = tmp_path / "x.log"
    write(path)
    data = path.read_bytes()
    start, end = record_spans(data)[-1]
    path.write_bytes(data[:(start + end) // 2])
    rec = reopen(path)
    assert rec.records == PAYLOADS[:2]
    assert rec.repaired_bytes == (start + end) // 2 - start
    assert "torn last record" in rec.note and f"byte offset {start}" in rec.note
    assert path.read_bytes() == data[:start]  # cut off the file, not merely skipped


def test_a_tail_torn_inside_a_record_header_is_repaired(tmp_path: Path):
    path = tmp_path / "x.log"
    write(path)
    data = path.read_bytes()
    start, _ = record_spans(data)[-1]
    path.write_bytes(data[:start + 5])
    assert reopen(path).records == PAYLOADS[:2] and path.read_bytes() == data[:start]


def test_zero_bytes_after_the_last_record_are_a_torn_tail(tmp_path: Path):
    # A file system may grow the file before the data reaches it: zeros, not a record.
    path = tmp_path / "x.log"
    write(path)
    data = path.read_bytes()
    path.write_bytes(data + bytes(100))
    rec = reopen(path)
    assert rec.records == PAYLOADS and rec.repaired_bytes == 100 and path.read_bytes() == data


def test_records_appended_after_a_repair_continue_the_chain(tmp_path: Path):
    path = tmp_path / "x.log"
    write(path)
    data = path.read_bytes()
    path.write_bytes(data[:-2])
    write(path, [b"after"])
    assert reopen(path).records == PAYLOADS[:2] + [b"after"]


def test_records_swapped_in_place_fail_the_chain(tmp_path: Path):
    path = tmp_path / "x.log"
    write(path, [b"aaaa", b"bbbb", b"cccc"])
    data = path.read_bytes()
    (a0, a1), (b0, b1), _ = record_spans(data)
    path.write_bytes(data[:a0] + data[b0:b1] + data[a0:a1] + data[b1:])
    with pytest.raises(CorruptLog, match="checksum") as info:
        reopen(path)
    assert info.value.record == 1


def test_a_file_of_random_bytes_is_refused_and_kept(tmp_path: Path):
    path = tmp_path / "x.log"
    junk = bytes(range(7, 250)) * 3
    path.write_bytes(junk)
    with pytest.raises(CorruptLog, match="magic") as info:
        reopen(path)
    assert info.value.offset == 0 and path.read_bytes() == junk


def test_a_header_torn_at_creation_is_completed(tmp_path: Path):
    path = tmp_path / "x.log"
    path.write_bytes(MAGIC[:3])
    rec = reopen(path)
    assert rec.records == [] and "torn at creation" in rec.note
    assert path.read_bytes() == MAGIC


def test_rewrite_replaces_every_record_atomically(tmp_path: Path):
    path = tmp_path / "x.log"
    log, _ = RecordLog.open(path)
    for p in PAYLOADS:
        log.append(p)
    log.rewrite([b"snapshot"])
    log.append(b"next")
    log.sync()
    log.close()
    assert reopen(path).records == [b"snapshot", b"next"]
    assert not path.with_name("x.log.tmp").exists()


def test_a_memory_disk_keeps_only_synced_bytes_and_a_torn_prefix():
    disk = MemoryBackend()
    log = RecordLog(disk)
    log.recover()
    log.append(b"durable")
    log.sync()
    log.append(b"lost in the crash")
    disk.crash(keep=5)
    rec = RecordLog(disk).recover()
    assert rec.records == [b"durable"] and rec.repaired_bytes == 5


def test_append_before_recover_is_a_programming_error():
    with pytest.raises(RuntimeError, match="recover"):
        RecordLog(MemoryBackend()).append(b"x")


@settings(max_examples=150, deadline=None)
@given(payloads=st.lists(st.binary(max_size=40), min_size=1, max_size=6), data=st.data())
def test_any_cut_recovers_exactly_the_complete_records_before_it(payloads, data):
    disk = MemoryBackend()
    log = RecordLog(disk)
    log.recover()
    for p in payloads:
        log.append(p)
    log.sync()
    full = disk.read()
    cut = data.draw(st.integers(len(MAGIC), len(full)))
    disk.durable = bytearray(full[:cut])
    rec = RecordLog(disk).recover()
    complete = sum(1 for _, end in record_spans(full) if end <= cut)
    assert rec.records == payloads[:complete]


@settings(max_examples=150, deadline=None)
@given(payloads=st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=6),
       data=st.data())
def test_any_flipped_byte_is_refused_and_leaves_the_bytes_unchanged(payloads, data):
    disk = MemoryBackend()
    log = RecordLog(disk)
    log.recover()
    for p in payloads:
        log.append(p)
    log.sync()
    damaged = bytearray(disk.read())
    at = data.draw(st.integers(0, len(damaged) - 1))
    damaged[at] ^= data.draw(st.integers(1, 255))
    disk.durable = bytearray(damaged)
    with pytest.raises(CorruptLog):
        RecordLog(disk).recover()
    assert bytes(disk.durable) == bytes(damaged)
