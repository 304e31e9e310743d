"""A durable record log: append-only records with chained checksums, in etcd's WAL discipline.

Any implementation that must remember something across crashes (Raft's term, vote and log; a
Paxos acceptor's promises; a 2PC participant's decision) keeps it here as a sequence of opaque
byte records. The contract:

* :meth:`RecordLog.append` buffers a record; :meth:`RecordLog.sync` makes every record appended
  so far durable (fsync). Nothing is acknowledged to anyone before ``sync`` returns.
* :meth:`RecordLog.recover` (call it once, first) returns every durable record in order. Only a
  **torn last record** — the file ends inside a record whose header is intact, or inside the
  header, or in zero bytes a crash left after the last record — is repaired: cut off, fsynced,
  and reported in :attr:`Recovery.note`. Any other damage (a checksum that does not match, a
  header whose own checksum does not match, a file that is not a record log) raises
  :class:`CorruptLog` naming the file, the byte offset and the record number, and **leaves the
  file untouched**: a flipped bit in the middle never silently costs the records after it.
* :meth:`RecordLog.rewrite` atomically replaces the whole log with new records (write a
  temporary file, fsync, rename, fsync the folder): compaction after a snapshot.

File layout: an 8-byte magic ``PSRLOG01``, then records. A record is a 12-byte header —
``length`` (u32, big-endian), ``crc`` (u32: CRC-32 of the payload, *chained*: seeded with the
previous record's ``crc``, the first record with the CRC of the magic), ``header_crc`` (u32:
CRC-32 of the first 8 header bytes) — then ``length`` payload bytes. The chain means a record
is valid only in its place: a record copied, reordered or left over from an older file does not
verify (etcd's WAL chains its CRCs the same way). The header's own checksum means a corrupted
length is caught as corruption rather than mistaken for a torn tail.

Why a torn tail and nothing else may be repaired: appends happen at the end, so a crash can
only damage the record being written, which was never synced and so never acknowledged.
Corruption anywhere else happened to data that *was* acknowledged; dropping it would silently
unsay a vote or lose a committed entry, so the only safe answer is to stop and say where.

Files are reached through a small :class:`Backend` interface, so a simulator can use
:class:`MemoryBackend`, a disk that loses unsynced bytes (or keeps a torn prefix of them) when
its node crashes.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = [
    "MAGIC",
    "MAX_RECORD",
    "Backend",
    "CorruptLog",
    "FileBackend",
    "MemoryBackend",
    "RecordLog",
    "Recovery",
    "record_spans",
]

MAGIC = b"PSRLOG01"
_SEED = zlib.crc32(MAGIC)
_HEADER = struct.Struct(">III")  # length, chained payload crc, crc of the first 8 bytes
HEADER_SIZE = _HEADER.size
MAX_RECORD = 1 << 30  # a longer record is refused on append (and is corruption on recovery)


class CorruptLog(Exception):
    """The log is damaged somewhere other than a torn last record; it was left unchanged.

    ``path`` names the file, ``offset`` the byte where the bad record starts, ``record`` its
    1-based number (0 for the file header), ``reason`` what is wrong.
    """

    def __init__(self, path: str, offset: int, record: int, reason: str) -> None:
        self.path, self.offset, self.record, self.reason = path, offset, record, reason
        where = "the file header" if record == 0 else f"record {record}"
        super().__init__(
            f"{path}: {where} at byte offset {offset}: {reason}. The file was left unchanged; "
            f"this is not a torn last write, so the data it held may have been acknowledged. "
            f"Restore the file from a replica or backup, or move it away to start this node "
            f"empty (only safe if the rest of the cluster still holds everything it "
            f"acknowledged).")


class Backend(Protocol):
    """The bytes of one append-only file."""

    name: str  # shown in messages

    def read(self) -> bytes: ...
    def append(self, data: bytes) -> None: ...
    def sync(self) -> None: ...
    def truncate(self, size: int) -> None: ...  # durable on return
    def replace(self, data: bytes) -> None: ...  # atomic and durable on return
    def size(self) -> int: ...
    def close(self) -> None: ...


class FileBackend:
    """A real file. ``sync`` is ``fsync``; a new file's folder is fsynced too."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        created = not self.path.exists()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if created:
            _fsync_dir(self.path.parent)  # the new file's name must survive a crash too

    def read(self) -> bytes:
        return os.pread(self.fd, os.fstat(self.fd).st_size, 0)

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def sync(self) -> None:
        os.fsync(self.fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        os.fsync(self.fd)

    def replace(self, data: bytes) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class MemoryBackend:
    """An in-memory disk for simulators: bytes are durable only once synced.

    :meth:`crash` loses what was not synced except a prefix of ``keep`` bytes, which models a
    torn write (part of a record reached the platter before the power went).
    """

    def __init__(self, name: str = "<memory>") -> None:
        self.name = name
        self.durable = bytearray()
        self.pending = bytearray()

    def read(self) -> bytes:
        return bytes(self.durable + self.pending)

    def append(self, data: bytes) -> None:
        self.pending += data

    def sync(self) -> None:
        self.durable += self.pending
        self.pending.clear()

    def truncate(self, size: int) -> None:
        self.sync()
        del self.durable[size:]

    def replace(self, data: bytes) -> None:
        self.durable = bytearray(data)
        self.pending.clear()

    def size(self) -> int:
        return len(self.durable) + len(self.pending)

    def crash(self, keep: int = 0) -> None:
        self.durable += self.pending[:keep]
        self.pending.clear()

    def close(self) -> None:
        pass


@dataclass
class Recovery:
    """What :meth:`RecordLog.recover` found: the records, and any torn tail it repaired."""

    records: list[bytes] = field(default_factory=list)
    repaired_bytes: int = 0  # bytes of a torn last record cut off the file (0: none)
    note: str = ""  # what was repaired and where (empty if nothing was)


class RecordLog:
    """One append-only record log on a :class:`Backend`: :meth:`recover` first, then
    :meth:`append` / :meth:`sync` / :meth:`rewrite`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._crc = _SEED  # the chain value after the last record
        self._recovered = False

    @classmethod
    def open(cls, path: str | Path) -> tuple[RecordLog, Recovery]:
        """Open (creating if absent) the log at ``path`` and recover it."""
        log = cls(FileBackend(path))
        try:
            return log, log.recover()
        except BaseException:
            log.close()
            raise

    def recover(self) -> Recovery:
        """Read every record; repair only a torn last record; raise CorruptLog otherwise."""
        data = self.backend.read()
        name = self.backend.name
        out = Recovery()
        if len(data) < len(MAGIC):
            if data != MAGIC[:len(data)]:
                raise CorruptLog(name, 0, 0, "the file does not start with the record-log "
                                 f"magic {MAGIC!r} (not a protospec record log)")
            # Empty, or torn while the file was being created: (re)write the header.
            if data:
                out.repaired_bytes, out.note = len(data), (
                    f"{name}: completed a file header torn at creation ({len(data)} bytes)")
            self.backend.replace(MAGIC)
            self._recovered = True
            return out
        if data[:len(MAGIC)] != MAGIC:
            raise CorruptLog(name, 0, 0, f"the file does not start with the record-log magic "
                             f"{MAGIC!r} (not a protospec record log, or its header is damaged)")
        crc = _SEED
        for number, pos, end, problem in _scan(data):
            if problem is None:
                crc = _HEADER.unpack_from(data, pos)[1]
                out.records.append(data[pos + HEADER_SIZE:end])
                continue
            if problem.startswith("torn"):
                out.repaired_bytes = len(data) - pos
                out.note = (f"{name}: repaired a torn last record (record {number} at byte "
                            f"offset {pos}, {problem}): cut {out.repaired_bytes} bytes")
                self.backend.truncate(pos)
                break
            raise CorruptLog(name, pos, number, problem)
        self._crc = crc
        self._recovered = True
        return out

    def append(self, payload: bytes) -> None:
        """Buffer one record after the last; durable only after :meth:`sync`."""
        if not self._recovered:
            raise RuntimeError("RecordLog.recover() must be called before append()")
        if len(payload) > MAX_RECORD:
            raise ValueError(f"a record of {len(payload)} bytes exceeds the maximum "
                             f"{MAX_RECORD}")
        self.backend.append(self._frame(payload))

    def sync(self) -> None:
        """Make every appended record durable (fsync)."""
        self.backend.sync()

    def rewrite(self, payloads: list[bytes]) -> None:
        """Atomically replace the whole log with ``payloads`` (durable on return)."""
        if not self._recovered:
            raise RuntimeError("RecordLog.recover() must be called before rewrite()")
        self.backend.sync()
        self._crc = _SEED
        self.backend.replace(MAGIC + b"".join(self._frame(p) for p in payloads))

    def size(self) -> int:
        """The file's size in bytes (header included)."""
        return self.backend.size()

    def close(self) -> None:
        self.backend.close()

    def _frame(self, payload: bytes) -> bytes:
        self._crc = zlib.crc32(payload, self._crc)
        head = struct.pack(">II", len(payload), self._crc)
        return head + struct.pack(">I", zlib.crc32(head)) + payload


def _scan(data: bytes) -> Iterator[tuple[int, int, int, str | None]]:
    """Walk the records after the magic: (number, start, end, problem or None) each.

    A problem starting with "torn" is a torn last record (the scan stops there); any other
    problem is corruption. Stops at the first problem.
    """
    crc = _SEED
    pos, number = len(MAGIC), 0
    while pos < len(data):
        number += 1
        problem, end = _check(data, pos, crc)
        if problem is not None:
            if not problem.startswith("torn") and not any(memoryview(data)[pos:]):
                # Zeros to the end: the file grew but the crash came before the data did.
                problem = f"torn: {len(data) - pos} zero bytes after the last record"
            yield number, pos, end, problem
            return
        crc = _HEADER.unpack_from(data, pos)[1]
        yield number, pos, end, None
        pos = end


def _check(data: bytes, pos: int, crc: int) -> tuple[str | None, int]:
    """The problem with the record at ``pos`` (None if it is valid), and where it ends."""
    rest = len(data) - pos
    if rest < HEADER_SIZE:
        return f"torn: {rest} of {HEADER_SIZE} header bytes", len(data)
    length, rec_crc, head_crc = _HEADER.unpack_from(data, pos)
    if zlib.crc32(data[pos:pos + 8]) != head_crc:
        return "the record header's checksum does not match", pos
    end = pos + HEADER_SIZE + length
    if length > MAX_RECORD:
        return f"an impossible record length {length}", end
    if end > len(data):
        return f"torn: {rest - HEADER_SIZE} of {length} payload bytes", len(data)
    if zlib.crc32(memoryview(data)[pos + HEADER_SIZE:end], crc) != rec_crc:
        return "the payload checksum does not match (chained to the record before it)", end
    return None, end


def record_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) byte offsets of each valid record in a log file's bytes (for tests and
    tools that tear or inspect a file); stops at the first problem."""
    return [(pos, end) for _, pos, end, problem in _scan(data) if problem is None]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
