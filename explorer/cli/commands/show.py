"""``protospec show``: print a saved ITF trace (from --trace-out, Apalache or Quint)."""

from __future__ import annotations

import argparse

from ...itf import read_trace, trace_to_itf
from ...render.text import format_params, format_trace
from ..common import out_console, print_json
from .graph import add_render_arguments, write_trace_charts


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print a saved trace (ITF JSON)",
                       description="Print a trace saved in the Informal Trace Format (by "
                                   "`protospec check --trace-out`, Apalache or Quint): "
                                   "numbered steps with their actions and changed variables.")
    p.add_argument("trace", metavar="TRACE.json", help="the ITF trace file")
    p.add_argument("--all-vars", action="store_true",
                   help="show every variable at each step, not only those that changed")
    p.add_argument("--json", action="store_true", help="print the trace back as ITF JSON")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    add_render_arguments(p, force=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    trace, meta = read_trace(args.trace)
    write_trace_charts(trace, meta, args)  # --render, --html
    if args.json:
        print_json(trace_to_itf(trace, violation=meta.get("violation")))
        return 0
    con = out_console()
    head = f"Trace of {trace.spec or 'an unnamed spec'}"
    if trace.params:
        head += f" ({format_params(trace.params)})"
    if trace.variant:
        head += f", variant {trace.variant}"
    con.print(f"{head}: {len(trace)} step(s)", markup=False)
    con.print("")
    con.print(format_trace(trace, all_vars=args.all_vars), markup=False)
    if meta.get("violation"):
        con.print(f"  ^ violates {meta['violation']}", markup=False)
    return 0
