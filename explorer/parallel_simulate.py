"""Simulation on several worker processes: independent seeded walks, results set by the seed.

With workers, run ``r`` of a simulation seeded ``S`` is a one-run :func:`simulate` seeded
``S * 2**32 + r``: each walk depends only on ``(S, r)``, never on which worker ran it nor on
how many workers there are. The driver takes the runs' outcomes in run order and stops, as
one process does, at the first run that violates a property (runs computed beyond it are
discarded), so the violations, the number of runs, the distinct states (the union of the
runs' states) and the coverage counts are the same for every number of workers.

These runs differ from ``simulate --seed S`` without ``--workers`` (one random stream for all
runs): ``--workers 1`` gives the per-run-seeded result on one worker.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from collections.abc import Callable
from typing import Any

from .bfs import peak_rss_bytes
from .result import ActionCoverage, CheckResult, Stats
from .simulate import simulate
from .spec import Spec

__all__ = ["run_seed", "simulate_parallel"]

_job: dict[str, Any] = {}  # the spec and options, inherited by the forked workers


def run_seed(seed: int, run: int) -> int:
    """The seed of run ``run`` of a simulation seeded ``seed``."""
    return seed * 2**32 + run


def _one_run(run: int) -> tuple[int, CheckResult, set[int]]:
    job = _job
    seen: set[int] = set()
    result = simulate(job["spec"], runs=1, depth=job["depth"],
                      seed=run_seed(job["seed"], run), keep_going=job["keep_going"],
                      check_deadlock=job["check_deadlock"], swarm=job["swarm"],
                      seen_fps=seen)
    return run, result, seen


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops the pool


def simulate_parallel(spec: Spec, *, workers: int, runs: int = 100, depth: int = 100,
                      seed: int = 0, keep_going: bool = False,
                      check_deadlock: bool | None = None, swarm: bool = False,
                      progress: Callable[[int, int], None] | None = None) -> CheckResult:
    """``runs`` walks on ``workers`` processes; the result depends on ``seed`` only."""
    started = time.perf_counter()
    _job.update(spec=spec, depth=depth, seed=seed, keep_going=keep_going,
                check_deadlock=check_deadlock, swarm=swarm)
    ctx = mp.get_context("fork")
    stats = Stats(complete=False, stopped_by="simulation")
    coverage = {a.name: ActionCoverage() for a in spec.actions()}
    violations = []
    violated: set[str] = set()
    seen: set[int] = set()
    done = 0
    max_depth = 0
    properties: list[str] = []
    pool = ctx.Pool(workers, initializer=_init_worker)
    try:
        chunk = max(1, min(16, runs // (4 * workers)))
        for run, result, run_seen in pool.imap(_one_run, range(runs), chunksize=chunk):
            done = run + 1
            properties = result.properties_checked
            seen |= run_seen
            stats.states_generated += result.stats.states_generated
            max_depth = max(max_depth, result.stats.depth)
            for name, cov in result.coverage.items():
                c = coverage[name]
                c.enabled += cov.enabled
                c.fired += cov.fired
                c.new += cov.new  # new within its run (runs are independent)
            for v in result.violations:
                if v.property not in violated:
                    violated.add(v.property)
                    violations.append(v)
            if progress is not None:
                progress(done, runs)
            if violations and not keep_going:
                break
    finally:
        pool.terminate()
        pool.join()
        _job.clear()
    stats.distinct_states = len(seen)
    stats.depth = max_depth
    stats.elapsed_s = time.perf_counter() - started
    stats.peak_rss_bytes = peak_rss_bytes()
    return CheckResult(spec=spec.name, params=dict(spec.param_values),
                       variant=spec.variant_name, mode="simulate", violations=violations,
                       stats=stats, coverage=coverage, properties_checked=properties,
                       runs=done)
