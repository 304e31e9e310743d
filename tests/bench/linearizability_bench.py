"""Benchmark: how long the linearizability checker takes on simulated register histories.

Histories come from a simulated concurrent register (linearizable by construction, see
explorer/history/simulate.py); the broken ones have one read, halfway through, return a value
that a later completed write had overwritten. For each size and number of clients it prints
the check time and memoized configurations, linearizable and not, the time to shrink the
violation and the window's size; then it compares with the naive checker, which tries every
interleaving without memoization, as far as that goes in its time limit.

    python tests/bench/linearizability_bench.py             # the full table (a few minutes)
    python tests/bench/linearizability_bench.py --quick     # 100 and 1,000 operations only

Run it alone: the machine's other load changes the figures.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protospec.explorer.history import (
    Verdict,
    check_linearizable,
    check_naive,
    get_model,
    minimal_window,
)
from protospec.explorer.history.simulate import simulate_register, stale_read


def _timed(fn, *args, **kwargs):
    began = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - began


def _row(n: int, clients: int, keys: int, info: float, timeout: float, seed: int) -> str:
    model = get_model("kv" if keys else "cas-register")
    clean = simulate_register(n, clients, seed=seed, keys=keys, info=info)
    broken = stale_read(clean, at=0.5, seed=seed)
    ok, t_ok = _timed(check_linearizable, clean, model, timeout=timeout)
    bad, t_bad = _timed(check_linearizable, broken, model, timeout=timeout)
    assert ok.verdict is not Verdict.INVALID, "a simulated history must be linearizable"
    assert bad.verdict is not Verdict.VALID, "a stale read must be caught"
    shrink = "-"
    if bad.verdict is Verdict.INVALID:
        window, t_shrink = _timed(minimal_window, bad, timeout=timeout)
        shrink = f"{t_shrink:8.2f} s  {len(window.ops):>3} ops{'' if window.complete else '*'}"
    return (f"{n:>7,} {clients:>7} {keys or '-':>4} {info:>5.0%}  "
            f"{_verdict(ok, t_ok)} {ok.configurations:>10,}  "
            f"{_verdict(bad, t_bad)} {bad.configurations:>10,}  {shrink}")


def _verdict(result, seconds: float) -> str:
    mark = {Verdict.VALID: "yes", Verdict.INVALID: "no", Verdict.UNKNOWN: "?"}[result.verdict]
    return f"{seconds:8.2f} s {mark:>3}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="only 100 and 1,000 operations")
    p.add_argument("--timeout", type=float, default=60.0, help="per check (seconds)")
    p.add_argument("--naive-timeout", type=float, default=10.0, help="per naive check")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    sizes = [100, 1000] if args.quick else [100, 1000, 10000]
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"seed {args.seed}, timeout {args.timeout:g} s per check")
    print()
    print("Register histories (linearizable by construction, then one stale read at 50%):")
    print(f"{'ops':>7} {'clients':>7} {'keys':>4} {'info':>5}  {'linearizable':>14} "
          f"{'configs':>10}  {'stale read':>14} {'configs':>10}  {'shrink':>8}  window")
    configs = [(n, c, 0, 0.0) for n in sizes for c in (5, 10, 50)]
    configs += [(sizes[-1], 10, 0, 0.01), (sizes[-1], 10, 0, 0.05), (sizes[-1], 10, 10, 0.0)]
    for n, clients, keys, info in configs:
        print(_row(n, clients, keys, info, args.timeout, args.seed), flush=True)
    print("(* shrinking ran out of time; ? the check timed out)")
    print()
    print(f"Naive checker (every interleaving, no memo; {args.naive_timeout:g} s limit) "
          "against the memoized search, 5 clients:")
    print(f"{'ops':>5}  {'naive ok':>12} {'naive bad':>12}  {'memo ok':>10} {'memo bad':>10}")
    model = get_model("cas-register")
    for n in (10, 20, 40, 80, 160):
        # A tiny history may have no read after two writes: take the next seed that has one.
        for seed in range(args.seed, args.seed + 100):
            clean = simulate_register(n, 5, seed=seed)
            try:
                broken = stale_read(clean, at=0.5, seed=seed)
                break
            except ValueError:
                continue
        cells = []
        for h in (clean, broken):
            verdict, t = _timed(check_naive, h, model, timeout=args.naive_timeout)
            cells.append(f"{t:8.3f} s {'?' if verdict is Verdict.UNKNOWN else ''}")
        for h in (clean, broken):
            _, t = _timed(check_linearizable, h, model)
            cells.append(f"{t:8.4f} s")
        print(f"{n:>5}  {cells[0]:>12} {cells[1]:>12}  {cells[2]:>10} {cells[3]:>10}",
              flush=True)
    print("(? the naive checker gave up at its limit)")


if __name__ == "__main__":
    main()
