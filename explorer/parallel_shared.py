"""Breadth-first search on worker processes that share one fingerprint set: no state moves.

The workers are forked processes (``parallel_worker.py``). Every one of them maps the same
*seen set*: an open-addressing table of 64-bit fingerprints in a shared file mapping, into which
a worker inserts with an atomic compare-and-swap (``table_insert`` of the C fingerprint
module). Of the workers that generate a state, the one whose insert wins *owns* it: it stores
the state's fingerprint and parent in its own arrays and keeps the state in its own next
frontier. So a successor never travels to an owner chosen by its fingerprint (the partitioned
design of ``parallel.py``, where packing and unpacking states cost more than generating them);
only per-level counts go to the driver, and parent links when a counterexample is rebuilt.

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
    _unsupported_error,
    peak_rss_bytes,
    rebuild_trace,
)
from .errors import SpecError
from .fingerprint import UnsupportedValue, collision_probability, table_insert
from .parallel import stop_workers
from .parallel_worker import (
    BATCH,
    COUNTS,
    MAX_LOAD,
    PAUSE,
    STOP,
    SharedTable,
    WorkerSpecError,
    fp_function,
    worker_main,
)
from .result import ActionCoverage, CheckResult, Stats, Trace, Violation
from .spec import Spec

__all__ = ["available", "check_shared"]

BALANCE_SLACK = 0.04  # a next frontier within 4% (and 256 states) of its share stays put


def available() -> bool:
    """True when the shared table can be used (the compiled fingerprint module is loaded)."""
    return table_insert is not None


# -- the driver --------------------------------------------------------------------------------

class _Driver:
    """Starts the workers, runs the levels, grows the table, writes checkpoints, builds the
    result. Everything it keeps across a checkpoint is in ``self.acc`` and ``self.cur``."""

    def __init__(self, spec: Spec, n: int, deadlock: bool, canon: Any,
                 control: SearchControl) -> None:
        self.spec, self.n, self.deadlock, self.canon, self.control = (spec, n, deadlock, canon,
                                                                      control)
        self.fp = fp_function(canon)
        self.started = time.perf_counter()
        self.elapsed_at_start = 0.0
        self.action_names = [a.name for a in spec.actions()]
        na = len(self.action_names)
        # Totals over finished levels and workers (``cur``: the level in hand).
        self.acc: dict[str, Any] = {
            "generated": 0, "distinct": 0, "outside": 0, "depth": 0,
            "fired": np.zeros(na, np.int64), "enabled_many": np.zeros(na, np.int64),
            "new_by_action": np.zeros(na, np.int64), "violations": [], "violated": set(),
            "level_sizes": [], "elapsed": 0.0, "inits": [], "action_names": self.action_names,
            "witnessed": set()}
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
            p = ctx.Process(target=worker_main, name=f"protospec-worker-{i}", daemon=True,
                            args=(spec, i, n, deadlock, canon, self.ctrl_mm, child_end,
                                  self.inboxes))
            p.start()
            child_end.close()
            self.conns.append(parent_end)
            self.procs.append(p)
        self.table: SharedTable | None = None
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
            except WorkerSpecError as exc:
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
        table = SharedTable.create(cap)
        path = table.path
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
        except WorkerSpecError as exc:
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
            self.acc["witnessed"].update(r["witnessed"])
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
        error: WorkerSpecError | None = None
        while running:
            self.watch()
            ready = mp.connection.wait([self.conns[i] for i in running - paused], 0.05)
            for conn in ready:
                i = self.conns.index(conn)
                try:
                    status, value = self.recv(i)
                except WorkerSpecError as exc:
                    # The spec failed on this worker: stop the others (their replies must be
                    # read before the trace walk asks them for parents), then report it.
                    error = error or exc
                    running.discard(i)
                    self.ctrl[STOP] = 1
                    continue
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
                elif self.checkpoint_due_at is not None and error is None \
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
        if error is not None:
            raise error

    def add_counts(self, c: dict[str, Any]) -> None:
        acc, cur = self.acc, self.cur
        acc["generated"] += c["generated"]
        acc["outside"] += c["outside"]
        acc["fired"] += c["fired"]
        acc["enabled_many"] += np.array(c["enabled_many"], dtype=np.int64)
        acc["new_by_action"] += c["new_by_action"]
        cur["new"] += c["new"]
        cur["violations"] += c["violations"]
        acc["witnessed"].update(c["witnessed"])
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
        snap.setdefault("witnessed", set())
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
            acc["witnessed"].update(c.get("witnessed", []))
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
                   witnessed=set((snap.get("observer") or {}).get("witness", {})),
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
        sometimes = [name for name, _ in spec.sometimes_fns]
        if sometimes and stats.complete:
            violations = violations + [
                Violation(name, "sometimes", self.docs.get(name, ""),
                          Trace([], spec=spec.name, params=dict(spec.param_values),
                                variant=spec.variant_name))
                for name in sometimes if name not in acc["witnessed"]]
        elif sometimes:
            stats.liveness_unchecked = (f"not checked: the search was incomplete "
                                        f"({stats.incomplete_reason}), and a sometimes "
                                        f"property needs every reachable state")
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
                                                            else []) + sometimes)
        result.parallel = {"workers": self.n, "transport": "processes, shared table",
                           "level_sizes": acc["level_sizes"],
                           "worker_cpu_s": [round(x["cpu_s"], 3) for x in summaries],
                           **{k: (round(v, 4) if isinstance(v, float) else v)
                              for k, v in self.timing.items()}}
        return result

    def close(self) -> None:
        stop_workers(self.conns, self.procs)
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
    from .liveness.run import check as check_sometimes

    own = SearchControl(folder=folder)
    started = time.perf_counter()

    def watch(p: Progress) -> None:
        if progress is not None:
            progress(p)
        if p.distinct >= probe_states or control.stop_requested or (
                control.time_limit_s is not None
                and time.perf_counter() - started >= control.time_limit_s):
            own.request_stop()  # bfs writes its checkpoint after the batch in hand

    # With @sometimes properties the probe records their witnesses (liveness.run does it), so
    # a final result judges them and a checkpoint carries them over to the workers.
    result = check_sometimes(spec, liveness=False, progress=watch, control=own, **kwargs)
    if result.stats.stopped_by == "interrupted" and own.checkpoint_written is not None:
        return None
    if result.stats.stopped_by == "interrupted":  # states that do not pickle: start over
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        return None
    return result
