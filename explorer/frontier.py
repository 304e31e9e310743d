"""One level of the breadth-first search, kept compact while it waits to be expanded.

A level of a large search holds hundreds of thousands of states, and a state of nested tuples
and frozensets costs hundreds of bytes as Python objects. Once a level grows past one chunk,
its states are pickled a chunk at a time: one ``pickle.dumps`` of a list shares every object
the states of the chunk have in common (enum members, classes, unchanged frozensets), so a
state costs tens of bytes, and a chunk is turned back into states only when it is expanded.
States that cannot be pickled (say, a NamedTuple defined inside a function) are simply kept
as they are. Every level goes through pickle, however small, so a spec behaves the same in
small and large searches: compare state values with ``==``, not ``is`` (enum members and None
survive a pickle round trip as themselves; other objects do not).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

__all__ = ["Level"]

CHUNK = 4096


class Level:
    """An append-only sequence of states, iterated once, in order."""

    __slots__ = ("_chunks", "_count", "_pending", "_raw")

    def __init__(self) -> None:
        self._chunks: list[Any] = []  # bytes (pickled list) or a plain list of states
        self._pending: list[Any] = []
        self._count = 0
        self._raw = False

    def __len__(self) -> int:
        return self._count

    def append(self, state: Any) -> None:
        self._pending.append(state)
        self._count += 1
        if len(self._pending) >= CHUNK:
            self._seal()

    def _seal(self) -> None:
        chunk = self._pending
        self._pending = []
        if not self._raw:
            try:
                self._chunks.append(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
                return
            except (pickle.PicklingError, TypeError, AttributeError):
                self._raw = True
        self._chunks.append(chunk)

    def __iter__(self) -> Iterator[Any]:
        """Yield the states in order, releasing each chunk as soon as it is unpacked."""
        # The last, partial chunk goes through pickle too, so that a spec behaves the same in a
        # small search as in a large one (an `is` test that a pickle round trip breaks fails in
        # the tests, not only in big runs).
        if self._pending:
            self._seal()
        chunks = self._chunks
        for i in range(len(chunks)):
            chunk = chunks[i]
            chunks[i] = None
            states = pickle.loads(chunk) if isinstance(chunk, bytes) else chunk
            yield from states
