"""Conformance figures: events validated per second, and how many of 200 seeded runs catch
each bug switch. Not run by the test suite.

    python tests/bench/conformance_bench.py [--runs 200] [TARGET ...]

For each registered implementation (or the ones named): ``--runs`` correct runs with every
fault family (events validated, refinement seconds, events/s), then for every bug switch the
number of the same seeds whose run fails (refinement, the implementation's own checks, or the
clients' history), and the first seed that fails. Nothing is shrunk.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protospec.explorer.conformance import (
    check_events,
    history_problems,
    lookup,
    registered,
)


def measure(name: str, runs: int) -> None:
    target = lookup(name)
    faults = target.fault_families()
    events = 0
    refine_s = 0.0
    for seed in range(runs):
        s = target.random_schedule(seed, nodes=3, faults=faults, bug=None, duration_ms=3000,
                                   ops=20)
        sim = target.run(s)
        r = check_events(target, target.nodes_of(s), None, sim.events, keep_trace=False)
        assert r.ok and not sim.problems and not history_problems(sim), (name, seed)
        events += r.events
        refine_s += r.elapsed_s
    print(f"{name}: {runs} correct runs, {events:,} events validated in {refine_s:.2f} s "
          f"({events / refine_s:,.0f} events/s)")
    for bug in target.bugs():
        caught, first = 0, None
        t0 = time.perf_counter()
        for seed in range(runs):
            s = target.random_schedule(seed, nodes=3, faults=faults, bug=bug,
                                       duration_ms=3000, ops=20)
            sim = target.run(s)
            r = check_events(target, target.nodes_of(s), None, sim.events, keep_trace=False)
            if not r.ok or sim.problems or history_problems(sim):
                caught += 1
                first = seed if first is None else first
        print(f"  bug {bug}: caught in {caught} of {runs} runs (first at seed {first}; "
              f"{time.perf_counter() - t0:.1f} s)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("targets", nargs="*")
    p.add_argument("--runs", type=int, default=200)
    args = p.parse_args()
    for name in args.targets or [t.name for t in registered()]:
        measure(name, args.runs)


if __name__ == "__main__":
    main()
