"""``protospec bmc``: bounded model checking with z3, incremental in the depth."""

from __future__ import annotations

import argparse

from ..common import Progress, add_spec_arguments, confirm_overwrite, instantiate
from .check import report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bmc", help="bounded model checking with z3 (shortest violation within K steps)",
        description="Search symbolically for a violation of the spec's invariants within K "
                    "steps, depth by depth, so the first one found is shortest. Needs the "
                    "spec's symbolic encoding (specs/<name>_symbolic.py). A violation is "
                    "replayed through the explicit spec, printed and saved like an explicit "
                    "counterexample. Exit 0 none within K, 1 violation, 2 error.")
    add_spec_arguments(p)
    p.add_argument("--depth", type=int, required=True, metavar="K", help="the bound K")
    p.add_argument("--inv", action="append", metavar="NAME",
                   help="check only this invariant of the encoding (repeatable)")
    p.add_argument("--trace-out", metavar="FILE", help="save the violation as an ITF trace")
    p.add_argument("--force", action="store_true", help="overwrite an existing --trace-out")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--all-vars", action="store_true", help="show every variable at each step")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show progress on stderr (default: only when it is a terminal)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...errors import UsageError
    from ...symbolic import bmc, load_encoding

    if args.depth < 0:
        raise UsageError(f"--depth must be at least 0, got {args.depth}")
    spec = instantiate(args)
    enc = load_encoding(spec)
    trace_path = (confirm_overwrite(args.trace_out, args.force, "--trace-out")
                  if args.trace_out else None)
    progress = Progress(f"bmc {spec.name}", enabled=args.progress)
    try:
        result = bmc(enc, args.depth, invariants=args.inv,
                     progress=lambda k, s: progress.update(f"no violation within {k} steps"))
    finally:
        progress.close()
    return report(result, args, trace_path)
