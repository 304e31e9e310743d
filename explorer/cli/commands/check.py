"""``protospec check``: explore every reachable state and report the shortest counterexample."""

from __future__ import annotations

import argparse

from ...bfs import Progress as SearchProgress
from ...exitcodes import ExitCode
from ...itf import write_trace
from ...liveness.run import check, temporal_names
from ...render.text import format_coverage, format_params, format_stats, format_violation
from ...result import CheckResult
from ..common import (
    Progress,
    add_spec_arguments,
    confirm_overwrite,
    instantiate,
    out_console,
    print_json,
)
from ..config import add_config_argument, apply_config
from ..properties import (
    add_property_arguments,
    add_temporal_arguments,
    apply_property_arguments,
    print_explanations,
)
from .graph import add_render_arguments, check_render_targets, write_result_charts


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check", help="exhaustively check a spec (breadth-first, shortest counterexamples)",
        description="Explore every reachable state of SPEC breadth-first, checking every "
                    "invariant on every state and every action property on every step. "
                    "Exit 0 if no property is violated, 1 if one is (with the shortest "
                    "counterexample), 2 on a usage or spec error.")
    add_spec_arguments(p)
    add_run_arguments(p)
    p.add_argument("--max-depth", type=int, metavar="N",
                   help="explore at most N steps from the initial states")
    p.add_argument("--max-states", type=int, metavar="N",
                   help="stop after N distinct states")
    p.add_argument("--continue", dest="keep_going", action="store_true",
                   help="keep going after a violation, to report every violated property")
    p.add_argument("--coverage", action="store_true",
                   help="print per-action coverage (enabled / fired / new states)")
    add_temporal_arguments(p)
    p.set_defaults(func=run)


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by check and simulate."""
    add_config_argument(p)
    add_property_arguments(p)
    dl = p.add_mutually_exclusive_group()
    dl.add_argument("--deadlock", dest="deadlock", action="store_true", default=None,
                    help="report a reachable state with no successor as an error")
    dl.add_argument("--no-deadlock", dest="deadlock", action="store_false",
                    help="do not report deadlocks (overrides the spec's own choice)")
    p.add_argument("--trace-out", metavar="FILE",
                   help="save the counterexample as an ITF JSON trace (Apalache/Quint format)")
    p.add_argument("--force", action="store_true",
                   help="overwrite output files that already exist")
    p.add_argument("--json", action="store_true",
                   help="print a machine-readable JSON result instead of text")
    p.add_argument("--all-vars", action="store_true",
                   help="show every variable at each step, not only those that changed")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show progress on stderr (default: only when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="never show progress")
    add_render_arguments(p)


def variant_target(spec, liveness: bool = False) -> frozenset[str] | None:
    """For a bug variant, the property it is known to break: the search goes on past other
    properties' violations (reporting them too) until this one is violated, so that the run
    shows what the variant breaks even when an invariant implying it fails first. A
    temporal property is only checked after a complete search: naming it here makes the
    search go on to the end whatever safety property fails on the way."""
    info = type(spec).variant_info
    checked = {n for n, _ in spec.invariant_fns} | {n for n, _ in spec.action_property_fns} \
        | set(temporal_names(spec, liveness))
    if info is None or info.breaks not in checked:
        return None
    return frozenset({info.breaks})


def validate_bounds(args: argparse.Namespace) -> None:
    from ...errors import UsageError
    from ..config import option_label

    for opt in ("max_depth", "max_states", "runs", "depth"):
        value = getattr(args, opt, None)
        if value is not None and value < (0 if opt == "max_depth" else 1):
            raise UsageError(f"{option_label(args, opt)} must be a positive number, got {value}")
    check_render_targets(args)  # before the run, not after it: a long run is not wasted


def run(args: argparse.Namespace) -> int:
    apply_config(args, "check")
    validate_bounds(args)
    spec = instantiate(args)
    if args.explain_inv:
        return print_explanations(spec, args)
    apply_property_arguments(spec, args)
    trace_path = confirm_overwrite(args.trace_out, args.force) if args.trace_out else None
    progress = Progress(f"check {spec.name}", enabled=args.progress)

    def on_progress(p: SearchProgress) -> None:
        progress.update(f"{p.distinct:,} distinct states, depth {p.depth}, {p.queued:,} queued, "
                        f"{p.distinct / max(p.elapsed_s, 1e-9):,.0f} states/s")

    try:
        liveness = args.liveness is not False
        result = check(spec, max_depth=args.max_depth, max_states=args.max_states,
                       keep_going=args.keep_going, progress=on_progress,
                       until=variant_target(spec, liveness),
                       check_deadlock=args.deadlock, liveness=liveness)
    finally:
        progress.close()
    return report(result, args, trace_path)


def report(result: CheckResult, args: argparse.Namespace, trace_path) -> int:
    """Print the result (text or JSON), save the trace if asked; return the exit code."""
    write_result_charts(result, args)  # --render, --html (and chart hints for --trace-out)
    with_trace = [v for v in result.violations if v.trace.steps]  # sometimes: no trace
    if trace_path is not None and with_trace:
        v = with_trace[0]
        write_trace(v.trace, trace_path, violation=v.property)
    code = 1 if result.violations else \
        (int(ExitCode.INCOMPLETE) if result.stats.liveness_unchecked else 0)
    if args.json:
        data = result.to_dict()
        if trace_path is not None:
            data["trace_out"] = str(trace_path) if with_trace else None
        print_json(data)
        return code
    con = out_console()
    modes = {"check": "Check", "simulate": "Simulation", "bmc": "Bounded model check"}
    header = f"{modes.get(result.mode, result.mode)} of {result.spec}"
    if result.params:
        header += f" ({format_params(result.params)})"
    if result.variant:
        header += f", variant {result.variant}"
    con.print(header, markup=False)
    checked = ", ".join(result.properties_checked) or "none"
    con.print(f"Properties checked: {checked}", markup=False)
    con.print("")
    for v in result.violations:
        con.print(format_violation(v, all_vars=args.all_vars), markup=False)
        con.print("")
    if not result.violations:
        if result.mode == "check" and result.stats.complete:
            con.print("No violation: every reachable state was explored.", markup=False)
        else:
            con.print("No violation found (the search was not exhaustive).", markup=False)
    if result.stats.liveness_unchecked:
        con.print(f"Liveness and sometimes properties {result.stats.liveness_unchecked}.",
                  markup=False)
    con.print(format_stats(result), markup=False)
    if getattr(args, "coverage", False):
        con.print("")
        con.print(format_coverage(result), markup=False)
    if trace_path is not None:
        if with_trace:
            con.print(f"Counterexample saved to {trace_path} (ITF JSON; "
                      f"`protospec show {trace_path}` prints it)", markup=False)
        else:
            con.print(f"No counterexample, so {trace_path} was not written.", markup=False)
    return code
