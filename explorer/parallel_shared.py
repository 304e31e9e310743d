"""Breadth-first search on worker processes that share one fingerprint set: no state moves.

The workers are forked processes. Every one of them maps the same *seen set*: an
open-addressing table of 64-bit fingerprints in a shared file mapping, into which a worker
inserts with an atomic compare-and-swap (``table_insert`` of the C fingerprint module). Of the
workers that generate a state, the one whose insert wins *owns* it: it stores the state's
fingerprint and parent in its own arrays and keeps the state in its own next frontier. So a
successor never travels to an owner chosen by its fingerprint (the partitioned design of
``parallel.py``, where packing and unpacking states cost more than generating them); only
per-level counts go to the driver, and parent links when a counterexample is rebuilt.

The search is level-synchronous, as ``bfs``: every worker expands its part of level ``d``
before any worker starts level ``d + 1``, so every state is stored at its BFS distance and the
distinct states, the depth and the length of a shortest counterexample are those of one
process. States are named by *global ids* ``local_id * N + owner``; a parent is a global id,
and the driver rebuilds a trace by asking owners for parents back to an initial state, then
replaying the fingerprints (``bfs.rebuild_trace``).

Between levels the driver evens out the next frontier: a worker holding more than its share
hands the surplus states (pickled, with their global ids) to the workers holding less, directly
through queues. Owners win inserts about in proportion to the states they expand, so few
states move (a few percent).

The table grows in the middle of a level when needed: a worker that finds it too full asks for
more room and waits; the driver raises the *pause* flag, every worker stops after its batch in
hand, the driver re-inserts every fingerprint into a table twice as large, the workers map it
and go on. The same pause serves periodic checkpoints. A stop request (Ctrl-C, ``--time-limit``)
makes every worker finish its batch in hand; then each worker writes its part of the
checkpoint (its arrays, the states it has not expanded, its next frontier, its counters) and the
driver its own (``folder/checkpoint``, written as a new folder renamed over the old one).
:func:`check_shared` with ``resume=`` continues it to the result of an uninterrupted run, on
as many workers or on another number (worker 0 then takes every stored state, renumbered, and
the waiting states are dealt out); it also takes over a one-process checkpoint (``bfs``).
"""

from __future__ import annotations

import gc
import json
import mmap
import multiprocessing as mp
import multiprocessing.connection
import os
import pickle
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .bfs import (
    CHECKPOINT_FORMAT,
    Progress,
    SearchControl,
    _diagnose,
    _property_failed,
    _unsupported_error,
    compile_expander,
    peak_rss_bytes,
    rebuild_trace,
)
from .errors import SpecError
from .fingerprint import UnsupportedValue, collision_probability, fingerprint, table_insert
from .result import ActionCoverage, CheckResult, Stats, Trace, Violation
from .spec import Spec
from .store import GrowArray

__all__ = ["available", "check_shared"]

BATCH = 1 << 13  # successors generated before one insert into the shared table
STOP_POLL = 256  # frontier states expanded between two looks at the stop flag
MAX_LOAD = 0.6  # a worker asks for a bigger table before inserting past this load
BALANCE_SLACK = 0.04  # a next frontier within 4% (and 256 states) of its share stays put
# The control block, one int64 word each: the pause and stop flags, then per worker the
# number of fingerprints it has inserted (each worker writes only its own word).
PAUSE, STOP, COUNTS = 0, 1, 8


def available() -> bool:
    """True when the shared table can be used (the compiled fingerprint module is loaded)."""
    return table_insert is not None


def _fp_function(canon: Callable[[Any], Any] | None) -> Callable[[Any], int]:
    return fingerprint if canon is None else (lambda s: fingerprint(canon(s)))


def _table_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


class _Table:
    """One mapping of a shared table file (a power of two of uint64 slots)."""

    def __init__(self, path: str, cap: int, create: bool = False) -> None:
        self.path, self.cap = path, cap
        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if create:
                os.ftruncate(fd, cap * 8)
            self.mm = mmap.mmap(fd, cap * 8, mmap.MAP_SHARED)
        finally:
            os.close(fd)
        self.slots = np.frombuffer(self.mm, dtype=np.uint64)

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

class _WorkerSpecError(Exception):
    """A SpecError raised inside a worker, with the global id of the state it happened at."""

    def __init__(self, message: str, spec_name: str, action: str | None, depth: int | None,
                 gid: int, extra: Any = None) -> None:
        super().__init__(message)
        self.message, self.spec_name, self.action, self.depth = message, spec_name, action, depth
        self.gid, self.extra = gid, extra

    @classmethod
    def wrap(cls, err: SpecError, gid: int, extra: Any = None) -> _WorkerSpecError:
        return cls(str(err), err.spec, err.action, err.depth, gid, extra)

    def __reduce__(self):  # picklable across processes (the SpecError's cause may not be)
        return (_WorkerSpecError, (self.message, self.spec_name, self.action, self.depth,
                                   self.gid, self.extra))

    def to_spec_error(self) -> SpecError:
        return SpecError(self.message, spec=self.spec_name, action=self.action, depth=self.depth)


def _new_level_counts(n_actions: int) -> dict[str, Any]:
    return {"generated": 0, "new": 0, "outside": 0, "fired": np.zeros(n_actions, np.int64),
            "enabled_many": [0] * n_actions, "new_by_action": np.zeros(n_actions, np.int64),
            "violations": [], "expand_s": 0.0, "expand_cpu_s": 0.0,
            "insert_s": 0.0, "busy_s": 0.0}


class _Worker:
    """One worker's share: the states it owns (fingerprint, parent), its frontier and counts."""

    def __init__(self, spec: Spec, index: int, n: int, deadlock: bool,
                 canon: Callable[[Any], Any] | None, ctrl: np.ndarray, conn: Any,
                 inboxes: list[Any]) -> None:
        self.spec, self.index, self.n, self.deadlock = spec, index, n, deadlock
        self.ctrl, self.conn, self.inboxes = ctrl, conn, inboxes
        self.fp = _fp_function(canon)
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
        self.expand = compile_expander(spec, self.action_index, self.fp)
        self.invariants = list(spec.invariant_fns)
        self.action_props = list(spec.action_property_fns)
        self.constraint = spec.constraint
        self.violated: set[str] = set()
        self.depth = 0
        self.counts = _new_level_counts(len(self.action_names))
        self.table: _Table | None = None
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
            except _WorkerSpecError as exc:
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
        self.table = _Table(path, cap)

    def pause(self) -> None:
        """Wait, serving commands (a new table, a checkpoint), until the driver says resume."""
        self.conn.send(("paused", None))
        while True:
            cmd, arg = self.conn.recv()
            if cmd == "resume":
                return
            try:
                self.conn.send(("ok", self.command(cmd, arg)))
            except _WorkerSpecError as exc:
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
        return {"new": len(kept), "violations": violations}

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
                raise _WorkerSpecError.wrap(_property_failed(self.spec, "invariant", name, exc,
                                                             None), gid) from exc
            if not ok:
                self.violated.add(name)
                out.append((name, "invariant", gid, None))
        return out

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
                expand(s, add_state, add_fp, add_act, enabled_many)
            except Exception as exc:
                raise _WorkerSpecError.wrap(_diagnose(self.spec, s, exc, self.depth),
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
        self.counts = _new_level_counts(len(self.action_names))
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
                    raise _WorkerSpecError.wrap(
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
        if self.invariants:
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

        counts = _new_level_counts(len(self.action_names))
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


def _worker_main(spec: Spec, index: int, n: int, deadlock: bool, canon: Any, ctrl_mm: Any,
                 conn: Any, inboxes: list[Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    gc.disable()  # as bfs: millions of tuples, none freed during the search
    try:
        ctrl = np.frombuffer(ctrl_mm, dtype=np.int64)
        _Worker(spec, index, n, deadlock, canon, ctrl, conn, inboxes).serve()
    except BaseException as exc:  # reported to the driver, which exits 4
        import traceback

        conn.send(("crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        os._exit(0)  # leave without freeing millions of objects one by one


# -- the driver --------------------------------------------------------------------------------

class _Driver:
    """Starts the workers, runs the levels, grows the table, writes checkpoints, builds the
    result. Everything it keeps across a checkpoint is in ``self.acc`` and ``self.cur``."""

    def __init__(self, spec: Spec, n: int, deadlock: bool, canon: Any,
                 control: SearchControl) -> None:
        self.spec, self.n, self.deadlock, self.canon, self.control = (spec, n, deadlock, canon,
                                                                      control)
        self.fp = _fp_function(canon)
        self.started = time.perf_counter()
        self.elapsed_at_start = 0.0
        self.action_names = [a.name for a in spec.actions()]
        na = len(self.action_names)
        # Totals over finished levels and workers (``cur``: the level in hand).
        self.acc: dict[str, Any] = {
            "generated": 0, "distinct": 0, "outside": 0, "depth": 0,
            "fired": np.zeros(na, np.int64), "enabled_many": np.zeros(na, np.int64),
            "new_by_action": np.zeros(na, np.int64), "violations": [], "violated": set(),
            "level_sizes": [], "elapsed": 0.0, "inits": [], "action_names": self.action_names}
        self.cur = self.new_level()
        self.timing = {"expand_s": 0.0, "expand_cpu_s": 0.0, "insert_s": 0.0, "busy_s": 0.0,
                       "wait_s": 0.0, "critical_cpu_s": 0.0, "balance_s": 0.0, "moved": 0,
                       "moved_bytes": 0, "grows": 0}
        ctx = mp.get_context("fork")  # the spec object is inherited, not pickled
        self.ctrl_mm = mmap.mmap(-1, 8 * (COUNTS + n))  # anonymous, shared with the children
        self.ctrl = np.frombuffer(self.ctrl_mm, dtype=np.int64)
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        for i in range(n):
            parent_end, child_end = ctx.Pipe()
            p = ctx.Process(target=_worker_main, name=f"protospec-worker-{i}", daemon=True,
                            args=(spec, i, n, deadlock, canon, self.ctrl_mm, child_end,
                                  self.inboxes))
            p.start()
            child_end.close()
            self.conns.append(parent_end)
            self.procs.append(p)
        self.table: _Table | None = None
        self.table_gen = 0
        self.checkpoint_due_at: float | None = None

    def new_level(self) -> dict[str, Any]:
        """Counts of the level in hand: new states, violations found, per-worker next
        frontier sizes and states not expanded (these two as of the workers' last report)."""
        return {"new": 0, "violations": [], "next_sizes": [0] * self.n, "rest": 0}

    # -- talking to workers --------------------------------------------------------------------
    def recv(self, i: int) -> tuple[str, Any]:
        conn = self.conns[i]
        while not conn.poll(0.05):
            self.watch()
            if not self.procs[i].is_alive():
                raise RuntimeError(f"parallel search: worker {i} died "
                                   f"(exit code {self.procs[i].exitcode})")
        status, value = conn.recv()
        if status == "error":
            raise value
        if status == "crash":
            raise RuntimeError(f"parallel search: worker {i} failed: {value}")
        return status, value

    def call(self, i: int, cmd: str, arg: Any = None) -> Any:
        self.conns[i].send((cmd, arg))
        status, value = self.recv(i)
        assert status == "ok", status
        return value

    def call_all(self, cmd: str, args: list[Any] | None = None) -> list[Any]:
        for i, conn in enumerate(self.conns):
            conn.send((cmd, None if args is None else args[i]))
        out, first_error = [], None
        for i in range(self.n):
            try:
                out.append(self.recv(i)[1])
            except _WorkerSpecError as exc:
                first_error = first_error or exc
                out.append(None)
        if first_error is not None:
            raise first_error
        return out

    def watch(self) -> None:
        """Raise the stop flag on a stop request or the time limit; the pause flag when a
        checkpoint is due."""
        c = self.control
        if c.stop_requested or (c.time_limit_s is not None
                                and self.elapsed() - self.elapsed_at_start >= c.time_limit_s):
            self.ctrl[STOP] = 1
        elif (self.checkpoint_due_at is not None and c.folder is not None
              and time.perf_counter() >= self.checkpoint_due_at):
            self.ctrl[PAUSE] = 1

    def stopped_by(self) -> str:
        c = self.control
        if (c.time_limit_s is not None and not c.stop_requested
                and self.elapsed() - self.elapsed_at_start >= c.time_limit_s):
            return "time_limit"
        return "interrupted"

    # -- the table -----------------------------------------------------------------------------
    def new_table(self, cap: int) -> None:
        """Make a table of ``cap`` slots holding every fingerprint of the old one (if any),
        and have every worker map it."""
        self.table_gen += 1
        path = os.path.join(_table_dir(), f"protospec-{os.getpid()}-{self.table_gen}.seen")
        table = _Table(path, cap, create=True)
        try:
            if self.table is not None:
                old = self.table.slots
                keys = old[old != 0].view(np.int64)
                del old  # no view of the old mapping may outlive it
                table.insert(keys, np.zeros(len(keys), dtype=np.uint8))
                self.table.close()
            self.table = table
            self.call_all("map", [(path, cap)] * self.n)
        finally:
            os.unlink(path)  # every process has it mapped: the memory lives until they exit

    def min_cap(self) -> int:
        cap = 1 << 16
        while self.n * BATCH > cap // 4:  # one batch per worker past the limit still fits
            cap *= 2
        return cap

    # -- the run -------------------------------------------------------------------------------
    def run(self, max_depth: int | None, max_states: int | None, keep_going: bool,
            stop_on: frozenset[str] | None, progress: Callable[[Progress], None] | None,
            resume: Path | None, probe: Path | None = None) -> CheckResult:
        self.started = time.perf_counter()
        self.keep_going, self.stop_on, self.progress = keep_going, stop_on, progress
        self.docs = self.spec.property_docs()
        c = self.control
        if c.checkpoint_every_s is not None and c.folder is not None:
            self.checkpoint_due_at = time.perf_counter() + c.checkpoint_every_s
        stop = False
        if resume is not None:
            self.load(resume)  # the time limit counts this run's time only, as in bfs
            self.elapsed_at_start = self.acc["elapsed"]
        elif probe is not None and (probe / "checkpoint").is_dir():
            self.load_probe(probe / "checkpoint")  # the probe's time counts against the limit
        else:
            stop = self.initial_states()
        stats = Stats()
        # A resumed run (or one taking over from the probe) goes on with the level in hand.
        in_level = resume is not None or probe is not None
        try:
            while not stop:
                acc, cur = self.acc, self.cur
                if not in_level and max_depth is not None and acc["depth"] >= max_depth:
                    stats.complete, stats.stopped_by = False, "max_depth"
                    break
                in_level = False
                self.run_level()
                # Deadlocks are at this level's depth, step and state violations one deeper.
                found = sorted(cur["violations"], key=lambda v: 0 if v[1] == "deadlock" else 1)
                cur["violations"] = []
                stop = self.record(found)
                new = cur["new"]
                if self.ctrl[STOP] and not stop:
                    stats.complete, stats.stopped_by = False, self.stopped_by()
                    stats.queued = new + cur["rest"]
                    if c.folder is not None:
                        self.checkpoint()
                    acc["distinct"] += new
                    acc["level_sizes"].append(new)
                    break
                acc["distinct"] += new
                acc["level_sizes"].append(new)
                if stop:
                    break
                if new:
                    acc["depth"] += 1
                else:
                    break
                if max_states is not None and acc["distinct"] >= max_states:
                    stats.complete, stats.stopped_by = False, "max_states"
                    stats.queued = new
                    break
                self.advance(cur["next_sizes"])
                self.cur = self.new_level()
                if progress is not None:
                    progress(Progress(acc["distinct"], acc["generated"], acc["depth"] + 1, new,
                                      self.elapsed()))
        except _WorkerSpecError as exc:
            err = exc.to_spec_error()
            err.trace = self.trace_to(exc.gid, exc.extra)
            raise err from None
        return self.result(stats)

    def elapsed(self) -> float:
        return self.acc["elapsed"] + time.perf_counter() - self.started

    def initial_states(self) -> bool:
        spec, n = self.spec, self.n
        try:
            init_states = list(spec.init())
        except Exception as exc:
            raise SpecError(f"spec {spec.name!r}: init() raised {type(exc).__name__}: {exc}",
                            spec=spec.name, cause=exc) from exc
        if not init_states:
            raise SpecError(f"spec {spec.name!r}: init() yielded no initial state",
                            spec=spec.name)
        per_worker: list[tuple[list[int], list[Any]]] = [([], []) for _ in range(n)]
        seen: set[int] = set()
        for s in init_states:
            try:
                f = self.fp(s)
            except (UnsupportedValue, TypeError) as exc:
                raise _unsupported_error(spec, "init()", s, 0, exc) from exc
            if f in seen:
                continue
            seen.add(f)
            if spec.constraint is not None and not spec.constraint(s):
                self.acc["outside"] += 1
                continue
            per_worker[len(seen) % n][0].append(f)
            per_worker[len(seen) % n][1].append(s)
            self.acc["inits"].append(s)
        self.acc["generated"] = len(init_states)
        cap = self.min_cap()
        while len(seen) > cap * MAX_LOAD / 2:
            cap *= 2
        self.new_table(cap)
        found: list[tuple] = []
        distinct = 0
        for r in self.call_all("init", per_worker):
            distinct += r["new"]
            found += r["violations"]
        self.acc["distinct"] = distinct
        self.acc["level_sizes"].append(distinct)
        return self.record(found) or distinct == 0

    def run_level(self) -> None:
        """One level on every worker, pausing them to grow the table or write a checkpoint."""
        t0 = time.perf_counter()
        for conn in self.conns:
            conn.send(("level", None))
        running, paused = set(range(self.n)), set()
        grow = False
        busy = 0.0
        critical = 0.0  # the level's longest worker, in CPU seconds (load-independent)
        last_progress = time.perf_counter()
        while running:
            self.watch()
            ready = mp.connection.wait([self.conns[i] for i in running - paused], 0.05)
            for conn in ready:
                i = self.conns.index(conn)
                status, value = self.recv(i)
                if status == "ok":  # the level is done on this worker
                    running.discard(i)
                    self.add_counts(value)
                    self.cur["next_sizes"][i] = value["next_size"]
                    self.cur["rest"] += value["rest"]
                    busy += value["busy_s"]
                    critical = max(critical, value["expand_cpu_s"])
                elif status == "grow":
                    grow = True
                    self.ctrl[PAUSE] = 1
                elif status == "paused":
                    paused.add(i)
            if self.ctrl[PAUSE] and running <= paused:
                if grow:
                    self.new_table(self.table.cap * 2)  # type: ignore[union-attr]
                    self.timing["grows"] += 1
                    grow = False
                elif self.checkpoint_due_at is not None \
                        and time.perf_counter() >= self.checkpoint_due_at:
                    self.checkpoint()
                self.ctrl[PAUSE] = 0
                for i in paused:
                    self.conns[i].send(("resume", None))
                paused.clear()
            if self.progress is not None and time.perf_counter() - last_progress > 0.5:
                last_progress = time.perf_counter()
                inserted = int(self.ctrl[COUNTS:COUNTS + self.n].sum())
                self.progress(Progress(inserted - self.acc["outside"], self.acc["generated"],
                                       self.acc["depth"] + 1, 0, self.elapsed()))
        self.timing["wait_s"] += self.n * (time.perf_counter() - t0) - busy
        self.timing["critical_cpu_s"] += critical

    def add_counts(self, c: dict[str, Any]) -> None:
        acc, cur = self.acc, self.cur
        acc["generated"] += c["generated"]
        acc["outside"] += c["outside"]
        acc["fired"] += c["fired"]
        acc["enabled_many"] += np.array(c["enabled_many"], dtype=np.int64)
        acc["new_by_action"] += c["new_by_action"]
        cur["new"] += c["new"]
        cur["violations"] += c["violations"]
        for key in ("expand_s", "expand_cpu_s", "insert_s", "busy_s"):
            self.timing[key] += c[key]

    def advance(self, sizes: list[int]) -> None:
        """Even out the next frontier between workers, then start the next level."""
        give: list[list[tuple[int, int]]] = [[] for _ in range(self.n)]
        take = [0] * self.n
        total = sum(sizes)
        share = total // self.n
        if max(sizes) > share * (1 + BALANCE_SLACK) + 256:
            surplus = [[i, s - share] for i, s in enumerate(sizes) if s > share]
            for j, s in enumerate(sizes):
                need = share - s
                while need > 0 and surplus:
                    i, extra = surplus[0]
                    count = min(extra, need)
                    give[i].append((j, count))
                    take[j] += 1
                    need -= count
                    surplus[0][1] -= count
                    self.timing["moved"] += count
                    if surplus[0][1] == 0:
                        surplus.pop(0)
        replies = self.call_all("advance", list(zip(give, take)))
        self.timing["critical_cpu_s"] += max(r["balance_s"] for r in replies)
        for r in replies:
            self.timing["balance_s"] += r["balance_s"]
            self.timing["moved_bytes"] += r["moved_bytes"]

    # -- violations and traces -----------------------------------------------------------------
    def record(self, found: list[tuple]) -> bool:
        """Record violations (shortest first, then worker order); True to stop."""
        stop = False
        acc = self.acc
        for name, kind, gid, extra in found:
            if name in acc["violated"]:
                continue
            acc["violated"].add(name)
            acc["violations"].append(Violation(name, kind, self.docs.get(name, ""),
                                               self.trace_to(gid, extra)))
            if (name in self.stop_on) if self.stop_on is not None else not self.keep_going:
                stop = True
                break
        return stop

    def trace_to(self, gid: int, extra: Any = None) -> Trace:
        fps: list[int] = []
        while gid >= 0:
            gid, f = self.call(gid % self.n, "parent", gid // self.n)
            fps.append(f)
        fps.reverse()
        if extra is not None:
            fps.append(self.fp(extra))
        return rebuild_trace(self.spec, fps, self.acc["inits"], fp=self.fp)

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Write ``folder/checkpoint``: every worker its part, the driver its counts."""
        control = self.control
        assert control.folder is not None
        t0 = time.perf_counter()
        folder = control.folder
        tmp, final, old = (folder / "checkpoint.new", folder / "checkpoint",
                           folder / "checkpoint.old")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        errors = [e for e in self.call_all("save", [str(tmp)] * self.n) if e]
        if errors:
            shutil.rmtree(tmp, ignore_errors=True)
            control.checkpoint_error = errors[0]
            return
        snap = dict(self.acc, elapsed=self.elapsed(), cur=self.cur)
        with open(tmp / "driver.pkl", "wb") as f:
            pickle.dump(snap, f, protocol=pickle.HIGHEST_PROTOCOL)
        (tmp / "meta.json").write_text(json.dumps(
            {"format": CHECKPOINT_FORMAT, **control.meta, "workers": self.n}, indent=1,
            default=str))
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        control.checkpoint_written = final
        control.checkpoint_bytes = sum(p.stat().st_size for p in final.rglob("*")
                                       if p.is_file())
        control.checkpoint_seconds = time.perf_counter() - t0
        if control.checkpoint_every_s is not None:
            self.checkpoint_due_at = time.perf_counter() + control.checkpoint_every_s

    def load(self, folder: Path) -> None:
        """Go on from a checkpoint of a run on workers (any number of them)."""
        meta = json.loads((folder / "meta.json").read_text())
        written_by = int(meta.get("workers", 1))
        if not (folder / "driver.pkl").is_file():  # written by one process (bfs)
            self.load_probe(folder)
            return
        with open(folder / "driver.pkl", "rb") as f:
            snap = pickle.load(f)
        if snap["action_names"] != self.action_names:
            raise SpecError(f"spec {self.spec.name!r}: the checkpoint in {folder} was written "
                            f"for other actions ({', '.join(snap['action_names'])}): it cannot "
                            f"be resumed with this spec", spec=self.spec.name)
        self.cur = snap.pop("cur")
        self.cur["next_sizes"] = [0] * self.n  # each worker reports its own at the level end
        self.acc = snap
        if written_by == self.n:
            total = sum(self.call_all("load", [str(folder)] * self.n))
        else:  # another count: worker 0 takes every stored state, the waiting ones are dealt
            loaded = self.call_all("load_parts", [(str(folder), written_by)] * self.n)
            total = sum(r["keys"] for r in loaded)
            c = loaded[0]["counts"]  # the level in hand, as far as the old workers got
            acc = self.acc
            acc["generated"] += c["generated"]
            acc["outside"] += c["outside"]
            acc["fired"] += c["fired"]
            acc["enabled_many"] += np.array(c["enabled_many"], dtype=np.int64)
            acc["new_by_action"] += c["new_by_action"]
            self.cur["new"] += c["new"]
            self.cur["violations"] += c["violations"]
        cap = self.min_cap()
        while total > cap * MAX_LOAD / 2:
            cap *= 2
        self.new_table(cap)
        self.call_all("reinsert")

    def load_probe(self, folder: Path) -> None:
        """Take over a one-process search from its checkpoint (``bfs``'s format): the
        in-process probe's, or a checkpoint of ``check`` without workers."""
        with open(folder / "search.pkl", "rb") as f:
            snap = pickle.load(f)
        if snap["action_names"] != self.action_names:
            raise SpecError(f"spec {self.spec.name!r}: the checkpoint in {folder} was written "
                            f"for other actions ({', '.join(snap['action_names'])}): it cannot "
                            f"be resumed with this spec", spec=self.spec.name)
        meta = json.loads((folder / "store" / "store.json").read_text())
        loaded = self.call_all("load_probe", [str(folder)] * self.n)
        waiting = sum(r["next"] for r in loaded)  # found in the level in hand
        stored = meta["states"]
        starts = meta["level_starts"][:snap["depth"] + 1] + [stored - waiting]
        acc = self.acc
        acc.update(generated=snap["generated"], fired=np.array(snap["fired"], np.int64),
                   enabled_many=np.array(snap["enabled_many"], np.int64),
                   new_by_action=np.array(snap["new_by_action"], np.int64),
                   violations=list(snap["violations"]), violated=set(snap["violated"]),
                   outside=snap["outside_constraint"], depth=snap["depth"],
                   inits=list(snap["inits"]), elapsed=snap["elapsed"],
                   distinct=stored - waiting,
                   level_sizes=np.diff(starts).tolist())
        self.cur["new"] = waiting
        cap = self.min_cap()
        while sum(r["keys"] for r in loaded) > cap * MAX_LOAD / 2:
            cap *= 2
        self.new_table(cap)
        self.call_all("reinsert")

    # -- the result ----------------------------------------------------------------------------
    def result(self, stats: Stats) -> CheckResult:
        spec, acc = self.spec, self.acc
        summaries = self.call_all("summary")
        distinct, generated = acc["distinct"], acc["generated"]
        stats.distinct_states = distinct
        stats.states_generated = generated
        stats.depth = acc["depth"]
        stats.elapsed_s = self.elapsed()
        stats.outside_constraint = acc["outside"]
        stats.peak_rss_bytes = max([peak_rss_bytes()] + [s["peak_rss"] for s in summaries])
        stats.collision_probability = collision_probability(distinct, generated)
        violations = acc["violations"]
        if violations and (not self.keep_going or (self.stop_on is not None
                                                   and acc["violated"] & self.stop_on)):
            stats.complete = False
            stats.stopped_by = stats.stopped_by or "violation"
        coverage = {}
        for i, act in enumerate(spec.actions()):
            fired = int(acc["fired"][i])
            en = int(acc["enabled_many"][i]) if act.many else fired
            coverage[act.name] = ActionCoverage(en, fired, int(acc["new_by_action"][i]))
        result = CheckResult(
            spec=spec.name, params=dict(spec.param_values), variant=spec.variant_name,
            mode="check", violations=violations, stats=stats, coverage=coverage,
            properties_checked=[nm for nm, _ in spec.invariant_fns]
            + [nm for nm, _ in spec.action_property_fns] + (["deadlock"] if self.deadlock
                                                            else []))
        result.parallel = {"workers": self.n, "transport": "processes, shared table",
                           "level_sizes": acc["level_sizes"],
                           "worker_cpu_s": [round(x["cpu_s"], 3) for x in summaries],
                           **{k: (round(v, 4) if isinstance(v, float) else v)
                              for k, v in self.timing.items()}}
        return result

    def close(self) -> None:
        for conn, p in zip(self.conns, self.procs):
            try:
                if p.is_alive():
                    conn.send(("close", None))
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for p in self.procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()  # a worker of ours that did not stop in time
                p.join()
        for conn in self.conns:
            conn.close()
        if self.table is not None:
            self.table.close()
            self.table = None


def check_shared(spec: Spec, *, workers: int, max_depth: int | None = None,
                 max_states: int | None = None, keep_going: bool = False,
                 progress: Callable[[Progress], None] | None = None,
                 until: frozenset[str] | None = None, check_deadlock: bool | None = None,
                 control: SearchControl | None = None, resume: Path | None = None,
                 canon: Callable[[Any], Any] | None = None,
                 probe_states: int = 0) -> CheckResult:
    """:func:`bfs.check` on ``workers`` processes sharing one fingerprint table: the same
    distinct states, depth, verdict and counterexample length. ``resume`` is a checkpoint
    folder written by a run on any number of workers, or by ``bfs.check`` (one process).

    With ``probe_states``, the search starts in this process (``bfs.check``) and returns its
    result if the space has at most about that many states (or the probe ends the search: a
    violation, a limit); otherwise the probe writes a checkpoint after its batch in hand and
    the workers go on from it, so no state is searched twice."""
    if not available():
        raise RuntimeError("the shared fingerprint table needs the compiled fingerprint module")
    deadlock = spec.check_deadlock if check_deadlock is None else check_deadlock
    control = control or SearchControl()
    probe_dir: Path | None = None
    if probe_states > 0 and resume is None:
        probe_dir = Path(tempfile.mkdtemp(prefix="protospec-probe-"))
        probe = _probe(spec, probe_dir, probe_states, max_depth=max_depth,
                       max_states=max_states, keep_going=keep_going, progress=progress,
                       until=until, check_deadlock=check_deadlock, control=control,
                       canon=canon)
        if probe is not None:
            shutil.rmtree(probe_dir, ignore_errors=True)
            return probe
    gc_was_enabled = gc.isenabled()
    gc.disable()
    driver = _Driver(spec, workers, deadlock, canon, control)
    try:
        return driver.run(max_depth, max_states, keep_going or until is not None,
                          None if keep_going else until, progress, resume, probe_dir)
    finally:
        driver.close()
        if probe_dir is not None:
            shutil.rmtree(probe_dir, ignore_errors=True)
        if gc_was_enabled:
            gc.enable()


def _probe(spec: Spec, folder: Path, probe_states: int, *, control: SearchControl,
           progress: Callable[[Progress], None] | None, **kwargs: Any) -> CheckResult | None:
    """Search in this process until ``probe_states`` states (or a stop request, or the time
    limit); return the result if it is final, None if a checkpoint in ``folder``/checkpoint
    waits for the workers."""
    from .bfs import check

    own = SearchControl(folder=folder)
    started = time.perf_counter()

    def watch(p: Progress) -> None:
        if progress is not None:
            progress(p)
        if p.distinct >= probe_states or control.stop_requested or (
                control.time_limit_s is not None
                and time.perf_counter() - started >= control.time_limit_s):
            own.request_stop()  # bfs writes its checkpoint after the batch in hand

    result = check(spec, progress=watch, control=own, **kwargs)
    if result.stats.stopped_by == "interrupted" and own.checkpoint_written is not None:
        return None
    if result.stats.stopped_by == "interrupted":  # states that do not pickle: start over
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        return None
    return result
