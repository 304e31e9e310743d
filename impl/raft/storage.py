"""Durable Raft state: current_term, voted_for, the log and the latest snapshot, in one record log.

The bytes live in a :class:`~impl.runtime.storage.RecordLog` (chained checksums; only a torn
last record is repaired; any other damage refuses to start with file, offset and record named,
leaving the file untouched). This module says what the records mean. Each change a
:class:`~impl.raft.core.Ready` asks for becomes **one record**, so a change is on disk wholly
or not at all; the payload is compact JSON:

* ``{"t": term, "v": voted_for}`` — the hard state changed;
* ``{"from": i, "e": [[term, command], ...]}`` — the log from index ``i`` on is now these
  entries (a truncation and an append in one); both keys may share a record with ``t``/``v``;
* ``{"snap": {"i": index, "t": term, "d": state}}`` — a snapshot: every entry up to ``index``
  (whose term is ``term``) is applied into the state machine state ``d`` and may be forgotten.
  After compaction it is the first record of the file, followed by the hard state and the
  entries after ``index``.

Term and vote are never lost once acknowledged: a change is acknowledged (a vote granted, an
entry acknowledged) only after its record is synced, and a synced record is never cut by
recovery. A record that passes its checksum but does not make sense (bad JSON, a log change
that leaves a gap) is refused the same way as a checksum failure: it is corruption or a bug,
and guessing would lose data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runtime.storage import (
    Backend,
    CorruptLog,
    FileBackend,
    MemoryBackend,
    RecordLog,
    record_spans,
)
from .core import Entry

__all__ = ["CorruptLog", "FileBackend", "MemoryBackend", "Recovered", "Snapshot", "Storage",
           "record_spans"]


@dataclass(frozen=True)
class Snapshot:
    """The state machine after applying entries 1..index (the last of which has ``term``)."""

    index: int
    term: int
    data: Any  # the state machine's own JSON-ready state


@dataclass
class Recovered:
    """The state rebuilt from disk, and the torn tail recovery repaired (if any)."""

    current_term: int = 1
    voted_for: int | None = None
    log: list[Entry] = field(default_factory=list)  # the entries after snapshot.index
    snapshot: Snapshot | None = None
    records: int = 0  # records replayed
    repaired_bytes: int = 0  # bytes of a torn last record cut off the file
    note: str = ""  # what was repaired (empty if nothing)


class Storage:
    """Raft's persistent state on one backend: :meth:`recover` first, then :meth:`save` (or
    :meth:`write` + :meth:`sync`) for every Ready, :meth:`compact` after a snapshot."""

    def __init__(self, backend: Backend) -> None:
        self.records = RecordLog(backend)
        self.name = backend.name
        self.first_index = 1  # index of the first entry kept (snapshot index + 1)
        self.log_len = 0  # the last index on disk, to refuse a change that leaves a gap

    @classmethod
    def open(cls, path: str | Path) -> tuple[Storage, Recovered]:
        s = cls(FileBackend(path))
        try:
            return s, s.recover()
        except BaseException:
            s.close()
            raise

    def recover(self) -> Recovered:
        """Replay the records; raises :class:`CorruptLog` for anything but a torn tail."""
        rec = self.records.recover()
        out = Recovered(records=len(rec.records), repaired_bytes=rec.repaired_bytes,
                        note=rec.note)
        offsets = None
        for number, payload in enumerate(rec.records, start=1):
            problem = _apply(out, payload)
            if problem:
                if offsets is None:
                    offsets = record_spans(self.records.backend.read())
                raise CorruptLog(self.name, offsets[number - 1][0], number,
                                 f"the record passes its checksum but {problem}")
        self.first_index = out.snapshot.index + 1 if out.snapshot else 1
        self.log_len = self.first_index - 1 + len(out.log)
        return out

    def write(self, hard_state: tuple[int, int | None] | None, log_from: int | None,
              entries: list[Entry]) -> bool:
        """Append one record for this change (not yet durable); False if nothing changed."""
        payload: dict[str, Any] = {}
        if hard_state is not None:
            payload["t"], payload["v"] = hard_state
        if log_from is not None:
            if log_from > self.log_len + 1 or log_from < self.first_index:
                raise ValueError(f"log change from index {log_from} does not fit the entries "
                                 f"{self.first_index}..{self.log_len} on disk")
            payload["from"] = log_from
            payload["e"] = [[e.term, e.command] for e in entries]
            self.log_len = log_from - 1 + len(entries)
        if not payload:
            return False
        self.records.append(_dumps(payload))
        return True

    def sync(self) -> None:
        """fsync: every record written so far is durable on return."""
        self.records.sync()

    def save(self, hard_state: tuple[int, int | None] | None, log_from: int | None,
             entries: list[Entry]) -> None:
        """:meth:`write` and :meth:`sync` in one (nothing to do if nothing changed)."""
        if self.write(hard_state, log_from, entries):
            self.sync()

    def compact(self, snapshot: Snapshot, hard_state: tuple[int, int | None],
                entries: list[Entry]) -> None:
        """Replace the file with ``snapshot``, the hard state and the ``entries`` after the
        snapshot's index, atomically and durably."""
        first = snapshot.index + 1
        records = [_dumps({"snap": {"i": snapshot.index, "t": snapshot.term,
                                    "d": snapshot.data}}),
                   _dumps({"t": hard_state[0], "v": hard_state[1], "from": first,
                           "e": [[e.term, e.command] for e in entries]})]
        self.records.rewrite(records)
        self.first_index = first
        self.log_len = snapshot.index + len(entries)

    def size(self) -> int:
        return self.records.size()

    def close(self) -> None:
        self.records.close()


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _apply(out: Recovered, payload: bytes) -> str:
    """Replay one record onto ``out``; what is wrong with it ("" if nothing)."""
    try:
        rec = json.loads(payload)
        if not isinstance(rec, dict):
            return "is not a JSON object"
        snap = None
        if "snap" in rec:
            s = rec["snap"]
            snap = Snapshot(int(s["i"]), int(s["t"]), s["d"])
        if "t" in rec:
            term, vote = int(rec["t"]), rec["v"]
            vote = None if vote is None else int(vote)
        if "from" in rec:
            start = int(rec["from"])
            entries = [Entry(int(t), str(c)) for t, c in rec["e"]]
    except (ValueError, TypeError, KeyError) as exc:
        return f"does not parse ({type(exc).__name__}: {exc})"
    if snap is not None:
        out.snapshot = snap
        out.log = []
    first = out.snapshot.index + 1 if out.snapshot else 1
    if "t" in rec:
        out.current_term, out.voted_for = term, vote
    if "from" in rec:
        last = first - 1 + len(out.log)
        if not first <= start <= last + 1:
            return (f"changes the log from index {start}, which does not fit the entries "
                    f"{first}..{last} before it")
        del out.log[start - first:]
        out.log.extend(entries)
    return ""
