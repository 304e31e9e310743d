"""Speed-up of ``check --workers N`` over one process, measured in one run (not run by the suite).

    python tests/bench/parallel_bench.py [--quick] [--workers 1,2,4] [--ray] [--only TEXT]

For each model, in one run: ``check --workers 1`` as the CLI runs it (``bfs.check`` in this
process), then ``check_parallel`` with each worker count as ``check --workers N`` runs it (the
in-process probe first, then N forked workers sharing one fingerprint table), ``--workers 1``
of that scheme too (one forked worker: the scheme's own overhead), and, with ``--ray``, a local
Ray with N actors (the partitioned design). Every run's distinct states, states generated and
depth are checked against the one-process run. Small spaces (under 2 s) are timed as the
median of 7 runs.

Per run it prints wall time, states/s, the speed-up, and where the workers' time went, summed
over workers: CPU seconds (load-independent: compare the sum for N workers with one worker's to
see the work the scheme adds), expanding states, inserting into the shared table and storing
(with invariants), waiting at level barriers, rebalancing, and the states moved between
workers. The load average is printed: on a shared machine, ratios of CPU seconds are the
trustworthy figures; wall-time speed-ups need a quiet machine. The closing lines give, per
model, ``SPEED-UP`` of ``--workers 2`` over ``--workers 1`` against the goal (>= 1.6x on
2 cores for the large models, >= 1.0x on the small one).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protospec.explorer.bfs import check
from protospec.explorer.loader import load_spec
from protospec.explorer.parallel import PROBE_STATES, check_parallel

MODELS = {
    "2PC rms=8": ("two_phase_commit", {"rms": 8}),   # 1,745,408 states (TLC's count)
    "Raft default": ("raft", {}),                    # 666,588
    "2PC rms=5 (small)": ("two_phase_commit", {"rms": 5}),  # 8,832
}
QUICK = {
    "2PC rms=7": ("two_phase_commit", {"rms": 7}),  # 296,448
    "Raft max_term=2": ("raft", {"max_term": 2}),
    "2PC rms=5 (small)": ("two_phase_commit", {"rms": 5}),
}
GOAL = 1.6


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def describe(r, wall: float, base: float) -> str:
    p = getattr(r, "parallel", None)
    n = r.stats.distinct_states
    head = f"{wall:7.2f} s {n / wall:9,.0f} states/s {base / wall:5.2f}x"
    if p is None:
        return head + " (answered in-process by the probe)"
    if p["transport"] == "ray" or "sent" in p:
        return (head + f" | expand {p['expand_s']:.1f} s, pack {p['pack_s']:.1f} s, unpack "
                f"{p['unpack_s']:.1f} s, merge {p['merge_s']:.1f} s | sent {p['sent']:,} states")
    cpu = sum(p["worker_cpu_s"])
    return (head + f" | workers' cpu {cpu:.1f} s ("
            + " + ".join(f"{c:.1f}" for c in p["worker_cpu_s"]) + f"), expand "
            f"{p['expand_s']:.1f} s, insert+store {p['insert_s']:.1f} s, barrier wait "
            f"{p['wait_s']:.1f} s, rebalance {p['balance_s']:.2f} s, critical path "
            f"{p['critical_cpu_s']:.1f} cpu s | moved {p['moved']:,} "
            f"states ({p['moved'] / max(1, n):.1%}), {p['grows']} table grows | peak memory "
            f"of a process {r.stats.peak_rss_bytes / 2**20:,.0f} MiB")


def bfs_wall(cls, params) -> float:
    t = time.perf_counter()
    check(cls(**params))
    return time.perf_counter() - t


def parallel_wall(cls, params, w: int, how: str) -> float:
    t = time.perf_counter()
    check_parallel(cls(**params), workers=w, probe_states=0 if how == "scheme" else PROBE_STATES)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller models (minutes, not tens)")
    ap.add_argument("--ray", action="store_true", help="also a local Ray with N actors")
    ap.add_argument("--workers", default="2", help="worker counts beyond 1 (default 2)")
    ap.add_argument("--only", default=None, help="substring of the model names to run")
    args = ap.parse_args()
    counts = [int(x) for x in args.workers.split(",") if int(x) > 1]
    models = QUICK if args.quick else MODELS
    print(f"cores: {os.cpu_count()}, load average at start: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    verdicts = []
    crit: dict[str, float] = {}
    for label, (name, params) in models.items():
        if args.only and args.only not in label:
            continue
        cls = load_spec(name)
        t = time.perf_counter()
        c0 = time.process_time()
        ref = check(cls(**params))
        base = time.perf_counter() - t
        base_cpu = time.process_time() - c0
        repeat = 7 if base < 2.0 else 1  # small spaces: medians of several runs
        if repeat > 1:
            base = median(bfs_wall(cls, params) for _ in range(repeat))
        n = ref.stats.distinct_states
        print(f"\n{label}: {n:,} states, depth {ref.stats.depth}")
        print(f"  --workers 1 (one process, bfs.check):  {base:7.2f} s {n / base:9,.0f} "
              f"states/s  1.00x | cpu {base_cpu:.1f} s | peak memory "
              f"{ref.stats.peak_rss_bytes / 2**20:,.0f} MiB; {load()}")
        runs = [("scheme", 1)] + [("processes", w) for w in counts]
        if args.ray:
            runs += [("ray", w) for w in [1, *counts]]
        walls: dict[tuple[str, int], float] = {}
        for how, w in runs:
            t = time.perf_counter()
            c1 = time.process_time()
            if how == "ray":
                from protospec.explorer.parallel_ray import check_ray
                r = check_ray(cls(**params), address="auto", workers=w)
            else:  # "processes" is what `check --workers N` runs: the probe, then workers
                r = check_parallel(cls(**params), workers=w,
                                   probe_states=0 if how == "scheme" else PROBE_STATES)
            wall = time.perf_counter() - t
            if repeat > 1 and how != "ray":
                wall = median(parallel_wall(cls, params, w, how) for _ in range(repeat))
            assert (r.stats.distinct_states, r.stats.states_generated, r.stats.depth) == (
                n, ref.stats.states_generated, ref.stats.depth), (label, how, w)
            walls[how, w] = wall
            p = getattr(r, "parallel", None)
            if how == "processes" and w == 2 and p is not None and "critical_cpu_s" in p:
                # What an idle machine would show: the workers' longest path in CPU seconds
                # (per level, the slowest worker) plus the probe's and driver's CPU here.
                crit[label] = p["critical_cpu_s"] + (time.process_time() - c1)
            name_ = {"scheme": "1 forked worker (the scheme's overhead)",
                     "processes": f"--workers {w}", "ray": f"--ray auto, {w} actor(s)"}[how]
            print(f"  {name_:39} {describe(r, wall, base)}; {load()}")
        if ("processes", 2) in walls:
            speed = base / walls["processes", 2]
            goal = 1.0 if "small" in label else GOAL
            verdicts.append(f"SPEED-UP {label}: --workers 2 is {speed:.2f}x --workers 1 "
                            f"({base:.2f} s -> {walls['processes', 2]:.2f} s; "
                            f"{walls['scheme', 1] / walls['processes', 2]:.2f}x one forked "
                            f"worker); goal >= {goal}x: {'met' if speed >= goal else 'NOT met'}"
                            f"; {load()}")
            if label in crit:
                verdicts.append(f"  (load-independent estimate from CPU seconds: bfs cpu "
                                f"{base_cpu:.1f} s / critical path {crit[label]:.1f} s = "
                                f"{base_cpu / crit[label]:.2f}x)")
    print()
    for line in verdicts:
        print(line)


if __name__ == "__main__":
    main()
