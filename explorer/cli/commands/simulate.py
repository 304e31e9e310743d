"""``protospec simulate``: seeded random walks, for spaces too large to exhaust."""

from __future__ import annotations

import argparse

from ...simulate import simulate
from ..common import Progress, add_spec_arguments, confirm_overwrite, instantiate
from ..properties import apply_property_arguments
from .check import add_run_arguments, report, validate_bounds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate", help="random walks through a spec (for spaces too large to exhaust)",
        description="Run seeded random walks through SPEC, checking every invariant on every "
                    "state and every action property on every step. The same --seed gives "
                    "the same runs. Traces found are not necessarily shortest.")
    add_spec_arguments(p)
    add_run_arguments(p)
    p.add_argument("--runs", type=int, default=100, metavar="N",
                   help="number of random walks (default 100)")
    p.add_argument("--depth", type=int, default=100, metavar="D",
                   help="maximum steps per walk (default 100)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="random seed (default 0)")
    p.add_argument("--continue", dest="keep_going", action="store_true",
                   help="keep going after a violation, to report every violated property")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    validate_bounds(args)
    spec = instantiate(args)
    apply_property_arguments(spec, args)
    trace_path = confirm_overwrite(args.trace_out, args.force) if args.trace_out else None
    progress = Progress(f"simulate {spec.name}", enabled=args.progress)
    try:
        result = simulate(spec, runs=args.runs, depth=args.depth, seed=args.seed,
                          keep_going=args.keep_going, check_deadlock=args.deadlock,
                          progress=lambda i, n: progress.update(f"run {i:,} of {n:,}"))
    finally:
        progress.close()
    return report(result, args, trace_path)
