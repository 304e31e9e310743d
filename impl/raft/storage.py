"""Durable Raft state: current_term, voted_for and the log, in one append-only file.

Every change the core asks for (a :class:`~impl.raft.core.Ready`'s hard state and log change)
becomes **one record**, appended and fsynced before the driver does anything else with that
Ready, so a record is either wholly on disk or not at all as far as anyone else could observe.

A record is ``length (4 bytes, big-endian) | crc32 of payload (4 bytes) | payload``; the payload
is compact JSON: ``{"t": term, "v": voted_for}`` for a hard-state change and/or
``{"from": i, "e": [[term, command], ...]}`` for "the log from index i on is now these entries"
(a truncation and an append at once). Replaying the records in order rebuilds the state.

Recovery reads records until the first one that is incomplete (a torn write: the process or
machine died mid-append), fails its checksum, does not parse, or does not fit the log (its
``from`` lies beyond the end). That record and everything after it are cut off the file, and
the state is what the records before it say: a torn or corrupt tail is detected and truncated,
never used. (Records after a corrupt one are dropped too: with the chain broken, nothing says
they belong.) The file only grows: there is no compaction or snapshotting, as in the spec.

The file is reached through a small backend interface, so the simulator can use an in-memory
disk that loses unsynced bytes, or keeps a torn prefix of them, when a node crashes.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .core import Entry

__all__ = ["FileBackend", "MemoryBackend", "Recovered", "Storage"]

_HEADER = struct.Struct(">II")  # payload length, crc32 of the payload
MAX_RECORD = 64 << 20  # a length above this is corruption, not a record


class Backend(Protocol):
    """The bytes of one append-only file."""

    def read(self) -> bytes: ...
    def append(self, data: bytes) -> None: ...
    def sync(self) -> None: ...
    def truncate(self, size: int) -> None: ...


class FileBackend:
    """A real file, fsynced on :meth:`sync` (and its folder, when the file is created)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        created = not self.path.exists()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if created:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the new file's name must survive a crash too
            finally:
                os.close(dir_fd)

    def read(self) -> bytes:
        size = os.fstat(self.fd).st_size
        return os.pread(self.fd, size, 0)

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def sync(self) -> None:
        os.fsync(self.fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


class MemoryBackend:
    """An in-memory disk for the simulator: bytes are durable only once synced.

    :meth:`crash` loses what was not synced, except a prefix of ``keep`` bytes, which models
    a torn write (part of a record reached the platter before power went).
    """

    def __init__(self) -> None:
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

    def crash(self, keep: int = 0) -> None:
        self.durable += self.pending[:keep]
        self.pending.clear()


@dataclass
class Recovered:
    """The state rebuilt from disk, and what recovery had to cut off."""

    current_term: int = 1
    voted_for: int | None = None
    log: list[Entry] = field(default_factory=list)
    records: int = 0  # complete records replayed
    truncated_bytes: int = 0  # bytes of torn or corrupt tail cut off the file
    problem: str = ""  # why the tail was cut (empty if it was not)


class Storage:
    """Raft's persistent state on one backend; :meth:`recover` first, then :meth:`save`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.log_len = 0  # to check that each saved record fits the log on disk

    def recover(self) -> Recovered:
        """Replay the file; cut off (and fsync away) a torn or corrupt tail."""
        data = self.backend.read()
        out = Recovered()
        pos = 0
        while pos < len(data):
            problem = ""
            if len(data) - pos < _HEADER.size:
                problem = "a torn record header"
            else:
                length, crc = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + length
                if length > MAX_RECORD:
                    problem = "an impossible record length"
                elif end > len(data):
                    problem = "a torn record (shorter than its length)"
                else:
                    payload = data[pos + _HEADER.size:end]
                    if zlib.crc32(payload) != crc:
                        problem = "a record whose checksum does not match"
                    elif not _apply(out, payload):
                        problem = "a record that does not parse or does not fit the log"
            if problem:
                out.truncated_bytes = len(data) - pos
                out.problem = f"{problem} at byte {pos}"
                self.backend.truncate(pos)
                break
            out.records += 1
            pos = end
        self.log_len = len(out.log)
        return out

    def save(self, hard_state: tuple[int, int | None] | None, log_from: int | None,
             entries: list[Entry]) -> None:
        """Append one record for this change and fsync it; nothing to do if nothing changed."""
        payload: dict = {}
        if hard_state is not None:
            payload["t"], payload["v"] = hard_state
        if log_from is not None:
            if log_from > self.log_len + 1:
                raise ValueError(f"log change from index {log_from} leaves a gap after the "
                                 f"{self.log_len} entries on disk")
            payload["from"] = log_from
            payload["e"] = [[e.term, e.command] for e in entries]
            self.log_len = log_from - 1 + len(entries)
        if not payload:
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.backend.append(_HEADER.pack(len(body), zlib.crc32(body)) + body)
        self.backend.sync()


def _apply(out: Recovered, payload: bytes) -> bool:
    """Replay one record onto ``out``; False if it does not parse or does not fit."""
    try:
        rec = json.loads(payload)
        if "t" in rec:
            term, vote = int(rec["t"]), rec["v"]
            if vote is not None:
                vote = int(vote)
        if "from" in rec:
            start = int(rec["from"])
            if not 1 <= start <= len(out.log) + 1:
                return False
            entries = [Entry(int(t), str(c)) for t, c in rec["e"]]
    except (ValueError, TypeError, KeyError):
        return False
    if "t" in rec:
        out.current_term, out.voted_for = term, vote
    if "from" in rec:
        del out.log[start - 1:]
        out.log.extend(entries)
    return True


def record_offsets(data: bytes) -> list[int]:
    """The byte offset at which each complete record starts (for tests that tear a file)."""
    out, pos = [], 0
    while pos + _HEADER.size <= len(data):
        length, _ = _HEADER.unpack_from(data, pos)
        if pos + _HEADER.size + length > len(data):
            break
        out.append(pos)
        pos += _HEADER.size + length
    return out
