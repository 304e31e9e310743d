"""Invariant-language benchmark: a compiled expression against the same invariant in Python.

Run:  python tests/bench/invariant_bench.py [--rms 6] [--repeats 7] [--json out.json]

On two_phase_commit (rms = 6: 50,816 reachable states) it compares, in one process:

* ``per state``: evaluating the spec's Python invariant and its invariant-language version
  (tests/explorer/data/invariant_catalogue.toml) on every reachable state, alternating the two
  so that load on the machine hits both alike; for ``atomicity`` (the property a user is most
  likely to restate) and ``type_ok`` (quantifiers, type tests, set inclusion);
* ``whole check``: ``explorer.check`` with only the Python invariant, then with only the
  language's version, which is the cost a user actually sees.

Each figure is the median of --repeats runs; the ratio is language / Python (1.0 = same cost).
Machines are noisy: compare ratios from one run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from protospec.explorer import check  # noqa: E402
from protospec.explorer.invariants import compile_expression  # noqa: E402
from protospec.explorer.loader import load_spec  # noqa: E402

CATALOGUE = ROOT / "tests" / "explorer" / "data" / "invariant_catalogue.toml"
PROPERTIES = ("atomicity", "type_ok")


def reachable(spec) -> list:
    seen = set(spec.init())
    frontier = list(seen)
    while frontier:
        nxt = []
        for s in frontier:
            for _, t in spec.successors(s):
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    return list(seen)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def per_state(spec, states: list, name: str, text: str, repeats: int) -> dict:
    python = getattr(spec, name)
    dsl = compile_expression(spec, text, name=name).fn
    assert [python(s) for s in states] == [dsl(s) for s in states], name
    py_t, dsl_t = [], []
    for _ in range(repeats):
        py_t.append(timed(lambda: [python(s) for s in states]))
        dsl_t.append(timed(lambda: [dsl(s) for s in states]))
    py_m, dsl_m = statistics.median(py_t), statistics.median(dsl_t)
    return {"python_ns_per_state": py_m / len(states) * 1e9,
            "dsl_ns_per_state": dsl_m / len(states) * 1e9, "ratio": dsl_m / py_m}


def whole_check(cls, params: dict, name: str, text: str, repeats: int) -> dict:
    def python_run():
        spec = cls(**params)
        spec.restrict_properties(invariants=[name], action_properties=[])
        return check(spec)

    def dsl_run():
        spec = cls(**params)
        spec.restrict_properties(invariants=[], action_properties=[])
        spec.add_property(name, "invariant",
                          compile_expression(spec, text, name=name).fn)  # compiled per run
        return check(spec)

    py_t, dsl_t = [], []
    distinct = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = python_run()
        py_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        d = dsl_run()
        dsl_t.append(time.perf_counter() - t0)
        assert r.ok and d.ok and r.stats.distinct_states == d.stats.distinct_states
        distinct = r.stats.distinct_states
    py_m, dsl_m = statistics.median(py_t), statistics.median(dsl_t)
    return {"distinct_states": distinct, "python_s": py_m, "dsl_s": dsl_m, "ratio": dsl_m / py_m}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rms", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    exprs = tomllib.loads(CATALOGUE.read_text())["two_phase_commit"]["invariants"]
    cls = load_spec("two_phase_commit")
    params = {"rms": args.rms}
    spec = cls(**params)
    states = reachable(spec)
    print(f"two_phase_commit rms={args.rms}: {len(states):,} reachable states, "
          f"median of {args.repeats} runs")
    out: dict = {"rms": args.rms, "states": len(states), "repeats": args.repeats}
    for name in PROPERTIES:
        ps = per_state(spec, states, name, exprs[name], args.repeats)
        wc = whole_check(cls, params, name, exprs[name], args.repeats)
        out[name] = {"per_state": ps, "whole_check": wc}
        print(f"  {name:10} per state: python {ps['python_ns_per_state']:6.0f} ns, "
              f"language {ps['dsl_ns_per_state']:6.0f} ns, ratio {ps['ratio']:.2f}   "
              f"whole check: python {wc['python_s']:.2f} s, language {wc['dsl_s']:.2f} s, "
              f"ratio {wc['ratio']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
