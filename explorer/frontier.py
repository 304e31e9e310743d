"""One level of the breadth-first search, kept compact while it waits to be expanded.

A level of a large search holds hundreds of thousands of states, and a state of nested tuples
and frozensets costs hundreds of bytes as Python objects. Once a level grows past one chunk,
its states are pickled a chunk at a time: one ``pickle.dumps`` of a list shares every object
the states of the chunk have in common (enum members, classes, unchanged frozensets), so a
state costs tens of bytes, and a chunk is turned back into states only when it is expanded.
States that cannot be pickled (say, a NamedTuple defined inside a function) are simply kept
as they are (and such a run cannot be checkpointed). Every level goes through pickle, however
small, so a spec behaves the same in small and large searches: compare state values with
``==``, not ``is`` (enum members and None survive a pickle round trip as themselves; other
objects do not).

Faster while memory is plentiful: the first ``PROBE`` states of every level go through pickle
(so the rule above shows in every search, however small), but later chunks stay as they are
while the process's resident memory is below ``raw_budget`` bytes (``RAW_BUDGET`` by default;
0 pickles every chunk, as a search under a memory limit does). A pickle round trip costs a
search on nested message sets a fifth of its time (Paxos, ballots 0..2: 12.6 s against 9.9 s
raw, measured in one run), and memory is all it saves.

Bigger than memory: after :meth:`Level.spill_to`, sealed chunks go to a file instead of
memory. Checkpoints: :meth:`Level.write_rest` writes the states not yet expanded (a head the
caller holds, then every chunk not yet handed out) and :meth:`Level.read` reads them back.
"""

from __future__ import annotations

import os
import pickle
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .fingerprint import _core as _fpcore
from .inline import _plain_namedtuple

__all__ = ["Level", "NotPicklable"]

CHUNK = 4096
PROBE = 256  # states of each level that always go through a pickle round trip
RAW_BUDGET = 512 << 20  # resident bytes below which later chunks stay raw
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident_bytes() -> int | None:
    """The process's resident memory now (Linux), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None
_LEN = struct.Struct("<Q")


_FLAT = "protospec-rows-1"  # a chunk pickled as (_FLAT, class, plain tuples)


def _flat_class(cls: type) -> bool:
    """States of this class are their plain tuples (a namedtuple without instance dict)."""
    return _fpcore is not None and _plain_namedtuple(cls) and cls.__dictoffset__ == 0


def _dumps(states: list[Any]) -> bytes:
    """Pickle a chunk. States all of one namedtuple class go as that class and their plain
    tuples: pickling a NamedTuple calls its Python-level ``__getnewargs__`` and unpickling its
    ``__new__``, a good part of a search's time; plain tuples pickle in C (the same values
    come back, as new objects either way)."""
    if states and _flat_class(type(states[0])):
        rows = _fpcore.rows(type(states[0]), states)
        if rows is not None:
            return pickle.dumps((_FLAT, type(states[0]), rows), protocol=pickle.HIGHEST_PROTOCOL)
    return pickle.dumps(states, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(data: bytes) -> list[Any]:
    obj = pickle.loads(data)
    if type(obj) is tuple:  # a chunk is a list; a tuple is (_FLAT, class, rows)
        _, cls, rows = obj
        if _fpcore is not None:
            return _fpcore.of_rows(cls, rows)
        return [tuple.__new__(cls, row) for row in rows]
    return obj


class NotPicklable(Exception):
    """The level holds states that pickle cannot write (so no checkpoint can be taken)."""


class Level:
    """An append-only sequence of states, handed out once, chunk by chunk, in order."""

    __slots__ = ("_chunks", "_count", "_file", "_limit", "_nbytes", "_next", "_path", "_pending",
                 "_raw", "_raw_budget", "_sealed")

    def __init__(self, raw_budget: int = RAW_BUDGET) -> None:
        # Each chunk: bytes (a pickled list), (offset, size) in the spill file, or a plain list.
        self._chunks: list[Any] = []
        self._pending: list[Any] = []
        self._count = 0
        self._raw = False  # True once a chunk failed to pickle: the level stays raw
        self._raw_budget = raw_budget
        self._sealed = 0  # chunks sealed so far
        self._limit = PROBE  # the first chunk is the probe; the others CHUNK states
        self._next = 0  # index of the next chunk to hand out
        self._nbytes = 0  # bytes of pickled chunks held in memory
        self._path: Path | None = None
        self._file: BinaryIO | None = None

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes of pickled states held in memory (spilled chunks count 0)."""
        return self._nbytes

    def append(self, state: Any) -> None:
        self._pending.append(state)
        self._count += 1
        if len(self._pending) >= self._limit:
            self._seal()

    def spill_to(self, path: Path) -> None:
        """From now on, write sealed chunks to ``path`` (a new file) instead of memory."""
        if self._file is None:
            self._path = path
            self._file = open(path, "w+b")  # noqa: SIM115 - closed by close()

    def _seal(self) -> None:
        chunk = self._pending
        self._pending = []
        self._sealed += 1
        self._limit = CHUNK
        if (self._sealed > 1 and self._file is None and self._raw_budget
                and (rss := _resident_bytes()) is not None and rss < self._raw_budget):
            self._chunks.append(chunk)  # memory to spare: no pickle round trip
            return
        if not self._raw:
            try:
                data = _dumps(chunk)
            except (pickle.PicklingError, TypeError, AttributeError):
                self._raw = True
            else:
                if self._file is not None:
                    self._file.seek(0, 2)
                    offset = self._file.tell()
                    self._file.write(data)
                    self._chunks.append((offset, len(data)))
                else:
                    self._chunks.append(data)
                    self._nbytes += len(data)
                return
        self._chunks.append(chunk)

    def _unpack(self, chunk: Any) -> list[Any]:
        if isinstance(chunk, bytes):
            self._nbytes -= len(chunk)
            return _loads(chunk)
        if isinstance(chunk, tuple):
            assert self._file is not None
            self._file.seek(chunk[0])
            return _loads(self._file.read(chunk[1]))
        return chunk

    def chunks(self) -> Iterator[list[Any]]:
        """Hand out the states in order, a chunk (list) at a time, releasing each chunk."""
        # The last, partial chunk goes through pickle too, so that a spec behaves the same in a
        # small search as in a large one (an `is` test that a pickle round trip breaks fails in
        # the tests, not only in big runs).
        if self._pending:
            self._seal()
        while self._next < len(self._chunks):
            i = self._next
            chunk = self._chunks[i]
            self._chunks[i] = None
            self._next = i + 1
            yield self._unpack(chunk)
        self.close()

    def __iter__(self) -> Iterator[Any]:
        """Yield the states in order, releasing each chunk as soon as it is unpacked."""
        for chunk in self.chunks():
            yield from chunk

    def write_rest(self, f: BinaryIO, head: list[Any] = ()) -> int:  # type: ignore[assignment]
        """Write ``head`` then every state not yet handed out to ``f`` (length-prefixed pickled
        chunks); return the number of states written. Raises NotPicklable."""
        written = 0

        def put(data: bytes) -> None:
            f.write(_LEN.pack(len(data)))
            f.write(data)

        try:
            if head:
                put(_dumps(list(head)))
                written += len(head)
            for i in range(self._next, len(self._chunks)):
                chunk = self._chunks[i]
                if isinstance(chunk, bytes):
                    put(chunk)
                elif isinstance(chunk, tuple):
                    assert self._file is not None
                    self._file.seek(chunk[0])
                    put(self._file.read(chunk[1]))
                else:
                    put(_dumps(chunk))
            if self._pending:
                put(_dumps(self._pending))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise NotPicklable(str(exc)) from exc
        return written

    @classmethod
    def read(cls, f: BinaryIO) -> Level:
        """A level holding the states :meth:`write_rest` wrote (kept pickled until expanded)."""
        level = cls()
        while True:
            head = f.read(_LEN.size)
            if len(head) < _LEN.size:
                break
            (size,) = _LEN.unpack(head)
            data = f.read(size)
            level._chunks.append(data)
            level._nbytes += size
            # Counting needs the states; a chunk's length is cheap to read back once.
            level._count += len(_loads(data))
        return level

    def close(self) -> None:
        """Delete the spill file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None
            if self._path is not None:
                self._path.unlink(missing_ok=True)
