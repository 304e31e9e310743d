"""The state store every search uses: fingerprint -> state id, parents, and an optional edge log.

A state is known by its 64-bit fingerprint (``fingerprint.fingerprint`` of the state, or of
its canonical form when a search reduces by symmetry). The store numbers states 0, 1, 2, ...
in the order they are added and keeps, per state, only compact arrays:

* ``fps[id]``      its fingerprint (int64, 8 bytes);
* ``parents[id]``  the id of the state it was first reached from, -1 for an initial state
                   (int32, 4 bytes);
* an index from fingerprint to id: an open-addressing table of int32 slots holding ``id + 1``
  (0 = empty), at most 70% full: 4 / 0.7 to 4 / 0.35 bytes per state.

That is 17 to 24 bytes per state. With ``record_edges=True`` it also logs every step
``src id -> dst id`` with an interned label id (three int32 arrays, 12 bytes per edge); the
label table maps a label id to the action instance ``(action name, ((arg, value), ...))``.
Liveness checking reads the graph back with :meth:`StateStore.successors` /
:meth:`StateStore.edge_arrays`.

Lookups and inserts take numpy batches: a search gathers thousands of successors, asks which
are new (:meth:`lookup`), decides which of those to keep (a state constraint may reject some),
and adds them in order (:meth:`add`), which keeps the numbering, and so counterexamples,
deterministic. ``depth`` bookkeeping is left to the strategy (the BFS records where each level
starts with :meth:`mark_level`).

Bigger than memory: :meth:`spill` moves every array into files under a folder (``numpy``
memory maps; the operating system keeps the hot pages in RAM and writes the rest out), after
which the store grows on disk. :meth:`save` / :meth:`load` write and read a checkpoint; the
index is rebuilt on load rather than saved.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GrowArray", "Label", "StateStore"]

Label = tuple[str, tuple[tuple[str, Any], ...]]  # (action name, ((arg name, value), ...))

MAX_LOAD = 0.7  # linear probing stays short up to here
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads any bits over the slot index
_SLICE = 1 << 16  # rebuild the index a slice at a time: probing temporaries stay small


class GrowArray:
    """An append-only numpy array with amortised doubling, in memory or in a file (memmap)."""

    def __init__(self, dtype: Any, capacity: int = 1024, path: Path | None = None) -> None:
        self.dtype = np.dtype(dtype)
        self._n = 0
        self._path: Path | None = None
        self._buf = np.zeros(max(16, capacity), dtype=self.dtype)
        if path is not None:
            self.spill(path)

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Bytes held in memory (0 once spilled: the pages belong to the file)."""
        return 0 if self._path is not None else int(self._buf.nbytes)

    @property
    def spilled(self) -> bool:
        return self._path is not None

    def view(self) -> np.ndarray:
        """The filled part (a view: valid until the next append)."""
        return self._buf[:self._n]

    def __getitem__(self, i: int) -> Any:
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return self._buf[i % self._n] if i < 0 else self._buf[i]

    def _reserve(self, needed: int) -> None:
        cap = len(self._buf)
        if needed <= cap:
            return
        while cap < needed:
            cap *= 2
        if self._path is None:
            new = np.zeros(cap, dtype=self.dtype)
            new[:self._n] = self._buf[:self._n]
            self._buf = new
        else:
            self._buf.flush()
            del self._buf
            os.truncate(self._path, cap * self.dtype.itemsize)
            self._buf = np.memmap(self._path, dtype=self.dtype, mode="r+", shape=(cap,))

    def append(self, value: Any) -> None:
        self._reserve(self._n + 1)
        self._buf[self._n] = value
        self._n += 1

    def extend(self, values: np.ndarray) -> None:
        k = len(values)
        if k:
            self._reserve(self._n + k)
            self._buf[self._n:self._n + k] = values
            self._n += k

    def spill(self, path: Path) -> None:
        """Move the array into ``path`` (a new file) and keep growing it there."""
        if self._path is not None:
            return
        cap = len(self._buf)
        with open(path, "wb") as f:
            f.truncate(cap * self.dtype.itemsize)
        mm = np.memmap(path, dtype=self.dtype, mode="r+", shape=(cap,))
        mm[:self._n] = self._buf[:self._n]
        self._buf = mm
        self._path = path

    def close(self) -> None:
        """Release a spilled array's file."""
        if self._path is not None:
            path = self._path
            self._buf = np.zeros(16, dtype=self.dtype)
            self._n = 0
            self._path = None
            path.unlink(missing_ok=True)


class StateStore:
    """Fingerprint -> state id, parent ids and (optionally) the edge log of one search.

    Contract: ids are dense (0 .. len-1) and given in the order of :meth:`add` calls; a
    fingerprint is added at most once; ``parents[id] < id`` for every non-initial state
    added by a search that only adds successors of stored states.
    """

    def __init__(self, *, record_edges: bool = False, capacity: int = 1 << 12) -> None:
        self.record_edges = record_edges
        self.fps = GrowArray(np.int64, capacity)
        self.parents = GrowArray(np.int32, capacity)
        self.level_starts: list[int] = []  # first id of each BFS level (set by the strategy)
        self.edge_src = GrowArray(np.int32, 1024)
        self.edge_dst = GrowArray(np.int32, 1024)
        self.edge_label = GrowArray(np.int32, 1024)
        self.labels: list[Label] = []
        self._label_ids: dict[Label, int] = {}
        self._edges_sorted = True
        self._spill_dir: Path | None = None
        self._table_gen = 0
        cap = 1 << max(4, (max(16, capacity) - 1).bit_length())
        self._table = self._new_table(cap)
        self._bits = cap.bit_length() - 1

    # -- sizes -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.fps)

    @property
    def edge_count(self) -> int:
        return len(self.edge_dst)

    @property
    def nbytes(self) -> int:
        """Bytes of the store's arrays held in memory (spilled arrays count 0)."""
        table = 0 if self._spill_dir is not None else int(self._table.nbytes)
        return (self.fps.nbytes + self.parents.nbytes + table + self.edge_src.nbytes
                + self.edge_dst.nbytes + self.edge_label.nbytes)

    @property
    def disk_bytes(self) -> int:
        """Bytes of the store's arrays kept in files after :meth:`spill`."""
        if self._spill_dir is None:
            return 0
        return sum(p.stat().st_size for p in self._spill_dir.glob("store-*.bin"))

    @property
    def spilled(self) -> bool:
        return self._spill_dir is not None

    # -- the index ---------------------------------------------------------------------------
    def _new_table(self, cap: int) -> np.ndarray:
        if self._spill_dir is None:
            return np.zeros(cap, dtype=np.int32)
        self._table_gen += 1
        path = self._spill_dir / f"store-index-{self._table_gen}.bin"
        with open(path, "wb") as f:
            f.truncate(cap * 4)
        return np.memmap(path, dtype=np.int32, mode="r+", shape=(cap,))

    def index_array(self) -> np.ndarray:
        """The index itself (int32 slots holding id + 1, 0 empty; slot of a fingerprint
        ``(fp * 0x9E3779B97F4A7C15 mod 2**64) >> (64 - bits)``, then linear probing): for the
        C emitter's read-only probes. Valid until the next :meth:`add` or :meth:`spill`."""
        return self._table

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        mixed = keys.view(np.uint64) * _MIX
        return (mixed >> np.uint64(64 - self._bits)).astype(np.int64)

    def lookup(self, fps: np.ndarray) -> np.ndarray:
        """The id of each fingerprint in ``fps`` (int64 array), -1 where it is not stored."""
        out = np.full(len(fps), -1, dtype=np.int64)
        if len(fps) == 0 or len(self.fps) == 0:
            return out
        table = self._table
        stored = self.fps.view()
        mask = len(table) - 1
        pending = np.arange(len(fps))
        slots = self._slots(fps)
        while len(pending):
            sl = slots[pending]
            cur = table[sl].astype(np.int64)
            occupied = cur != 0
            found = np.zeros(len(pending), dtype=bool)
            found[occupied] = stored[cur[occupied] - 1] == fps[pending[occupied]]
            out[pending[found]] = cur[found] - 1
            again = occupied & ~found
            slots[pending[again]] = (sl[again] + 1) & mask
            pending = pending[again]
        return out

    def _insert(self, keys: np.ndarray, ids: np.ndarray) -> None:
        """Index distinct fingerprints not yet in the table under their ids."""
        table = self._table
        mask = len(table) - 1
        pending = np.arange(len(keys))
        slots = self._slots(keys)
        marks = (ids + 1).astype(np.int32)
        while len(pending):
            sl = slots[pending]
            empty = table[sl] == 0
            # Claim empty slots; where two keys race for one slot one write wins, the other
            # sees an occupied slot next round and moves on.
            table[sl[empty]] = marks[pending[empty]]
            won = np.zeros(len(pending), dtype=bool)
            won[empty] = table[sl[empty]] == marks[pending[empty]]
            again = ~won
            step = again & ~empty
            slots[pending[step]] = (sl[step] + 1) & mask
            pending = pending[again]

    def _grow(self, needed: int) -> None:
        """Make room for ``needed`` states; a bigger index re-indexes every stored state."""
        cap = len(self._table)
        while needed > cap * MAX_LOAD:
            cap *= 2
        if cap != len(self._table):
            self._reindex(cap)

    def _reindex(self, cap: int) -> None:
        old = self._table
        self._table = self._new_table(cap)
        self._bits = cap.bit_length() - 1
        stored = self.fps.view()
        for start in range(0, len(stored), _SLICE):
            part = np.arange(start, min(len(stored), start + _SLICE), dtype=np.int64)
            self._insert(stored[part], part)
        if isinstance(old, np.memmap):
            path = Path(old.filename)
            del old
            path.unlink(missing_ok=True)

    # -- adding states and edges -------------------------------------------------------------
    def add(self, fps: np.ndarray, parents: np.ndarray) -> np.ndarray:
        """Store new states (distinct fingerprints, none stored yet) with their parent ids;
        return their ids (consecutive, in the order given)."""
        first = len(self.fps)
        k = len(fps)
        ids = np.arange(first, first + k, dtype=np.int64)
        if k == 0:
            return ids
        fps = np.asarray(fps, dtype=np.int64)
        self.fps.extend(fps)
        self.parents.extend(np.asarray(parents, dtype=np.int32))
        if (first + k) > len(self._table) * MAX_LOAD:
            self._grow(first + k)  # re-indexes every stored state, the new ones included
        else:
            self._insert(fps, ids)
        return ids

    def add_new(self, fps: np.ndarray, parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add the fingerprints of ``fps`` not stored yet (the first occurrence of each, with
        its parent); return (the id of every entry of ``fps``, positions that were new)."""
        ids = self.lookup(fps)
        unknown = np.flatnonzero(ids < 0)
        if len(unknown) == 0:
            return ids, unknown
        _, first = np.unique(fps[unknown], return_index=True)
        new_pos = unknown[np.sort(first)]
        self.add(fps[new_pos], parents[new_pos])
        ids[unknown] = self.lookup(fps[unknown])
        return ids, new_pos

    def intern_label(self, label: Label) -> int:
        """The id of an action-instance label (added to the label table if new)."""
        i = self._label_ids.get(label)
        if i is None:
            i = self._label_ids[label] = len(self.labels)
            self.labels.append(label)
        return i

    def add_edges(self, src: np.ndarray, dst: np.ndarray, label: np.ndarray) -> None:
        """Log steps src -> dst taken by action-instance ``label`` (ids; arrays of one length)."""
        src = np.asarray(src, dtype=np.int32)
        if len(src) and self._edges_sorted:
            last = self.edge_src[-1] if len(self.edge_src) else -1
            self._edges_sorted = bool(src[0] >= last and np.all(src[:-1] <= src[1:]))
        self.edge_src.extend(src)
        self.edge_dst.extend(np.asarray(dst, dtype=np.int32))
        self.edge_label.extend(np.asarray(label, dtype=np.int32))

    def mark_level(self) -> None:
        """Record that a new BFS level starts at the next id."""
        self.level_starts.append(len(self.fps))

    # -- reading -----------------------------------------------------------------------------
    def fingerprint_of_id(self, i: int) -> int:
        return int(self.fps[i])

    def parent(self, i: int) -> int:
        return int(self.parents[i])

    def path_to(self, i: int) -> list[int]:
        """Ids from an initial state to state ``i`` along first-found parents."""
        out = []
        while i >= 0:
            out.append(i)
            i = int(self.parents[i])
        out.reverse()
        return out

    def depth_of(self, i: int) -> int:
        """The BFS level of state ``i`` (needs :meth:`mark_level` calls)."""
        import bisect

        return bisect.bisect_right(self.level_starts, i) - 1

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, dst, label) of every logged step, in the order they were logged (views)."""
        return self.edge_src.view(), self.edge_dst.view(), self.edge_label.view()

    def successors(self, i: int) -> Iterator[tuple[int, int]]:
        """(label id, dst id) of every logged step out of state ``i``, in logged order."""
        src, dst, lab = self.edge_arrays()
        if self._edges_sorted:  # a BFS logs edges in source order: binary search
            idx = range(int(np.searchsorted(src, i, "left")),
                        int(np.searchsorted(src, i, "right")))
        else:
            idx = np.flatnonzero(src == i).tolist()
        for k in idx:
            yield int(lab[k]), int(dst[k])

    def label(self, label_id: int) -> Label:
        return self.labels[label_id]

    # -- disk --------------------------------------------------------------------------------
    def spill(self, folder: Path) -> None:
        """Move every array into files under ``folder``; the store keeps growing there."""
        if self._spill_dir is not None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        self._spill_dir = folder
        for name in ("fps", "parents", "edge_src", "edge_dst", "edge_label"):
            getattr(self, name).spill(folder / f"store-{name}.bin")
        old = self._table
        self._table = self._new_table(len(old))
        self._table[:] = old

    def close(self) -> None:
        """Delete the spill files (the store must not be used afterwards)."""
        if self._spill_dir is None:
            return
        for name in ("fps", "parents", "edge_src", "edge_dst", "edge_label"):
            getattr(self, name).close()
        if isinstance(self._table, np.memmap):
            path = Path(self._table.filename)
            self._table = np.zeros(16, dtype=np.int32)
            path.unlink(missing_ok=True)

    def save(self, folder: Path) -> None:
        """Write the store into ``folder`` (a checkpoint; the index is rebuilt on load)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("fps", "parents", "edge_src", "edge_dst", "edge_label"):
            np.save(folder / f"{name}.npy", getattr(self, name).view())
        with open(folder / "labels.pkl", "wb") as f:
            pickle.dump(self.labels, f, protocol=pickle.HIGHEST_PROTOCOL)
        (folder / "store.json").write_text(json.dumps(
            {"states": len(self), "edges": self.edge_count, "record_edges": self.record_edges,
             "level_starts": self.level_starts}))

    @classmethod
    def load(cls, folder: Path) -> StateStore:
        """Read a store written by :meth:`save`."""
        meta = json.loads((folder / "store.json").read_text())
        fps = np.load(folder / "fps.npy")
        store = cls(record_edges=meta["record_edges"], capacity=max(16, len(fps)))
        store.fps.extend(fps)
        store.parents.extend(np.load(folder / "parents.npy"))
        for name in ("edge_src", "edge_dst", "edge_label"):
            getattr(store, name).extend(np.load(folder / f"{name}.npy"))
        with open(folder / "labels.pkl", "rb") as f:
            store.labels = pickle.load(f)
        store._label_ids = {lab: i for i, lab in enumerate(store.labels)}
        src = store.edge_src.view()
        store._edges_sorted = bool(len(src) < 2 or np.all(src[:-1] <= src[1:]))
        store.level_starts = list(meta["level_starts"])
        cap = 16
        while len(fps) > cap * MAX_LOAD:
            cap *= 2
        store._reindex(cap)
        return store
