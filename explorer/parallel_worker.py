"""A worker of the shared-table parallel search (``parallel_shared.py``), and the table itself.

A worker is a forked process serving the driver's commands over a pipe: expand its part of a
level (inserting successors into the shared fingerprint table and keeping the ones it wins),
hand surplus states to peers between levels, answer parent look-ups for traces, and write or
read its part of a checkpoint. Between two batches it looks at the pause flag (a bigger table,
a checkpoint) and, every few hundred states, at the stop flag. The driver's side of every
command, and why the search is split this way, is in ``parallel_shared.py``.
"""

from __future__ import annotations

import gc
import mmap
import os
import pickle
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .bfs import (
    _diagnose,
    _property_failed,
    compile_expander,
    peak_rss_bytes,
)
from .errors import SpecError
from .fingerprint import fingerprint, table_insert
from .spec import Spec
from .store import GrowArray

__all__ = ["BATCH", "COUNTS", "MAX_LOAD", "PAUSE", "STOP", "SharedTable", "Worker",
           "WorkerSpecError", "fp_function", "new_level_counts", "table_dirs", "worker_main"]

BATCH = 1 << 13  # successors generated before one insert into the shared table
STOP_POLL = 256  # frontier states expanded between two looks at the stop flag
MAX_LOAD = 0.6  # a worker asks for a bigger table before inserting past this load
# The control block, one int64 word each: the pause and stop flags, then per worker the
# number of fingerprints it has inserted (each worker writes only its own word).
PAUSE, STOP, COUNTS = 0, 1, 8


def fp_function(canon: Callable[[Any], Any] | None) -> Callable[[Any], int]:
    return fingerprint if canon is None else (lambda s: fingerprint(canon(s)))


def table_dirs() -> list[str]:
    """Where a table file may go: shared memory first, then the temporary folder (a file
    mapping there lives in the page cache as well; it is only written out under pressure)."""
    return (["/dev/shm"] if os.path.isdir("/dev/shm") else []) + [tempfile.gettempdir()]


class SharedTable:
    """One mapping of a shared table file (a power of two of uint64 slots)."""

    def __init__(self, path: str, cap: int, create: bool = False) -> None:
        self.path, self.cap = path, cap
        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if create:
                # Reserve every page now: a tmpfs that runs out of room while a worker writes
                # would kill it with SIGBUS; here it is an OSError, and the caller moves on.
                os.posix_fallocate(fd, 0, cap * 8)
            self.mm = mmap.mmap(fd, cap * 8, mmap.MAP_SHARED)
        except OSError:
            if create:
                os.unlink(path)
            raise
        finally:
            os.close(fd)
        self.slots = np.frombuffer(self.mm, dtype=np.uint64)

    @classmethod
    def create(cls, cap: int) -> SharedTable:
        """A new, empty table file in the first folder with room for it (a unique name)."""
        error: OSError | None = None
        for folder in table_dirs():
            fd, path = tempfile.mkstemp(prefix="protospec-", suffix=".seen", dir=folder)
            os.close(fd)
            os.unlink(path)  # (the name is ours; the file is made below, exclusively)
            try:
                return cls(path, cap, create=True)
            except OSError as exc:
                error = exc
        assert error is not None
        raise error

    def insert(self, keys: np.ndarray, out: np.ndarray) -> int:
        assert table_insert is not None
        added = table_insert(self.mm, keys, out)
        if added < 0:
            raise RuntimeError("parallel search: the shared fingerprint table is full")
        return added

    def close(self) -> None:
        if not self.mm.closed:
            self.slots = np.zeros(0, dtype=np.uint64)  # drop the view before the mapping
            self.mm.close()


# -- a worker ----------------------------------------------------------------------------------

class WorkerSpecError(Exception):
    """A SpecError raised inside a worker, with the global id of the state it happened at."""

    def __init__(self, message: str, spec_name: str, action: str | None, depth: int | None,
                 gid: int, extra: Any = None) -> None:
        super().__init__(message)
        self.message, self.spec_name, self.action, self.depth = message, spec_name, action, depth
        self.gid, self.extra = gid, extra

    @classmethod
    def wrap(cls, err: SpecError, gid: int, extra: Any = None) -> WorkerSpecError:
        return cls(str(err), err.spec, err.action, err.depth, gid, extra)

    def __reduce__(self):  # picklable across processes (the SpecError's cause may not be)
        return (WorkerSpecError, (self.message, self.spec_name, self.action, self.depth,
                                   self.gid, self.extra))

    def to_spec_error(self) -> SpecError:
        return SpecError(self.message, spec=self.spec_name, action=self.action, depth=self.depth)


def new_level_counts(n_actions: int) -> dict[str, Any]:
    return {"generated": 0, "new": 0, "outside": 0, "fired": np.zeros(n_actions, np.int64),
            "enabled_many": [0] * n_actions, "new_by_action": np.zeros(n_actions, np.int64),
            "violations": [], "witnessed": [], "expand_s": 0.0, "expand_cpu_s": 0.0,
            "insert_s": 0.0, "busy_s": 0.0}


class Worker:
    """One worker's share: the states it owns (fingerprint, parent), its frontier and counts."""

    def __init__(self, spec: Spec, index: int, n: int, deadlock: bool,
                 canon: Callable[[Any], Any] | None, ctrl: np.ndarray, conn: Any,
                 inboxes: list[Any]) -> None:
        self.spec, self.index, self.n, self.deadlock = spec, index, n, deadlock
        self.ctrl, self.conn, self.inboxes = ctrl, conn, inboxes
        self.fp = fp_function(canon)
        self.fps = GrowArray(np.int64)
        self.parents = GrowArray(np.int64)  # global id of the parent, -1 for an initial state
        self.outside_fps = GrowArray(np.int64)  # states the constraint rejected (won here)
        self.frontier: list[Any] = []
        self.frontier_gids = np.zeros(0, dtype=np.int64)
        self.pos = 0  # frontier[pos:] is not expanded yet
        self.next_states: list[Any] = []
        self.next_gids: list[np.ndarray] = []
        self.action_names = [a.name for a in spec.actions()]
        self.action_index = {name: i for i, name in enumerate(self.action_names)}
        self.emitter, self.expand, self.invariants = _fast_paths(spec, self.action_index,
                                                                 self.fp)
        self.action_props = list(spec.action_property_fns)
        # @sometimes predicates: each is evaluated on new states until one satisfies it.
        self.sometimes = list(spec.sometimes_fns)
        self.witnessed: set[str] = set()
        self.constraint = spec.constraint
        self.violated: set[str] = set()
        self.depth = 0
        self.counts = new_level_counts(len(self.action_names))
        self.table: SharedTable | None = None
        self.inserted = 0

    def gid(self, local: int) -> int:
        return local * self.n + self.index

    # -- commands ------------------------------------------------------------------------------
    def serve(self) -> None:
        """Answer the driver's commands until it says close."""
        while True:
            cmd, arg = self.conn.recv()
            if cmd == "close":
                self.conn.send(("ok", None))
                return
            try:
                self.conn.send(("ok", self.command(cmd, arg)))
            except WorkerSpecError as exc:
                self.conn.send(("error", exc))

    def command(self, cmd: str, arg: Any) -> Any:
        if cmd == "level":
            return self.level()
        if cmd == "map":
            return self.map_table(*arg)
        if cmd == "advance":
            return self.advance(*arg)
        if cmd == "init":
            return self.add_initial(*arg)
        if cmd == "parent":
            return int(self.parents[arg]), int(self.fps[arg])
        if cmd == "save":
            return self.save(Path(arg))
        if cmd == "load":
            return self.load(Path(arg))
        if cmd == "load_parts":
            return self.load_parts(Path(arg[0]), arg[1])
        if cmd == "load_probe":
            return self.load_probe(Path(arg))
        if cmd == "reinsert":
            return self.reinsert()
        if cmd == "summary":
            return {"distinct": len(self.fps), "peak_rss": peak_rss_bytes(),
                    "cpu_s": time.process_time()}
        raise ValueError(f"unknown command {cmd!r}")

    def map_table(self, path: str, cap: int) -> None:
        if self.table is not None:
            self.table.close()
        self.table = SharedTable(path, cap)

    def pause(self) -> None:
        """Wait, serving commands (a new table, a checkpoint), until the driver says resume."""
        self.conn.send(("paused", None))
        while True:
            cmd, arg = self.conn.recv()
            if cmd == "resume":
                return
            try:
                self.conn.send(("ok", self.command(cmd, arg)))
            except WorkerSpecError as exc:
                self.conn.send(("error", exc))

    # -- states --------------------------------------------------------------------------------
    def add_initial(self, fps: list[int], states: list[Any]) -> dict[str, Any]:
        """Insert the initial states given to this worker; keep the ones it wins."""
        keys = np.array(fps, dtype=np.int64)
        won = self.insert(keys)
        keep = np.flatnonzero(won)
        first = len(self.fps)
        self.fps.extend(keys[keep])
        self.parents.extend(np.full(len(keep), -1, dtype=np.int64))
        kept = [states[p] for p in keep.tolist()]
        self.frontier, self.pos = kept, 0
        self.frontier_gids = np.arange(first, first + len(kept), dtype=np.int64) * self.n \
            + self.index
        violations: list[tuple] = []
        for k, s in enumerate(kept):
            violations += self.check_invariants(s, self.gid(first + k))
        return {"new": len(kept), "violations": violations, "witnessed": sorted(self.witnessed)}

    def insert(self, keys: np.ndarray) -> np.ndarray:
        """Insert fingerprints into the shared table; 1 where this worker won the insert.

        Past the load limit it asks the driver for a bigger table and waits (the batch in
        hand is counted but not inserted yet: the driver writes no checkpoint then)."""
        assert self.table is not None
        while sum(int(x) for x in self.ctrl[COUNTS:COUNTS + self.n]) + len(keys) \
                > MAX_LOAD * self.table.cap:
            self.conn.send(("grow", None))
            self.pause()
        won = np.zeros(len(keys), dtype=np.uint8)
        self.inserted += self.table.insert(keys, won)
        self.ctrl[COUNTS + self.index] = self.inserted
        return won

    def reinsert(self) -> int:
        """Insert every fingerprint this worker holds into a fresh table (after a resume)."""
        keys = np.concatenate([self.fps.view(), self.outside_fps.view()])
        won = np.zeros(len(keys), dtype=np.uint8)
        assert self.table is not None
        self.inserted = self.table.insert(keys, won)
        self.ctrl[COUNTS + self.index] = self.inserted
        return self.inserted

    def check_invariants(self, state: Any, gid: int) -> list[tuple]:
        out = []
        for name, inv in self.invariants:
            if name in self.violated:
                continue
            try:
                ok = inv(state)
            except Exception as exc:
                raise WorkerSpecError.wrap(_property_failed(self.spec, "invariant", name, exc,
                                                             None), gid) from exc
            if not ok:
                self.violated.add(name)
                out.append((name, "invariant", gid, None))
        if len(self.witnessed) < len(self.sometimes):
            self.check_sometimes(state, gid)
        return out

    def check_sometimes(self, state: Any, gid: int) -> None:
        for name, pred in self.sometimes:
            if name in self.witnessed:
                continue
            try:
                hit = pred(state)
            except Exception as exc:
                raise WorkerSpecError.wrap(_property_failed(self.spec, "sometimes", name, exc,
                                                             None), gid) from exc
            if hit:
                self.witnessed.add(name)
                self.counts["witnessed"].append(name)

    # -- one level -----------------------------------------------------------------------------
    def level(self) -> dict[str, Any]:
        """Expand frontier[pos:]; return this level's counts (and start new ones)."""
        t0, c0 = time.perf_counter(), time.process_time()
        counts = self.counts
        frontier, gids = self.frontier, self.frontier_gids
        expand, action_props, deadlock = self.expand, self.action_props, self.deadlock
        enabled_many = counts["enabled_many"]
        c_states: list[Any] = []
        c_fps: list[int] = []
        c_act: list[int] = []
        c_off: list[int] = []
        add_state, add_fp, add_act, add_off = (c_states.append, c_fps.append, c_act.append,
                                               c_off.append)
        emit = self.emitter(c_states, c_fps, c_act) if self.emitter is not None else None
        ctrl = self.ctrl
        k = batch_first = self.pos
        end_k = len(frontier)
        poll = 0
        while k < end_k:
            poll += 1
            if poll == STOP_POLL:
                poll = 0
                if ctrl[STOP]:
                    break
            s = frontier[k]
            start = len(c_fps)
            add_off(start)
            try:
                if emit is not None:
                    expand(s, emit, enabled_many)
                else:
                    expand(s, add_state, add_fp, add_act, enabled_many)
            except Exception as exc:
                raise WorkerSpecError.wrap(_diagnose(self.spec, s, exc, self.depth),
                                            int(gids[k])) from exc
            end = len(c_fps)
            if action_props:
                counts["violations"] += self.check_steps(s, c_states, start, end, int(gids[k]))
            if deadlock and end == start and "deadlock" not in self.violated:
                self.violated.add("deadlock")
                counts["violations"].append(("deadlock", "deadlock", int(gids[k]), None))
            k += 1
            if len(c_fps) >= BATCH:
                self.flush(c_states, c_fps, c_act, c_off, batch_first)
                c_states.clear()
                c_fps.clear()
                c_act.clear()
                c_off.clear()
                batch_first = self.pos = k
                if ctrl[PAUSE]:  # between two batches: a consistent point for a checkpoint
                    self.pause()
        if c_off:
            self.flush(c_states, c_fps, c_act, c_off, batch_first)
        self.pos = k
        counts["busy_s"] += time.perf_counter() - t0
        counts["expand_cpu_s"] += time.process_time() - c0
        counts["expand_s"] = counts["busy_s"] - counts["insert_s"]
        counts["next_size"] = len(self.next_states)
        counts["rest"] = len(frontier) - k
        self.counts = new_level_counts(len(self.action_names))
        return counts

    def check_steps(self, s: Any, c_states: list[Any], start: int, end: int,
                    gid: int) -> list[tuple]:
        out = []
        for j in range(start, end):
            t = c_states[j]
            for name, ap in self.action_props:
                if name in self.violated:
                    continue
                try:
                    ok = ap(s, t)
                except Exception as exc:
                    raise WorkerSpecError.wrap(
                        _property_failed(self.spec, "action property", name, exc, None), gid,
                        t) from exc
                if not ok:
                    self.violated.add(name)
                    out.append((name, "action_property", gid, t))
        return out

    def flush(self, c_states: list[Any], c_fps: list[int], c_act: list[int], c_off: list[int],
              first: int) -> None:
        """Insert one batch of successors; keep the ones this worker won, in order."""
        t0 = time.perf_counter()
        counts = self.counts
        n_actions = len(self.action_names)
        keys = np.array(c_fps, dtype=np.int64)
        acts = np.array(c_act, dtype=np.int64)
        counts["generated"] += len(keys)
        counts["fired"] += np.bincount(acts, minlength=n_actions)
        won = self.insert(keys)
        new_pos = np.flatnonzero(won)
        src = first + np.searchsorted(np.array(c_off, dtype=np.int64), new_pos,
                                      side="right") - 1
        if self.constraint is not None and len(new_pos):
            inside = np.array([bool(self.constraint(c_states[p])) for p in new_pos.tolist()],
                              dtype=bool)
            self.outside_fps.extend(keys[new_pos[~inside]])
            counts["outside"] += int((~inside).sum())
            new_pos, src = new_pos[inside], src[inside]
        local = len(self.fps)
        self.fps.extend(keys[new_pos])
        self.parents.extend(self.frontier_gids[src])
        new_states = [c_states[p] for p in new_pos.tolist()]
        self.next_states += new_states
        self.next_gids.append(np.arange(local, local + len(new_pos), dtype=np.int64) * self.n
                              + self.index)
        counts["new"] += len(new_pos)
        if len(new_pos):
            counts["new_by_action"] += np.bincount(acts[new_pos], minlength=n_actions)
        if self.invariants or len(self.witnessed) < len(self.sometimes):
            for k, s in enumerate(new_states):
                counts["violations"] += self.check_invariants(s, self.gid(local + k))
        counts["insert_s"] += time.perf_counter() - t0

    def advance(self, give: list[tuple[int, int]], take: int) -> dict[str, Any]:
        """Even out the next frontier (hand ``give`` states to peers, receive ``take``
        batches), then make it the frontier."""
        t0 = time.perf_counter()
        gids = (np.concatenate(self.next_gids) if self.next_gids
                else np.zeros(0, dtype=np.int64))
        states = self.next_states
        moved_bytes = 0
        for dest, count in give:
            cut = len(states) - count
            try:
                blob = pickle.dumps((states[cut:], gids[cut:].tobytes()), protocol=5)
            except (pickle.PicklingError, TypeError, AttributeError):
                blob = pickle.dumps(([], b""))  # states that do not pickle stay here
            else:
                del states[cut:]
                gids = gids[:cut]
            moved_bytes += len(blob)
            self.inboxes[dest].put(blob)
        parts = [gids]
        for _ in range(take):
            got, gid_bytes = pickle.loads(self.inboxes[self.index].get())
            states += got
            parts.append(np.frombuffer(gid_bytes, dtype=np.int64))
        self.frontier, self.frontier_gids, self.pos = states, np.concatenate(parts), 0
        self.next_states, self.next_gids = [], []
        self.depth += 1
        return {"balance_s": time.perf_counter() - t0, "moved_bytes": moved_bytes,
                "frontier": len(self.frontier)}

    # -- checkpoints ---------------------------------------------------------------------------
    def save(self, folder: Path) -> str | None:
        """Write this worker's part of a checkpoint; an error text if the states do not pickle."""
        part = folder / f"worker-{self.index}"
        part.mkdir(parents=True, exist_ok=True)
        np.save(part / "fps.npy", self.fps.view())
        np.save(part / "parents.npy", self.parents.view())
        np.save(part / "outside.npy", self.outside_fps.view())
        next_gids = (np.concatenate(self.next_gids) if self.next_gids
                     else np.zeros(0, dtype=np.int64))
        try:
            with open(part / "states.pkl", "wb") as f:
                pickle.dump({"frontier": self.frontier[self.pos:],
                             "frontier_gids": self.frontier_gids[self.pos:],
                             "next": self.next_states, "next_gids": next_gids,
                             "violated": self.violated, "depth": self.depth,
                             "counts": self.counts}, f, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            return f"the spec's states cannot be pickled ({exc}), so no checkpoint was written"
        return None

    def load_probe(self, folder: Path) -> dict[str, int]:
        """Take this worker's share of a one-process checkpoint (``bfs``'s format): worker 0
        keeps the stored states (a parent id ``p`` is global id ``p * n``), every worker a
        slice of the states waiting in the current and the next level."""
        from .frontier import Level

        with open(folder / "search.pkl", "rb") as f:
            snap = pickle.load(f)
        n, i = self.n, self.index
        stored = len(np.load(folder / "store" / "fps.npy", mmap_mode="r"))
        with open(folder / "frontier.bin", "rb") as f:
            rest = list(Level.read(f))
        with open(folder / "next.bin", "rb") as f:
            waiting = list(Level.read(f))
        if i == 0:
            self.fps.extend(np.load(folder / "store" / "fps.npy"))
            parents = np.load(folder / "store" / "parents.npy").astype(np.int64)
            self.parents.extend(np.where(parents < 0, -1, parents * n))
            self.outside_fps.extend(np.array(sorted(snap["outside"]), dtype=np.int64))
        rest_ids = snap["next_id"] + np.arange(len(rest), dtype=np.int64)
        next_ids = stored - len(waiting) + np.arange(len(waiting), dtype=np.int64)
        self.frontier, self.frontier_gids, self.pos = rest[i::n], rest_ids[i::n] * n, 0
        self.next_states, self.next_gids = waiting[i::n], [next_ids[i::n] * n]
        self.violated, self.depth = set(snap["violated"]), snap["depth"]
        return {"keys": len(self.fps) + len(self.outside_fps), "next": len(self.next_states)}

    def load_parts(self, folder: Path, written_by: int) -> dict[str, Any]:
        """This worker's share of a checkpoint written by ``written_by`` workers (another
        count): worker 0 keeps every stored state, renumbered part after part (old global id
        ``local * m + p`` becomes ``(offset[p] + local) * n``); every worker takes a slice of
        each part's waiting states. Worker 0 returns the parts' counts of the level in hand."""
        m, n, i = written_by, self.n, self.index
        parts = [folder / f"worker-{p}" for p in range(m)]
        sizes = [len(np.load(part / "fps.npy", mmap_mode="r")) for part in parts]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

        def renumber(gids: np.ndarray) -> np.ndarray:
            gids = np.asarray(gids, dtype=np.int64)
            new = (offsets[gids % m] + gids // m) * n
            return np.where(gids < 0, -1, new)

        counts = new_level_counts(len(self.action_names))
        frontier: list[Any] = []
        frontier_gids: list[np.ndarray] = []
        waiting: list[Any] = []
        waiting_gids: list[np.ndarray] = []
        for part in parts:
            if i == 0:
                self.fps.extend(np.load(part / "fps.npy"))
                self.parents.extend(renumber(np.load(part / "parents.npy")))
                self.outside_fps.extend(np.load(part / "outside.npy"))
            with open(part / "states.pkl", "rb") as f:
                snap = pickle.load(f)
            frontier += snap["frontier"][i::n]
            frontier_gids.append(renumber(snap["frontier_gids"][i::n]))
            waiting += snap["next"][i::n]
            waiting_gids.append(renumber(snap["next_gids"][i::n]))
            self.violated |= snap["violated"]
            self.depth = snap["depth"]
            if i == 0:
                c = snap["counts"]
                for key in ("generated", "new", "outside", "fired", "new_by_action"):
                    counts[key] += c[key]
                counts["witnessed"] += c.get("witnessed", [])
                counts["enabled_many"] = [a + b for a, b in zip(counts["enabled_many"],
                                                                c["enabled_many"])]
                counts["violations"] += [(name, kind, int(renumber([gid])[0]), extra)
                                         for name, kind, gid, extra in c["violations"]]
        self.frontier, self.frontier_gids, self.pos = (frontier, np.concatenate(frontier_gids),
                                                       0)
        self.next_states, self.next_gids = waiting, waiting_gids
        return {"keys": len(self.fps) + len(self.outside_fps), "counts": counts}

    def load(self, folder: Path) -> int:
        part = folder / f"worker-{self.index}"
        self.fps.extend(np.load(part / "fps.npy"))
        self.parents.extend(np.load(part / "parents.npy"))
        self.outside_fps.extend(np.load(part / "outside.npy"))
        with open(part / "states.pkl", "rb") as f:
            snap = pickle.load(f)
        self.frontier, self.frontier_gids, self.pos = snap["frontier"], snap["frontier_gids"], 0
        self.next_states, self.next_gids = snap["next"], [snap["next_gids"]]
        self.violated, self.depth, self.counts = snap["violated"], snap["depth"], snap["counts"]
        return len(self.fps) + len(self.outside_fps)


def _fast_paths(spec: Spec, action_index: dict[str, int],
                fp: Callable[[Any], int]) -> tuple[Any, Callable[..., None], list]:
    """(C emitter class or None, expander, invariants), as ``bfs`` builds them.

    Where the engine has issue 23's fast paths (the C ``Emitter`` that appends a successor,
    its fingerprint and its label in one call, and invariants memoised per field value), a
    worker uses them exactly as ``bfs.levels`` does, so one process and the workers keep the
    same cost per state; otherwise the plain five-argument expander and the spec's
    invariants."""
    from . import fingerprint as fingerprints

    emitter = getattr(fingerprints._core, "Emitter", None) if fp is fingerprint else None
    try:
        from .inline import inlining_enabled, state_layout  # type: ignore[import-not-found]
        from .propcache import memoized_invariant  # type: ignore[import-not-found]
    except ImportError:
        return None, compile_expander(spec, action_index, fp), list(spec.invariant_fns)
    if not inlining_enabled():
        emitter = None
    layout = state_layout(spec)
    invariants = [(name, memoized_invariant(spec, fn, layout, fingerprint))
                  for name, fn in spec.invariant_fns]
    if emitter is None:
        return None, compile_expander(spec, action_index, fp), invariants
    return emitter, compile_expander(spec, action_index, fp, emitter=True), invariants


def worker_main(spec: Spec, index: int, n: int, deadlock: bool, canon: Any, ctrl_mm: Any,
                 conn: Any, inboxes: list[Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    gc.disable()  # as bfs: millions of tuples, none freed during the search
    try:
        ctrl = np.frombuffer(ctrl_mm, dtype=np.int64)
        Worker(spec, index, n, deadlock, canon, ctrl, conn, inboxes).serve()
    except BaseException as exc:  # reported to the driver, which exits 4
        import traceback

        conn.send(("crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        os._exit(0)  # leave without freeing millions of objects one by one


