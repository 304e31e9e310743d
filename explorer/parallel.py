"""Breadth-first search partitioned by fingerprint across worker processes (or Ray actors).

Every distinct state has one *owner*: worker ``fingerprint % N``. Each worker keeps a
:class:`StateStore` partition of the states it owns (fingerprint, parent) and the part of the
frontier it owns. The search is level-synchronous: in one level every worker expands its own
frontier states, sends each successor to its owner, and each owner keeps the successors it has
not stored yet as its part of the next level. Because levels are complete before the next one
starts, the depth of every state is its BFS distance, as in one process: the distinct states,
the depth and the length of the shortest counterexample are the same as :func:`bfs.check`'s.

States are named across partitions by *global ids*: ``local_id * N + owner``. A parent is a
global id, so a counterexample is rebuilt by asking owners for parents back to an initial state
(one round trip per step) and replaying the fingerprints with :func:`bfs.rebuild_trace`.

The hand-off is what decides whether this pays (shared/PERFORMANCE.md: pickled batches of single
states gave 1.07-1.14x). Here a worker sends each peer one message per level: its successors
for that peer, de-duplicated inside the worker first (against everything it generated in this
level and the previous one: a fingerprint sent before is already stored by its owner), packed
as three int64 arrays (fingerprints, parents, actions) and one pickle (protocol 5) of the tuple
of states, whose memo shares equal sub-values. Own successors are never pickled.

Two transports drive the same :class:`Partition`: ``ProcessTransport`` forks worker processes
that exchange messages directly (multiprocessing queues, not through the driver); ``check_ray``
(``parallel_ray.py``) runs partitions as Ray actors whose level outputs go from actor to actor
as object references.

On one machine :func:`check_parallel` uses neither by default: the workers share one
fingerprint table in memory (``parallel_shared.py``), so states need not travel to an owner at
all. This partitioned design is what runs across machines (Ray), and on one machine only where
the compiled fingerprint module is missing (``design="partitioned"`` asks for it).

Not supported by the partitioned design: checkpoints and ``--resume``, spilling the store to
disk, edge logs. A stop request (Ctrl-C) ends the level in hand early and reports the partial
result.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import pickle
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .bfs import (
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
from .fingerprint import UnsupportedValue, collision_probability, fingerprint
from .result import ActionCoverage, CheckResult, Stats, Trace, Violation
from .spec import Spec
from .store import GrowArray, StateStore

__all__ = ["Partition", "check_parallel", "cpu_count", "parse_workers"]

STOP_POLL = 512  # frontier states expanded between two looks at the stop flag
PROBE_STATES = 20_000  # spaces this small are searched in-process (see check_parallel)


def cpu_count() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_workers(text: str) -> int:
    """``--workers`` value: a positive number or ``auto`` (the cores present)."""
    if text == "auto":
        return cpu_count()
    n = int(text)
    if n < 1:
        raise ValueError(f"--workers must be a positive number or auto, got {text}")
    return n


def _fp_function(canon: Callable[[Any], Any] | None) -> Callable[[Any], int]:
    return fingerprint if canon is None else (lambda s: fingerprint(canon(s)))



def stop_workers(conns: Sequence[Any], procs: Sequence[Any]) -> None:
    """Ask each worker process to close, give them two seconds together, kill the ones still
    running, and close the pipes (every driver's last step, after a result or an error)."""
    for conn, p in zip(conns, procs):
        try:
            if p.is_alive():
                conn.send(("close", None))
        except OSError:
            pass
    deadline = time.monotonic() + 2.0
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()  # a worker of ours that did not stop in time
            p.join()
    for conn in conns:
        conn.close()

class Partition:
    """One worker's share of the search: the states whose fingerprint it owns.

    Contract with the transport, per level: ``expand_level(stopped)`` returns one payload per
    worker (``None`` at this worker's own index: kept here, never pickled) and the expansion's
    figures; then ``merge(payloads)`` receives the payload every worker produced for this one,
    in worker order, and returns the merge's figures. ``parent(local_id)`` answers trace walks.
    """

    def __init__(self, spec: Spec, index: int, n: int, deadlock: bool,
                 canon: Callable[[Any], Any] | None = None) -> None:
        self.spec, self.index, self.n, self.deadlock = spec, index, n, deadlock
        self.fp = _fp_function(canon)
        self.store = StateStore()
        self.parents = GrowArray(np.int64)  # global id of each stored state's parent (-1: init)
        self.frontier: list[Any] = []
        self.frontier_first = 0  # local id of frontier[0]
        self.action_names = [a.name for a in spec.actions()]
        self.action_index = {name: i for i, name in enumerate(self.action_names)}
        self.expand = compile_expander(spec, self.action_index, self.fp)
        self.invariants = list(spec.invariant_fns)
        self.action_props = list(spec.action_property_fns)
        self.constraint = spec.constraint
        self.outside: set[int] = set()
        # Fingerprints generated in the previous level (sorted): their owners have them.
        self.prev_seen = np.zeros(0, dtype=np.int64)
        self.own: tuple | None = None
        self.violated: set[str] = set()  # properties this worker has already reported
        self.depth = 0
        gc.disable()  # as bfs: millions of tuples, none freed during the search

    def gid(self, local: int) -> int:
        return local * self.n + self.index

    # -- initial states ----------------------------------------------------------------------
    def add_initial(self, fps: Sequence[int], states: Sequence[Any]) -> dict[str, Any]:
        """The initial states this worker owns (distinct, inside the constraint, in order)."""
        arr = np.array(fps, dtype=np.int64)
        first = len(self.store)
        self.store.add(arr, np.full(len(arr), -1))
        self.parents.extend(np.full(len(arr), -1, dtype=np.int64))
        self.frontier = list(states)
        self.frontier_first = first
        violations = []
        for k, s in enumerate(states):
            violations += self.check_invariants(s, self.gid(first + k))
        return {"new": len(states), "violations": violations}

    def check_invariants(self, state: Any, gid: int) -> list[tuple]:
        out = []
        for name, inv in self.invariants:
            if name in self.violated:
                continue
            try:
                ok = inv(state)
            except Exception as exc:
                raise _WorkerSpecError(_property_failed(self.spec, "invariant", name, exc,
                                                        None), gid) from exc
            if not ok:
                self.violated.add(name)
                out.append((name, "invariant", gid, None))
        return out

    # -- one level ---------------------------------------------------------------------------
    def expand_level(self, stopped: Callable[[], bool]) -> tuple[list[Any], dict[str, Any]]:
        """Expand this worker's frontier; return (payload per worker, figures)."""
        t0, c0 = time.perf_counter(), time.process_time()
        n, me = self.n, self.index
        c_states: list[Any] = []
        c_fps: list[int] = []
        c_act: list[int] = []
        counts: list[int] = []
        add_state, add_fp, add_act = c_states.append, c_fps.append, c_act.append
        enabled_many = [0] * len(self.action_names)
        violations: list[tuple] = []
        expand, action_props, deadlock = self.expand, self.action_props, self.deadlock
        interrupted = False
        expanded = 0
        first = self.frontier_first
        for k, s in enumerate(self.frontier):
            if k % STOP_POLL == 0 and stopped():
                interrupted = True
                break
            start = len(c_fps)
            try:
                expand(s, add_state, add_fp, add_act, enabled_many)
            except Exception as exc:
                raise _WorkerSpecError(_diagnose(self.spec, s, exc, self.depth),
                                       self.gid(first + k)) from exc
            end = len(c_fps)
            counts.append(end - start)
            expanded += 1
            if action_props:
                violations += self.check_steps(s, c_states, start, end, self.gid(first + k))
            if deadlock and end == start and "deadlock" not in self.violated:
                self.violated.add("deadlock")
                violations.append(("deadlock", "deadlock", self.gid(first + k), None))
        t1, c1 = time.perf_counter(), time.process_time()
        fired = np.bincount(np.array(c_act, dtype=np.int64),
                            minlength=len(self.action_names))
        # De-duplicate inside the worker: a fingerprint generated earlier in this level or in
        # the previous one is (or is about to be) stored by its owner, so it is not sent again.
        fps_arr = np.array(c_fps, dtype=np.int64)
        act_arr = np.array(c_act, dtype=np.int64)
        _, first_idx = np.unique(fps_arr, return_index=True)  # sorted by fingerprint
        level_fps = fps_arr[first_idx]
        first_idx.sort()  # back to generation order
        keep = first_idx[~np.isin(fps_arr[first_idx], self.prev_seen, assume_unique=True)]
        self.prev_seen = level_fps
        owners = fps_arr[keep] % n
        picks = [keep[owners == d] for d in range(n)]
        src = np.repeat(np.arange(first, first + expanded, dtype=np.int64) * n + me,
                        np.array(counts, dtype=np.int64))
        payloads: list[Any] = []
        sent = 0
        sent_bytes = 0
        for d in range(n):
            idx = picks[d]
            part = (fps_arr[idx], src[idx], act_arr[idx], [c_states[i] for i in idx.tolist()])
            if d == me:
                self.own = part
                payloads.append(None)
            else:
                blob = pickle.dumps((part[0].tobytes(), part[1].tobytes(), part[2].tobytes(),
                                     tuple(part[3])), protocol=5)
                sent += len(idx)
                sent_bytes += len(blob)
                payloads.append(blob)
        t2 = time.perf_counter()
        return payloads, {
            "generated": len(c_fps), "fired": fired, "enabled_many": enabled_many,
            "violations": violations, "interrupted": interrupted, "sent": sent,
            "sent_bytes": sent_bytes, "kept": len(picks[me]), "expand_s": t1 - t0,
            "pack_s": t2 - t1, "expand_cpu_s": c1 - c0, "pack_cpu_s": time.process_time() - c1}

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
                    raise _WorkerSpecError(
                        _property_failed(self.spec, "action property", name, exc, None), gid,
                        t) from exc
                if not ok:
                    self.violated.add(name)
                    out.append((name, "action_property", gid, t))
        return out

    def merge(self, payloads: Sequence[Any]) -> dict[str, Any]:
        """Keep the successors sent to this worker that it has not stored: the next level."""
        t0 = time.perf_counter()
        fps_parts, par_parts, act_parts, states = [], [], [], []
        for p in payloads:
            if p is None:
                f, par, act, sts = self.own
                self.own = None
            else:
                fb, pb, ab, sts = pickle.loads(p)
                f, par, act = (np.frombuffer(fb, dtype=np.int64),
                               np.frombuffer(pb, dtype=np.int64),
                               np.frombuffer(ab, dtype=np.int64))
            fps_parts.append(f)
            par_parts.append(par)
            act_parts.append(act)
            states.extend(sts)
        t1 = time.perf_counter()
        fps = np.concatenate(fps_parts) if fps_parts else np.zeros(0, np.int64)
        parents = np.concatenate(par_parts) if par_parts else np.zeros(0, np.int64)
        acts = np.concatenate(act_parts) if act_parts else np.zeros(0, np.int64)
        ids = self.store.lookup(fps)
        unknown = np.flatnonzero(ids < 0)
        if len(unknown):
            _, first = np.unique(fps[unknown], return_index=True)
            new_pos = unknown[np.sort(first)]
        else:
            new_pos = unknown
        outside_count = 0
        if self.constraint is not None or self.outside:
            kept = []
            for p in new_pos.tolist():
                f = int(fps[p])
                if f in self.outside:
                    continue
                if self.constraint is not None and not self.constraint(states[p]):
                    outside_count += 1
                    self.outside.add(f)
                    continue
                kept.append(p)
            new_pos = np.array(kept, dtype=np.int64)
        first_new = len(self.store)
        self.store.add(fps[new_pos], np.full(len(new_pos), -1))
        self.parents.extend(parents[new_pos])
        self.frontier = [states[p] for p in new_pos.tolist()]
        self.frontier_first = first_new
        self.depth += 1
        violations: list[tuple] = []
        if self.invariants:
            for k, s in enumerate(self.frontier):
                violations += self.check_invariants(s, self.gid(first_new + k))
        new_by_action = np.bincount(acts[new_pos], minlength=len(self.action_names))
        return {"new": len(new_pos), "violations": violations, "outside": outside_count,
                "new_by_action": new_by_action, "store_bytes": self.store.nbytes
                + self.parents.nbytes, "unpack_s": t1 - t0,
                "merge_s": time.perf_counter() - t1}

    def parent(self, local: int) -> tuple[int, int]:
        """(parent's global id or -1, fingerprint) of the state with this local id."""
        return int(self.parents[local]), int(self.store.fps[local])

    def summary(self) -> dict[str, Any]:
        return {"distinct": len(self.store), "peak_rss": peak_rss_bytes()}


class _WorkerSpecError(Exception):
    """A SpecError raised inside a worker, with the global id of the state it happened at."""

    def __init__(self, err: SpecError, gid: int, extra: Any = None) -> None:
        super().__init__(str(err))
        self.message, self.spec_name, self.action = str(err), err.spec, err.action
        self.depth, self.gid, self.extra = err.depth, gid, extra

    def __reduce__(self):  # picklable across processes (SpecError's cause may not be)
        err = SpecError(self.message, spec=self.spec_name, action=self.action, depth=self.depth)
        return (_WorkerSpecError, (err, self.gid, self.extra))

    def to_spec_error(self) -> SpecError:
        return SpecError(self.message, spec=self.spec_name, action=self.action,
                         depth=self.depth)


# -- the driver (transport-independent) ------------------------------------------------------

class Transport:
    """How the driver reaches the partitions: processes (here) or Ray actors."""

    n: int

    def init(self, per_worker: list[tuple[list[int], list[Any]]]) -> list[dict]: ...
    def level(self) -> list[tuple[dict, dict]]: ...
    def parent(self, owner: int, local: int) -> tuple[int, int]: ...
    def summaries(self) -> list[dict]: ...
    def close(self) -> None: ...


def drive(spec: Spec, transport: Transport, *, max_depth: int | None, max_states: int | None,
          keep_going: bool, progress: Callable[[Progress], None] | None, deadlock: bool,
          stop_on: frozenset[str] | None, control: SearchControl,
          canon: Callable[[Any], Any] | None, mode_note: str) -> CheckResult:
    """The level loop, shared by every transport: initial states, levels, violations, result."""
    started = time.perf_counter()
    n = transport.n
    fp = _fp_function(canon)
    stats = Stats()
    action_names = [a.name for a in spec.actions()]
    fired = np.zeros(len(action_names), dtype=np.int64)
    enabled_many = np.zeros(len(action_names), dtype=np.int64)
    new_by_action = np.zeros(len(action_names), dtype=np.int64)
    docs = spec.property_docs()
    violations: list[Violation] = []
    violated: set[str] = set()
    timing = {"expand_s": 0.0, "pack_s": 0.0, "unpack_s": 0.0, "merge_s": 0.0,
              "expand_cpu_s": 0.0, "pack_cpu_s": 0.0, "sent": 0, "sent_bytes": 0}

    try:
        init_states = list(spec.init())
    except Exception as exc:
        raise SpecError(f"spec {spec.name!r}: init() raised {type(exc).__name__}: {exc}",
                        spec=spec.name, cause=exc) from exc
    if not init_states:
        raise SpecError(f"spec {spec.name!r}: init() yielded no initial state", spec=spec.name)
    per_worker: list[tuple[list[int], list[Any]]] = [([], []) for _ in range(n)]
    seen: set[int] = set()
    inits: list[Any] = []
    for s in init_states:
        try:
            f = fp(s)
        except (UnsupportedValue, TypeError) as exc:
            raise _unsupported_error(spec, "init()", s, 0, exc) from exc
        if f in seen:
            continue
        seen.add(f)
        if spec.constraint is not None and not spec.constraint(s):
            stats.outside_constraint += 1
            continue
        per_worker[f % n][0].append(f)
        per_worker[f % n][1].append(s)
        inits.append(s)
    generated = len(init_states)

    def trace_to(gid: int, extra: Any = None) -> Trace:
        fps: list[int] = []
        while gid >= 0:
            gid, f = transport.parent(gid % n, gid // n)
            fps.append(f)
        fps.reverse()
        if extra is not None:
            fps.append(fp(extra))
        return rebuild_trace(spec, fps, inits, fp=fp)

    def record(found: list[tuple]) -> bool:
        """Record violations (shortest first, then worker order); True to stop."""
        stop = False
        for name, kind, gid, extra in found:
            if name in violated:
                continue
            violated.add(name)
            violations.append(Violation(name, kind, docs.get(name, ""), trace_to(gid, extra)))
            if (name in stop_on) if stop_on is not None else not keep_going:
                stop = True
                break
        return stop

    def worker_error(exc: _WorkerSpecError) -> SpecError:
        err = exc.to_spec_error()
        err.trace = trace_to(exc.gid, exc.extra)
        return err

    distinct = 0
    depth = 0
    level_sizes = []
    try:
        found = []
        for r in transport.init(per_worker):
            distinct += r["new"]
            found += r["violations"]
        level_sizes.append(distinct)
        stop = record(found)
        frontier = distinct
        while frontier and not stop:
            if max_depth is not None and depth >= max_depth:
                stats.complete, stats.stopped_by = False, "max_depth"
                break
            results = transport.level()
            new = 0
            found_steps, found_states = [], []
            interrupted = False
            for x, m in results:
                generated += x["generated"]
                fired += x["fired"]
                enabled_many += np.array(x["enabled_many"], dtype=np.int64)
                found_steps += x["violations"]
                interrupted |= x["interrupted"]
                for key in ("expand_s", "pack_s", "expand_cpu_s", "pack_cpu_s", "sent",
                            "sent_bytes"):
                    timing[key] += x[key]
                new += m["new"]
                found_states += m["violations"]
                new_by_action += m["new_by_action"]
                stats.outside_constraint += m["outside"]
                timing["unpack_s"] += m["unpack_s"]
                timing["merge_s"] += m["merge_s"]
            distinct += new
            frontier = new
            level_sizes.append(new)
            # Deadlocks are at this level's depth, step and state violations one deeper.
            found_steps.sort(key=lambda v: 0 if v[1] == "deadlock" else 1)
            stop = record(found_steps + found_states)
            if new and not interrupted and not stop:
                depth += 1  # as bfs: a search stopped inside a level reports that level
            if interrupted:
                stats.complete, stats.stopped_by = False, control_reason(control, started)
                stats.queued = new
                break
            if max_states is not None and distinct >= max_states and frontier:
                stats.complete, stats.stopped_by = False, "max_states"
                stats.queued = frontier
                break
            if progress is not None:
                progress(Progress(distinct, generated, depth + 1, frontier,
                                  time.perf_counter() - started))
    except _WorkerSpecError as exc:
        raise worker_error(exc) from None
    summaries = transport.summaries()
    stats.distinct_states = distinct
    stats.states_generated = generated
    stats.depth = depth
    stats.elapsed_s = time.perf_counter() - started
    stats.peak_rss_bytes = max([peak_rss_bytes()] + [s["peak_rss"] for s in summaries])
    stats.collision_probability = collision_probability(distinct, generated)
    stats.store_bytes_per_state = 0.0
    if violations and (not keep_going or (stop_on is not None and violated & stop_on)):
        stats.complete = False
        stats.stopped_by = stats.stopped_by or "violation"
    coverage = {}
    for i, act in enumerate(spec.actions()):
        en = int(enabled_many[i]) if act.many else int(fired[i])
        coverage[act.name] = ActionCoverage(en, int(fired[i]), int(new_by_action[i]))
    result = CheckResult(
        spec=spec.name, params=dict(spec.param_values), variant=spec.variant_name,
        mode="check", violations=violations, stats=stats, coverage=coverage,
        properties_checked=[nm for nm, _ in spec.invariant_fns]
        + [nm for nm, _ in spec.action_property_fns] + (["deadlock"] if deadlock else []))
    result.parallel = {"workers": n, "transport": mode_note, "level_sizes": level_sizes,
                       **{k: (round(v, 4) if isinstance(v, float) else v)
                          for k, v in timing.items()}}
    return result


def control_reason(control: SearchControl, started: float) -> str:
    if (control.time_limit_s is not None
            and time.perf_counter() - started >= control.time_limit_s
            and not control.stop_requested):
        return "time_limit"
    return "interrupted"


# -- the process transport -------------------------------------------------------------------

def _worker_main(spec: Spec, index: int, n: int, deadlock: bool, canon: Any, conn: Any,
                 inboxes: list[Any], stop_event: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    part = Partition(spec, index, n, deadlock, canon)
    inbox = inboxes[index]
    while True:
        cmd, arg = conn.recv()
        try:
            if cmd == "init":
                conn.send(("ok", part.add_initial(*arg)))
            elif cmd == "level":
                error = None
                try:
                    payloads, xstats = part.expand_level(stop_event.is_set)
                except _WorkerSpecError as exc:
                    error = exc
                    payloads, xstats = [None] * n, None
                    part.own = (np.zeros(0, np.int64),) * 3 + ([],)
                # Peers wait for one message from every worker per level: always send.
                empty = pickle.dumps((b"", b"", b"", ()), protocol=5)
                for d in range(n):
                    if d != index:
                        inboxes[d].put((index, payloads[d] if payloads[d] is not None
                                        else empty))
                got: dict[int, Any] = {index: None}
                while len(got) < n:
                    src, blob = inbox.get()
                    got[src] = blob
                mstats = part.merge([got[i] for i in range(n)])
                if error is not None:
                    conn.send(("error", error))
                else:
                    conn.send(("ok", (xstats, mstats)))
            elif cmd == "parent":
                conn.send(("ok", part.parent(arg)))
            elif cmd == "summary":
                conn.send(("ok", part.summary()))
            elif cmd == "close":
                conn.send(("ok", None))
                return
        except _WorkerSpecError as exc:
            conn.send(("error", exc))
        except BaseException as exc:  # reported to the driver, which exits 4
            import traceback
            conn.send(("crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
            return


class ProcessTransport(Transport):
    """Forked worker processes; levels' successors go worker to worker through queues."""

    def __init__(self, spec: Spec, n: int, deadlock: bool, canon: Any,
                 control: SearchControl, started: float) -> None:
        ctx = mp.get_context("fork")  # the spec object is inherited, not pickled
        self.n, self.control, self.started = n, control, started
        self.stop_event = ctx.Event()
        # Queue, not SimpleQueue: its feeder thread sends while this worker receives (two
        # workers writing big batches to each other through bare pipes would both block).
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.conns = []
        self.procs = []
        for i in range(n):
            parent_end, child_end = ctx.Pipe()
            p = ctx.Process(target=_worker_main, name=f"protospec-worker-{i}", daemon=True,
                            args=(spec, i, n, deadlock, canon, child_end, self.inboxes,
                                  self.stop_event))
            p.start()
            child_end.close()
            self.conns.append(parent_end)
            self.procs.append(p)

    def _watch_stop(self) -> None:
        c = self.control
        if c.stop_requested or (c.time_limit_s is not None
                                and time.perf_counter() - self.started >= c.time_limit_s):
            self.stop_event.set()

    def _recv(self, i: int) -> Any:
        conn = self.conns[i]
        while not conn.poll(0.05):
            self._watch_stop()
            if not self.procs[i].is_alive():
                raise RuntimeError(f"parallel search: worker {i} died "
                                   f"(exit code {self.procs[i].exitcode})")
        status, value = conn.recv()
        if status == "error":
            raise value
        if status == "crash":
            raise RuntimeError(f"parallel search: worker {i} failed: {value}")
        return value

    def _all(self, cmd: str, args: list[Any] | None = None) -> list[Any]:
        for i, conn in enumerate(self.conns):
            conn.send((cmd, None if args is None else args[i]))
        out, first_error = [], None
        for i in range(self.n):
            try:
                out.append(self._recv(i))
            except _WorkerSpecError as exc:
                first_error = first_error or exc
                out.append(None)
        if first_error is not None:
            raise first_error
        return out

    def init(self, per_worker):
        return self._all("init", per_worker)

    def level(self):
        self._watch_stop()
        return self._all("level")

    def parent(self, owner, local):
        self.conns[owner].send(("parent", local))
        return self._recv(owner)

    def summaries(self):
        return self._all("summary")

    def close(self) -> None:
        stop_workers(self.conns, self.procs)


def check_parallel(spec: Spec, *, workers: int, max_depth: int | None = None,
                   max_states: int | None = None, keep_going: bool = False,
                   progress: Callable[[Progress], None] | None = None,
                   until: frozenset[str] | None = None, check_deadlock: bool | None = None,
                   control: SearchControl | None = None,
                   canon: Callable[[Any], Any] | None = None,
                   probe_states: int = PROBE_STATES, resume: Path | None = None,
                   design: str = "auto") -> CheckResult:
    """:func:`bfs.check` on ``workers`` processes: the same distinct states, depth, verdict
    and counterexample length. ``workers == 1`` runs one worker process too (so that the
    overhead of the scheme itself is measurable).

    Small spaces do not pay for workers: the search first runs in this process for up to
    ``probe_states`` states and returns that result if it is final (complete, a violation, a
    limit). A larger space goes on from where the probe stopped: on the shared table
    (``parallel_shared.py``, the default where the C fingerprint module is built) the workers
    take over the probe's checkpoint; the partitioned design (``design="partitioned"``, as on
    Ray) searches again from the start. ``probe_states=0`` skips the probe. ``resume`` is a
    checkpoint folder of a run on any number of workers or of one process (shared table only).
    """
    from . import parallel_shared

    deadlock = spec.check_deadlock if check_deadlock is None else check_deadlock
    control = control or SearchControl()
    shared = design == "shared" or (design == "auto" and parallel_shared.available())
    if resume is not None and not shared:
        raise RuntimeError("resuming a run on workers needs the shared fingerprint table "
                           "(the compiled fingerprint module)")
    if shared:
        return parallel_shared.check_shared(
            spec, workers=workers, max_depth=max_depth, max_states=max_states,
            keep_going=keep_going, progress=progress, until=until,
            check_deadlock=check_deadlock, control=control, resume=resume, canon=canon,
            probe_states=probe_states)
    if probe_states > 0:
        from .bfs import check

        limit = probe_states if max_states is None else min(max_states, probe_states)
        folder, control.folder = control.folder, None  # no checkpoint of a probe
        try:
            probe = check(spec, max_depth=max_depth, max_states=limit, keep_going=keep_going,
                          progress=progress, until=until, check_deadlock=check_deadlock,
                          control=control, canon=canon)
        finally:
            control.folder = folder
        if probe.stats.stopped_by != "max_states" or limit == max_states:
            return probe
    started = time.perf_counter()
    transport = ProcessTransport(spec, workers, deadlock, canon, control, started)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return drive(spec, transport, max_depth=max_depth, max_states=max_states,
                     keep_going=keep_going or until is not None, progress=progress,
                     deadlock=deadlock, stop_on=None if keep_going else until,
                     control=control, canon=canon, mode_note="processes")
    finally:
        transport.close()
        if gc_was_enabled:
            gc.enable()
