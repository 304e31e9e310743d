"""``protospec simulate``: seeded random walks, for spaces too large to exhaust."""

from __future__ import annotations

import argparse

from ...simulate import simulate
from ..common import Progress, add_spec_arguments, confirm_overwrite, instantiate
from ..config import apply_config
from ..properties import apply_property_arguments, print_explanations
from .check import add_run_arguments, report, validate_bounds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate", help="random walks through a spec (for spaces too large to exhaust)",
        description="Run seeded random walks through SPEC, checking every invariant on every "
                    "state and every action property on every step. The same --seed gives "
                    "the same runs. Traces found are not necessarily shortest.")
    add_spec_arguments(p)
    add_run_arguments(p)
    p.add_argument("--runs", type=int, default=None, metavar="N",
                   help="number of random walks (default 100)")
    p.add_argument("--depth", type=int, default=None, metavar="D",
                   help="maximum steps per walk (default 100)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="random seed (default 0)")
    p.add_argument("--swarm", action="store_true",
                   help="swarm testing: each run uses a random subset of the actions (finds "
                        "deep bugs that uniform walks miss)")
    p.add_argument("--continue", dest="keep_going", action="store_true",
                   help="keep going after a violation, to report every violated property")
    p.add_argument("--workers", default=None, metavar="N",
                   help="run the walks on N processes (auto: one per core); run r is seeded "
                        "from (--seed, r), so the result depends on the seed, not on N")
    p.set_defaults(func=run)


# Defaults applied after --config, so that an option left unset can take the file's value.
DEFAULTS = {"runs": 100, "depth": 100, "seed": 0}


def run(args: argparse.Namespace) -> int:
    apply_config(args, "simulate", defaults=DEFAULTS)
    validate_bounds(args)
    spec = instantiate(args)
    if args.explain_inv:
        return print_explanations(spec, args)
    apply_property_arguments(spec, args)
    trace_path = (confirm_overwrite(args.trace_out, args.force, "--trace-out")
                  if args.trace_out else None)
    progress = Progress(f"simulate {spec.name}", enabled=args.progress)
    try:
        if args.workers is not None:
            from ...parallel_simulate import simulate_parallel
            from .check import parse_workers_arg

            result = simulate_parallel(spec, workers=parse_workers_arg(args), runs=args.runs,
                                       depth=args.depth, seed=args.seed,
                                       keep_going=args.keep_going,
                                       check_deadlock=args.deadlock, swarm=args.swarm,
                                       progress=lambda i, n: progress.update(
                                           f"run {i:,} of {n:,}"))
        else:
            result = simulate(spec, runs=args.runs, depth=args.depth, seed=args.seed,
                              keep_going=args.keep_going, check_deadlock=args.deadlock,
                              swarm=args.swarm,
                              progress=lambda i, n: progress.update(f"run {i:,} of {n:,}"))
    finally:
        progress.close()
    return report(result, args, trace_path)
