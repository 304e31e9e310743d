"""Single-core speed: protospec on a readable spec against a hand-written successor function.

Run:  python tests/bench/speed_bench.py [--only twophase7,twophase8,paxos3,raft] [--plain]
      [--repeats N] [--json out.json]

Issue 23's yardstick. For TwoPhase with 7 and 8 resource managers and Paxos with ballots
{0, 1, 2} it runs, each in a fresh process, protospec's search on the spec in ``specs/`` and
the hand-tuned reference (``reference_twophase.py``, ``reference_paxos.py``: plain tuples, the
same transitions, the same invariants checked on every new state), and prints both times and
their ratio; for Raft's default parameters (no reference) protospec's time alone.

What is timed:

* ``search``: CPU time (``time.process_time``) of the search call inside the process, spec
  already loaded: ``protospec.check(spec, liveness=False)`` with the spec's temporal
  properties switched off (``restrict_temporal([])``), so both sides check exactly the
  invariants -- safety only, as the reference;
* ``process``: CPU time of the whole child process (interpreter start, imports, search, exit)
  from ``resource.getrusage(RUSAGE_CHILDREN)``.

CPU time, not wall time, because the machine is shared: another process on the same core
slows wall time, not CPU time. The ratio protospec/reference is the figure issue 23 targets
(<= 1.5 on TwoPhase rms 8 and Paxos ballots=3); compare ratios from one run. ``--plain`` also
runs protospec with ``PROTOSPEC_PLAIN_EXPANDER=1`` (every action called as a method, no C
emitter, no remembered invariants: the engine before issue 23 except that waiting levels are
pickled as rows, which both runs share) to show what those gain in the same run. Both sides
must report the same distinct-state count, or the bench stops with an error.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFIGS = {
    "twophase7": ("two_phase_commit", {"rms": 7}, "reference_twophase", 7),
    "twophase8": ("two_phase_commit", {"rms": 8}, "reference_twophase", 8),
    "paxos3": ("paxos", {"ballots": 3}, "reference_paxos", 3),
    "raft": ("raft", {}, None, None),
}

_PROTOSPEC = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, {root!r})
    from protospec import check
    from protospec.explorer.loader import load_spec
    spec = load_spec({spec!r})(**{params!r})
    spec.restrict_temporal([])
    t0 = time.process_time()
    r = check(spec, liveness=False)
    dt = time.process_time() - t0
    assert r.ok and r.stats.complete
    print(json.dumps(dict(distinct=r.stats.distinct_states, search=dt)))
    sys.stdout.flush()
    os._exit(0)
""")

_REFERENCE = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, {root!r})
    from tests.bench.{module} import run
    t0 = time.process_time()
    distinct, depth, violated = run({arg!r})
    dt = time.process_time() - t0
    assert violated is None
    print(json.dumps(dict(distinct=distinct, search=dt)))
    sys.stdout.flush()
    os._exit(0)
""")


def run_child(code: str, env: dict[str, str] | None = None) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**os.environ, **(env or {})})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["process"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return figures


def measure(name: str, plain: bool, repeats: int) -> dict:
    spec, params, module, arg = CONFIGS[name]
    sides = {"protospec": (_PROTOSPEC.format(root=str(ROOT), spec=spec, params=params), None)}
    if plain:
        sides["plain"] = (sides["protospec"][0], {"PROTOSPEC_PLAIN_EXPANDER": "1"})
    if module is not None:
        sides["reference"] = (_REFERENCE.format(root=str(ROOT), module=module, arg=arg), None)
    runs: dict[str, list[dict]] = {k: [] for k in sides}
    for _ in range(repeats):
        for side, (code, env) in sides.items():
            runs[side].append(run_child(code, env))
    row: dict = {"config": name}
    counts = {side: {r["distinct"] for r in rs} for side, rs in runs.items()}
    if len(set().union(*counts.values())) != 1:
        raise SystemExit(f"{name}: the sides reached different state counts: {counts}")
    row["distinct"] = runs["protospec"][0]["distinct"]
    for side, rs in runs.items():
        row[side] = {k: statistics.median(r[k] for r in rs) for k in ("search", "process")}
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(CONFIGS), help="comma-separated configurations")
    ap.add_argument("--plain", action="store_true",
                    help="also run protospec with the inlining off (PROTOSPEC_PLAIN_EXPANDER=1)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per side; medians reported")
    ap.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    rows = []
    print(f"load average at start: {os.getloadavg()[0]:.2f}; CPU seconds, median of "
          f"{args.repeats}")
    head = f"{'config':<10} {'states':>10} {'side':<10} {'search':>8} {'process':>8}"
    print(head + f" {'ratio search':>13} {'ratio process':>14}")
    for name in args.only.split(","):
        row = measure(name, args.plain, args.repeats)
        rows.append(row)
        ref = row.get("reference")
        for side in ("protospec", "plain", "reference"):
            if side not in row:
                continue
            fig = row[side]
            line = (f"{name:<10} {row['distinct']:>10,} {side:<10} {fig['search']:>8.2f} "
                    f"{fig['process']:>8.2f}")
            if ref is not None and side != "reference":
                line += (f" {fig['search'] / ref['search']:>13.2f}"
                         f" {fig['process'] / ref['process']:>14.2f}")
            print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
