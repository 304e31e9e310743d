"""Speed-up of ``check --workers N`` over one worker, measured in one run (not run by the suite).

    python tests/bench/parallel_bench.py [--quick] [--ray] [--workers 1,2,4]

For each model: the one-process search (``bfs.check``), then ``check_parallel`` with each
worker count (and, with ``--ray``, a local Ray with each count of actors). Prints wall time,
states/s, the speed-up over one worker, where the workers' time went (expanding states,
packing/unpacking hand-offs, merging into the stores, summed over workers), the states sent
to another worker and the bytes on the wire per state sent. Every run's distinct-state count
and depth is checked against the one-process run. The load average is printed: on a shared
machine, compare the ratios of one run, not the absolute times.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protospec.explorer.bfs import check
from protospec.explorer.loader import load_spec
from protospec.explorer.parallel import PROBE_STATES, check_parallel

MODELS = {
    "2PC rms=8": ("two_phase_commit", {"rms": 8}),   # 1,745,408 states (TLC's count)
    "Raft default": ("raft", {}),
    "2PC rms=5 (small)": ("two_phase_commit", {"rms": 5}),  # 8,832
}
QUICK = {
    "2PC rms=7": ("two_phase_commit", {"rms": 7}),  # 296,448
    "Raft max_term=2": ("raft", {"max_term": 2}),
    "2PC rms=5 (small)": ("two_phase_commit", {"rms": 5}),
    "2PC rms=6": ("two_phase_commit", {"rms": 6}),  # 50,816
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller models (minutes, not tens)")
    ap.add_argument("--ray", action="store_true", help="also a local Ray with N actors")
    ap.add_argument("--workers", default="1,2", help="worker counts (default 1,2)")
    ap.add_argument("--only", default=None, help="substring of the model names to run")
    args = ap.parse_args()
    counts = [int(x) for x in args.workers.split(",")]
    models = QUICK if args.quick else MODELS
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()}")
    for label, (name, params) in models.items():
        if args.only and args.only not in label:
            continue
        cls = load_spec(name)
        t = time.perf_counter()
        ref = check(cls(**params))
        base = time.perf_counter() - t
        n = ref.stats.distinct_states
        print(f"\n{label}: {n:,} states, depth {ref.stats.depth}; one process (bfs.check) "
              f"{base:.2f} s, {n / base:,.0f} states/s; load {os.getloadavg()[0]:.1f}")
        one_worker = None
        runs = [("processes", w) for w in counts]
        if args.ray:
            runs += [("ray", w) for w in counts]
        for how, w in runs:
            t = time.perf_counter()
            if how == "ray":
                from protospec.explorer.parallel_ray import check_ray
                r = check_ray(cls(**params), address="auto", workers=w)
            else:
                r = check_parallel(cls(**params), workers=w, probe_states=0)
            wall = time.perf_counter() - t
            assert (r.stats.distinct_states, r.stats.depth) == (n, ref.stats.depth), label
            p = r.parallel
            if how == "processes" and w == 1:
                one_worker = wall
            speed = f"{one_worker / wall:.2f}x vs 1 worker" if one_worker else ""
            per_sent = p["sent_bytes"] / p["sent"] if p["sent"] else 0
            print(f"  {how:9} {w} worker(s): {wall:7.2f} s {n / wall:10,.0f} states/s "
                  f"{speed:>18}  {base / wall:.2f}x vs bfs | summed over workers: expand "
                  f"{p['expand_s']:.2f} s (cpu {p['expand_cpu_s']:.2f}), pack {p['pack_s']:.2f} s "
                  f"(cpu {p['pack_cpu_s']:.2f}), unpack "
                  f"{p['unpack_s']:.2f} s, merge {p['merge_s']:.2f} s | sent {p['sent']:,} "
                  f"states ({p['sent'] / max(1, r.stats.states_generated):.0%} of "
                  f"generated), {per_sent:.0f} B/state; load {os.getloadavg()[0]:.1f}")

        if n <= PROBE_STATES:  # what a user gets: the in-process probe answers small spaces
            t = time.perf_counter()
            check_parallel(cls(**params), workers=2)
            wall = time.perf_counter() - t
            print(f"  default   2 worker(s) (in-process probe): {wall:7.2f} s, "
                  f"{one_worker / wall if one_worker else 0:.2f}x vs 1 worker, "
                  f"{base / wall:.2f}x vs bfs")


if __name__ == "__main__":
    main()
