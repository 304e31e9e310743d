"""Symmetry reduction benchmark: distinct states and time with and without ``--symmetry``.

Usage: python tests/bench/symmetry_bench.py [--quick] [--only TEXT] [--symmetry-only]

Each configuration runs in its own process (`protospec check ... --json --no-liveness`: safety
only, since liveness is not checked under symmetry), once without and
once with symmetry, in one run of this script; the table gives the distinct-state counts, the
reduction factor, the CPU time of each run (user + system, less noisy than wall time on a
shared machine) and the wall time. ``--quick`` skips the two largest configurations;
``--only TEXT`` runs the configurations whose name contains TEXT (``--only figure8`` for Raft's
Figure-8 variant); ``--symmetry-only`` skips the runs without symmetry (their columns read 0).
TLC's figure for comparison (TwoPhase with 7 RMs and SYMMETRY Permutations(RM)): about
10-15 s on these machines (issue #20); TLC itself is not run here.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFIGS = [
    ("two_phase_commit", ["-p", "rms=3"]),
    ("two_phase_commit", ["-p", "rms=4"]),
    ("two_phase_commit", ["-p", "rms=5"]),
    ("two_phase_commit", ["-p", "rms=6"]),
    ("two_phase_commit", ["-p", "rms=7"]),
    ("two_phase_commit", ["-p", "rms=8"]),
    ("paxos", ["-p", "ballots=3"]),
    ("raft", []),
    ("raft", ["--variant", "commit_old_term_by_counting"]),
]
NICKNAMES = {("raft", ("--variant", "commit_old_term_by_counting")): "figure8"}
LARGE = {("two_phase_commit", ("-p", "rms=8")), ("raft", ("--variant",
                                                           "commit_old_term_by_counting"))}


def run(spec: str, extra: list[str], symmetry: bool) -> dict:
    argv = [sys.executable, "-m", "protospec", "check", spec, *extra, "--json", "--no-progress",
            "--no-liveness"]
    if symmetry:
        argv.append("--symmetry")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
    data = json.loads(proc.stdout)
    violation = data["violations"][0] if data.get("violations") else None
    return {
        "states": data["stats"]["distinct_states"],
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "wall": wall,
        "cex_steps": None if violation is None else violation["length"],
    }


def main() -> None:
    quick = "--quick" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    reduced_only = "--symmetry-only" in sys.argv
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'configuration':<48} {'states':>10} {'with sym':>9} {'factor':>7} "
          f"{'cpu s':>7} {'cpu sym':>8} {'wall s':>7} {'wall sym':>8} {'cex':>7}")
    for spec, extra in CONFIGS:
        if quick and (spec, tuple(extra)) in LARGE:
            continue
        name = f"{spec} {' '.join(extra)}".strip()
        nickname = NICKNAMES.get((spec, tuple(extra)), "")
        if only is not None and only not in name and only != nickname:
            continue
        reduced = run(spec, extra, True)
        plain = ({"states": 0, "cpu": 0.0, "wall": 0.0, "cex_steps": reduced["cex_steps"]}
                 if reduced_only else run(spec, extra, False))
        cex = "" if plain["cex_steps"] is None else f"{plain['cex_steps']}/{reduced['cex_steps']}"
        print(f"{name:<48} {plain['states']:>10,} {reduced['states']:>9,} "
              f"{plain['states'] / reduced['states']:>7.2f} {plain['cpu']:>7.1f} "
              f"{reduced['cpu']:>8.1f} {plain['wall']:>7.1f} {reduced['wall']:>8.1f} {cex:>7}",
              flush=True)


if __name__ == "__main__":
    main()
