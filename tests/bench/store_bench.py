"""State-store benchmark: the engine before issue #14 (hash() fingerprints, a fingerprint set)
against this tree (structural fingerprints, the StateStore), in one run.

Run:  python tests/bench/store_bench.py [--before REF] [--configs NAME ...] [--json out.json]

``--before`` is a git ref whose tree is exported with ``git archive`` into a temporary folder;
its engine runs from there. By default it is the engine just before issue #14: the parent of
the commit that added ``explorer/store.py``. Both sides run the safety search
(``explorer.bfs.check``), not the liveness wrapper, which records edges when a spec declares
temporal properties. Each measurement is a fresh subprocess (so peak
RSS is the run's own):

* ``before`` / ``after``: a whole ``check`` of the configuration: distinct states, seconds,
  states/s, bytes per distinct state (peak RSS minus RSS before the search, over distinct
  states); for ``after`` also the store's own arrays per state (``store_bytes_per_state``);
* ``checkpoint``: this tree's search stopped at half the states (a stop request, as SIGINT
  does) with a run folder: the checkpoint's size on disk and the time to write it;
* ``fingerprint cost``: ``fingerprint()`` and ``hash()`` timed over the same successors (the
  first 100,000 generated, in search order), and the difference times the run's generated
  successors, as a share of the ``after`` run's time;
* ``--hash-run``: this engine once more with ``hash()`` in place of ``fingerprint()``, for the
  fingerprint's end-to-end cost measured directly;
* ``edges``: bytes per edge of the edge log (``record_edges``) on two_phase_commit rms=6.

The machines these run on are shared and noisy: read ratios from one run, not absolute figures
across runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFIGS = {
    "2pc-5": ("two_phase_commit", {"rms": 5}),  # a quick smoke run, not in the default set
    "2pc-7": ("two_phase_commit", {"rms": 7}),
    "2pc-8": ("two_phase_commit", {"rms": 8}),
    "paxos-b3": ("paxos", {"ballots": 3}),
    "raft": ("raft", {}),
}

_RUN = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, {root!r})
    from protospec.explorer.bfs import check
    from protospec.explorer.loader import load_spec
    if {with_hash!r}:  # this engine, but with hash() in place of the structural fingerprint
        import protospec.explorer.bfs as bfs
        bfs.fingerprint = hash
    spec = load_spec({spec!r})(**{params!r})
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    r = check(spec)
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(dict(distinct=r.stats.distinct_states, generated=r.stats.states_generated,
                          depth=r.stats.depth, seconds=dt, rss0=rss0, rss1=rss1, ok=r.ok,
                          store_bytes_per_state=getattr(r.stats, "store_bytes_per_state", None))))
    sys.stdout.flush()
    import os; os._exit(0)
""")

_CHECKPOINT = textwrap.dedent("""
    import json, sys, tempfile
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from protospec.explorer.bfs import SearchControl, check
    from protospec.explorer.loader import load_spec
    spec = load_spec({spec!r})(**{params!r})
    control = SearchControl(folder=Path(tempfile.mkdtemp()))
    def progress(p):
        if p.distinct >= {half}:
            control.request_stop()
    r = check(spec, progress=progress, control=control)
    print(json.dumps(dict(distinct=r.stats.distinct_states, bytes=control.checkpoint_bytes,
                          seconds=control.checkpoint_seconds, stopped_by=r.stats.stopped_by)))
    sys.stdout.flush()
    import os; os._exit(0)
""")

_FP_COST = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {root!r})
    from protospec.explorer.fingerprint import fingerprint
    from protospec.explorer.loader import load_spec
    spec = load_spec({spec!r})(**{params!r})
    frontier, seen, sample = list(spec.init()), set(), []
    while frontier and len(sample) < 100_000:
        nxt = []
        for s in frontier:
            for _, t in spec.successors(s):
                sample.append(t)
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    best = {{}}
    for _ in range(5):
        for name, f in (("hash", hash), ("fingerprint", fingerprint)):
            t0 = time.perf_counter()
            for t in sample:
                f(t)
            ns = (time.perf_counter() - t0) / len(sample) * 1e9
            best[name] = min(best.get(name, ns), ns)
    print(json.dumps(best))
""")

_EDGES = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    from protospec.explorer.bfs import explore
    from protospec.explorer.loader import load_spec
    spec = load_spec("two_phase_commit")(rms=6)
    plain = explore(spec).store
    logged = explore(spec, record_edges=True).store
    edge_bytes = sum(getattr(logged, n).view().nbytes for n in ("edge_src", "edge_dst",
                                                                 "edge_label"))
    print(json.dumps(dict(states=len(plain), edges=logged.edge_count,
                          bytes_per_edge=edge_bytes / logged.edge_count,
                          store_bytes_per_state=plain.nbytes / len(plain),
                          labels=len(logged.labels))))
""")


def _python(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark subprocess failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def before_store() -> str:
    """The parent of the commit that added explorer/store.py: the engine before issue #14."""
    out = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--",
                          "explorer/store.py"], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()[-1] + "^"


def export_tree(ref: str) -> Path:
    """The tree of ``ref`` in a temporary folder (the engine as it was)."""
    folder = Path(tempfile.mkdtemp(prefix="protospec-before-"))
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=None,
                    help="git ref of the engine to compare with (default: the engine before "
                         "the state store was added)")
    ap.add_argument("--configs", nargs="*", default=[k for k in CONFIGS if k != "2pc-5"],
                    choices=list(CONFIGS))
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--hash-run", action="store_true",
                    help="also run this engine with hash() instead of fingerprint(): the "
                         "fingerprint's end-to-end cost, measured directly")
    args = ap.parse_args()
    before_root = export_tree(args.before or before_store())
    rows = []
    header = (f"{'config':<10}{'distinct':>11}{'before st/s':>12}{'after st/s':>11}"
              f"{'speed':>7}{'before B/st':>12}{'after B/st':>11}{'store B/st':>11}"
              f"{'ckpt MiB':>9}{'ckpt s':>7}{'fp ns':>7}{'hash ns':>8}{'fp share':>9}")
    print(header)
    print("-" * len(header), flush=True)
    for key in args.configs:
        spec, params = CONFIGS[key]
        fill = dict(spec=spec, params=params)
        before = _python(_RUN.format(root=str(before_root), with_hash=False, **fill))
        after = _python(_RUN.format(root=str(ROOT), with_hash=False, **fill))
        if args.hash_run:
            hashed = _python(_RUN.format(root=str(ROOT), with_hash=True, **fill))
            print(f"{key}: this engine with hash() {hashed['seconds']:.1f} s, with "
                  f"fingerprint() {after['seconds']:.1f} s "
                  f"({after['seconds'] / hashed['seconds'] - 1:+.1%})", flush=True)
        if before["distinct"] != after["distinct"]:
            raise SystemExit(f"{key}: before found {before['distinct']} states, after "
                             f"{after['distinct']}")
        ckpt = _python(_CHECKPOINT.format(root=str(ROOT), half=after["distinct"] // 2, **fill))
        cost = _python(_FP_COST.format(root=str(ROOT), **fill))
        for r in (before, after):
            r["states_per_s"] = r["distinct"] / r["seconds"]
            r["bytes_per_state"] = max(0, r["rss1"] - r["rss0"]) / r["distinct"]
        extra_s = (cost["fingerprint"] - cost["hash"]) * 1e-9 * after["generated"]
        row = {"config": key, "spec": spec, "params": params, "distinct": after["distinct"],
               "generated": after["generated"], "before": before, "after": after,
               "checkpoint": ckpt, "fingerprint_ns": cost["fingerprint"],
               "hash_ns": cost["hash"], "fingerprint_share": extra_s / after["seconds"],
               "speed_ratio": after["states_per_s"] / before["states_per_s"]}
        rows.append(row)
        print(f"{key:<10}{row['distinct']:>11,}{before['states_per_s']:>12,.0f}"
              f"{after['states_per_s']:>11,.0f}{row['speed_ratio']:>7.2f}"
              f"{before['bytes_per_state']:>12,.0f}{after['bytes_per_state']:>11,.0f}"
              f"{after['store_bytes_per_state']:>11,.1f}{ckpt['bytes'] / 2**20:>9,.1f}"
              f"{ckpt['seconds']:>7.2f}{cost['fingerprint']:>7,.0f}{cost['hash']:>8,.0f}"
              f"{row['fingerprint_share']:>9.1%}", flush=True)
    edges = _python(_EDGES.format(root=str(ROOT)))
    print(f"\nEdge log (two_phase_commit rms=6): {edges['edges']:,} edges, "
          f"{edges['bytes_per_edge']:.1f} B/edge, {edges['labels']} labels; store without "
          f"edges {edges['store_bytes_per_state']:.1f} B/state")
    print("speed = after states/s / before states/s; B/st = peak RSS growth per distinct "
          "state; store B/st = the store's arrays; ckpt = checkpoint at half the states; "
          "fp share = (fingerprint - hash) ns x generated successors / after's run time.")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "edges": edges}, indent=2) + "\n")


if __name__ == "__main__":
    main()
