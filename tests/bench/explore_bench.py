"""Explorer benchmark: protospec's BFS against a deliberately naive reference BFS.

Run:  python tests/bench/explore_bench.py [--rms 3-9] [--repeats 1] [--json out.json]

For each configuration (two_phase_commit with rms = 3..9, and lamport_clock with its
defaults) it runs, each in a fresh subprocess so peak RSS is the run's own:

* ``engine``: ``explorer.check`` — fingerprints in an int64 table, parent links in arrays,
  every invariant checked on every state, per-action coverage recorded;
* ``naive``: the reference — a Python set of whole states and a dict state -> parent state,
  expanding with the *same* spec successor functions, checking no property at all.

It prints distinct states, states/s, peak RSS and bytes per distinct state (peak RSS minus
the RSS before the search, divided by distinct states) for both, and the ratios measured in
the same run: speed engine/naive (target >= 0.9 at rms = 8, 9) and memory per state
engine/naive (target <= 0.25). With --repeats > 1 the medians are reported. Machines are
noisy: compare ratios from one run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_ENGINE = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, {root!r})
    from protospec.explorer import check
    from protospec.explorer.loader import load_spec
    spec = load_spec({spec!r})(**{params!r})
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    r = check(spec)
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert r.ok, r.violations[0].property
    print(json.dumps(dict(distinct=r.stats.distinct_states, depth=r.stats.depth, seconds=dt,
                          rss0=rss0, rss1=rss1)))
    sys.stdout.flush()
    import os; os._exit(0)
""")

_NAIVE = textwrap.dedent("""
    import gc, json, resource, sys, time
    from collections import deque
    sys.path.insert(0, {root!r})
    from protospec.explorer.loader import load_spec
    spec = load_spec({spec!r})(**{params!r})
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    gc.disable()
    t0 = time.perf_counter()
    inits = list(spec.init())
    seen = set(inits)
    parent = dict.fromkeys(inits)
    queue = deque(inits)
    depth_of = dict.fromkeys(inits, 0)
    depth = 0
    while queue:
        s = queue.popleft()
        for _label, t in spec.successors(s):
            if t not in seen:
                seen.add(t)
                parent[t] = s
                queue.append(t)
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(dict(distinct=len(seen), depth=None, seconds=dt, rss0=rss0, rss1=rss1)))
    sys.stdout.flush()
    import os; os._exit(0)
""")


def run_one(kind: str, spec: str, params: dict) -> dict:
    code = (_ENGINE if kind == "engine" else _NAIVE).format(root=str(ROOT), spec=spec,
                                                            params=params)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} run of {spec} {params} failed:\n{out.stderr}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["states_per_s"] = data["distinct"] / data["seconds"]
    data["bytes_per_state"] = max(0, data["rss1"] - data["rss0"]) / data["distinct"]
    return data


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def parse_range(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(x) for x in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rms", default="3-9", help="two_phase_commit sizes, e.g. 3-9 or 7,8")
    ap.add_argument("--repeats", type=int, default=1, help="runs per configuration (median)")
    ap.add_argument("--no-lamport", action="store_true", help="skip lamport_clock")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()
    configs = [("two_phase_commit", {"rms": n}) for n in parse_range(args.rms)]
    if not args.no_lamport and (ROOT / "specs" / "lamport_clock.py").exists():
        configs.append(("lamport_clock", {}))
    header = (f"{'config':<24}{'distinct':>12}{'engine st/s':>13}{'naive st/s':>12}"
              f"{'speed':>7}{'engine B/st':>12}{'naive B/st':>11}{'mem':>6}"
              f"{'engine RSS':>12}{'naive RSS':>11}")
    print(header)
    print("-" * len(header))
    rows = []
    for spec, params in configs:
        eng = [run_one("engine", spec, params) for _ in range(args.repeats)]
        nai = [run_one("naive", spec, params) for _ in range(args.repeats)]
        if eng[0]["distinct"] != nai[0]["distinct"]:
            raise SystemExit(f"{spec} {params}: engine found {eng[0]['distinct']} states, "
                             f"naive {nai[0]['distinct']}")
        row = {
            "spec": spec, "params": params, "distinct": eng[0]["distinct"],
            "depth": eng[0]["depth"],
            "engine_states_per_s": median_of(eng, "states_per_s"),
            "naive_states_per_s": median_of(nai, "states_per_s"),
            "engine_bytes_per_state": median_of(eng, "bytes_per_state"),
            "naive_bytes_per_state": median_of(nai, "bytes_per_state"),
            "engine_peak_rss": median_of(eng, "rss1"),
            "naive_peak_rss": median_of(nai, "rss1"),
        }
        row["speed_ratio"] = row["engine_states_per_s"] / row["naive_states_per_s"]
        row["memory_ratio"] = (row["engine_bytes_per_state"] / row["naive_bytes_per_state"]
                               if row["naive_bytes_per_state"] else float("nan"))
        rows.append(row)
        label = spec + "".join(f" {k}={v}" for k, v in params.items())
        print(f"{label:<24}{row['distinct']:>12,}{row['engine_states_per_s']:>13,.0f}"
              f"{row['naive_states_per_s']:>12,.0f}{row['speed_ratio']:>7.2f}"
              f"{row['engine_bytes_per_state']:>12,.0f}{row['naive_bytes_per_state']:>11,.0f}"
              f"{row['memory_ratio']:>6.2f}{row['engine_peak_rss'] / 2**20:>10,.0f}MB"
              f"{row['naive_peak_rss'] / 2**20:>9,.0f}MB", flush=True)
    print("\nspeed = engine states/s / naive states/s (target >= 0.9 at rms 8, 9); "
          "mem = engine bytes per state / naive (target <= 0.25).")
    print("Small configurations are dominated by start-up and interpreter memory; "
          "the targets are for the large ones.")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
