"""Liveness benchmark: what checking liveness costs over a safety-only run, per edge and in time.

Run:  python tests/bench/liveness_bench.py [--only raft|2pc] [--json out.json]

Configurations (the issue's): Raft's default bounds (3 servers, max_term=3, max_log_length=2,
max_msgs=1; liveness property ``electable_candidate_wins``) and two_phase_commit with rms=7
(``every_rm_decides``). Each is run twice, each time in a fresh subprocess so that peak RSS is
the run's own:

* ``safety``: the temporal properties removed (``restrict_properties(temporal=[])``): the plain
  breadth-first search, no predicate recorded, no edge logged;
* ``liveness``: ``explorer.check`` with the spec's liveness properties: predicates recorded per
  state, every step logged in the store's edge log, then the fair-cycle check.

It prints distinct states, logged edges, the search time and the liveness check's own time,
peak RSS, and the ratios measured in the same run: time liveness/safety, and extra peak memory
per logged edge ((peak RSS liveness - peak RSS safety) / edges). The machine is shared: take
ratios from one run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFIGS = {
    "raft": ("raft", {}),
    "2pc": ("two_phase_commit", {"rms": 7}),
}

_RUN = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, {root!r})
    from protospec.explorer import check
    from protospec.explorer.loader import load_spec
    spec = load_spec({spec!r})(**{params!r})
    if {mode!r} == "safety":
        spec.restrict_properties(temporal=[])
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    r = check(spec)
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert r.ok, [v.property for v in r.violations]
    s = r.stats
    print(json.dumps(dict(distinct=s.distinct_states, edges=s.edges, seconds=dt,
                          liveness_s=s.liveness_s, liveness_bytes=s.liveness_bytes,
                          store_bytes_per_state=s.store_bytes_per_state,
                          checked=r.properties_checked, rss0=rss0, rss1=rss1)))
    sys.stdout.flush()
    import os; os._exit(0)
""")


def run(spec: str, params: dict, mode: str) -> dict:
    code = _RUN.format(root=str(ROOT), spec=spec, params=params, mode=mode)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(CONFIGS))
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    rows = []
    for key, (spec, params) in CONFIGS.items():
        if args.only and key != args.only:
            continue
        safety = run(spec, params, "safety")
        live = run(spec, params, "liveness")
        assert safety["distinct"] == live["distinct"]
        extra = live["rss1"] - safety["rss1"]
        row = {
            "config": key, "distinct": live["distinct"], "edges": live["edges"],
            "safety_s": round(safety["seconds"], 2), "liveness_run_s": round(live["seconds"], 2),
            "liveness_check_s": round(live["liveness_s"], 2),
            "time_ratio": round(live["seconds"] / safety["seconds"], 2),
            "safety_peak_mib": round(safety["rss1"] / 2**20, 1),
            "liveness_peak_mib": round(live["rss1"] / 2**20, 1),
            "extra_bytes_per_edge": round(extra / live["edges"], 1) if live["edges"] else None,
            "edge_log_bytes_per_edge": 12,
            "edges_per_state": round(live["edges"] / live["distinct"], 2),
        }
        rows.append(row)
        print(f"{key}: {row['distinct']:,} states, {row['edges']:,} edges "
              f"({row['edges_per_state']} per state)")
        print(f"  time: safety {row['safety_s']} s, with liveness {row['liveness_run_s']} s "
              f"(of which the fair-cycle check {row['liveness_check_s']} s): "
              f"x{row['time_ratio']}")
        print(f"  peak memory: safety {row['safety_peak_mib']} MiB, with liveness "
              f"{row['liveness_peak_mib']} MiB: {row['extra_bytes_per_edge']} B more per edge "
              f"(edge log 12 B/edge)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
