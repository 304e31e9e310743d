"""``protospec conform``: check an implementation's event logs against its spec (trace refinement).

The target names a spec with a conformance module beside it, ``specs/<name>_refinement.py``,
whose ``CONFORMANCE`` object supplies the refinement mapping, a simulator for the
implementation (seeded runs with faults, shrinking of a failing schedule) and a reader for logs
of a real deployment. The checking itself is :func:`explorer.refinement.refine`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path
from typing import Any

from ...errors import SpecError, UsageError
from ...refinement import RefinementResult, format_failure, refine
from ..common import Progress, confirm_overwrite, err_console, out_console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "conform", help="check an implementation's event logs against its spec",
        description="Trace refinement: run the implementation of TARGET in its deterministic "
                    "simulator (seeded runs with faults), or read the event logs of a real "
                    "cluster (--logs), and check that every logged step is a step of the spec "
                    "and every spec state reached satisfies the spec's invariants. Exit 0 if "
                    "all conform, 1 at the first event no spec step explains (with the "
                    "failing run shrunk to a small schedule and a command that replays it), "
                    "2 on a usage error.")
    p.add_argument("target", metavar="TARGET",
                   help="a spec with a refinement mapping (specs/TARGET_refinement.py), e.g. raft")
    p.add_argument("--runs", type=int, default=20, metavar="N",
                   help="simulated runs (default 20), seeds S, S+1, ...")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (default 0)")
    p.add_argument("--faults", default="all", metavar="LIST",
                   help="fault families for the simulated runs, comma-separated, or 'all' "
                        "(default) or 'none' (raft: drop, duplicate, reorder, partition, crash, "
                        "torn)")
    p.add_argument("--bug", metavar="NAME",
                   help="run a deliberately broken implementation (raft: commit_old_term, "
                        "vote_without_log_check; stale_leader_reads, which only the "
                        "linearizability check of client histories catches) to see the check "
                        "catch it")
    p.add_argument("--variant", metavar="NAME",
                   help="check against a bug variant of the spec instead of the spec itself "
                        "(e.g. to let a buggy implementation conform and see which invariant "
                        "its runs break)")
    p.add_argument("--nodes", type=int, default=3, metavar="N", help="cluster size (default 3)")
    p.add_argument("--duration", type=int, default=3000, metavar="MS",
                   help="simulated milliseconds per run (default 3000)")
    p.add_argument("--ops", type=int, default=20, metavar="N",
                   help="client operations per run (default 20)")
    p.add_argument("--schedule", metavar="JSON|@FILE",
                   help="run exactly this schedule (as printed in a replay command)")
    p.add_argument("--logs", metavar="DIR",
                   help="check the event logs of a real cluster (events.jsonl files under DIR) "
                        "instead of simulating")
    p.add_argument("--no-shrink", dest="shrink", action="store_false",
                   help="report a failing run as it is, without shrinking its schedule")
    p.add_argument("--window", type=int, default=6, metavar="N",
                   help="spec steps shown before a failure (default 6)")
    p.add_argument("--trace-out", metavar="FILE",
                   help="save the spec's path to a failure as an ITF JSON trace")
    p.add_argument("--force", action="store_true", help="overwrite --trace-out if it exists")
    p.add_argument("--json", action="store_true", help="print a JSON result instead of text")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show progress on stderr (default: only when stderr is a terminal)")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    p.set_defaults(func=run)


def load_target(name: str) -> Any:
    """The ``CONFORMANCE`` object of ``specs/<name>_refinement.py``, or a UsageError."""
    module_name = f"protospec.specs.{name}_refinement"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name in (module_name, "specs"):
            raise UsageError(f"no refinement mapping for {name!r}: conform needs "
                             f"specs/{name}_refinement.py (see docs/conformance.md)") from None
        raise SpecError(f"{module_name}: importing it failed: {exc}", cause=exc) from exc
    target = getattr(module, "CONFORMANCE", None)
    if target is None:
        raise UsageError(f"{module_name} defines no CONFORMANCE object")
    return target


def _faults(text: str, known: tuple[str, ...]) -> list[str]:
    if text == "all":
        return list(known)
    if text in ("none", ""):
        return []
    out = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in out if f not in known]
    if unknown:
        raise UsageError(f"--faults: unknown fault famil{'ies' if len(unknown) > 1 else 'y'} "
                         f"{', '.join(unknown)} (known: {', '.join(known)}, or all, none)")
    return out


def run(args: argparse.Namespace) -> int:
    target = load_target(args.target)
    for opt in ("runs", "nodes", "duration", "window"):
        if getattr(args, opt) < 1:
            raise UsageError(f"--{opt} must be a positive number, got {getattr(args, opt)}")
    if args.nodes > 9:  # the simulated and real clusters hold 1 to 9 nodes (impl/raft/sim.py)
        raise UsageError(f"--nodes must be between 1 and 9, got {args.nodes}")
    if args.ops < 0:
        raise UsageError(f"--ops must be 0 or more, got {args.ops}")
    if args.bug is not None and args.bug not in target.bugs():
        raise UsageError(f"--bug: {target.name} has no bug {args.bug!r} (its bugs: "
                         f"{', '.join(target.bugs())})")
    if args.variant is not None:
        target.spec_cls.with_variant(args.variant)  # a UsageError naming the known variants
    trace_path = (confirm_overwrite(args.trace_out, args.force, "--trace-out")
                  if args.trace_out else None)
    if args.logs:
        return _check_logs(target, args, trace_path)
    return _check_simulated(target, args, trace_path)


# -- logs of a real cluster ------------------------------------------------------------------


def _check_logs(target: Any, args: argparse.Namespace, trace_path: Path | None) -> int:
    path = Path(args.logs)
    if not path.exists():
        raise UsageError(f"--logs: {str(path)!r} does not exist")
    try:
        events, notes, nodes = target.load_logs(path)
    except ValueError as exc:
        raise UsageError(f"--logs: cannot read the logs under {str(path)!r}: {exc}") from None
    if nodes < 1:
        raise UsageError(f"--logs: the logs under {str(path)!r} contain no events")
    result = refine(target.mapping(nodes, args.variant), events)
    if trace_path is not None and result.failure is not None:
        _write_trace(result, trace_path)
    if args.json:
        print_json({"logs": str(path), "nodes": nodes, "notes": notes, **result.to_dict()})
        return 0 if result.ok else 1
    con = out_console()
    for note in notes:
        con.print(f"note: {note}", markup=False)
    if result.ok:
        con.print(f"The logs under {path} conform to the spec {result.spec}: {result.events:,} "
                  f"events from {nodes} nodes validated in {result.elapsed_s:.2f} s "
                  f"({result.events_per_s:,.0f} events/s).", markup=False)
        _print_checked(con, result)
        return 0
    con.print(format_failure(result, window=args.window), markup=False)
    return 1


# -- simulated runs ----------------------------------------------------------------------------


def _check_simulated(target: Any, args: argparse.Namespace, trace_path: Path | None) -> int:
    if args.schedule:
        text = args.schedule
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text()
            except OSError as exc:
                raise UsageError(f"--schedule: cannot read {text[1:]!r}: {exc.strerror}") from None
        try:
            schedules = [target.parse_schedule(text)]
        except ValueError as exc:
            raise UsageError(f"--schedule: {exc}") from None
        first_seed = None
        faults = None
    else:
        faults = _faults(args.faults, target.fault_families())
        schedules = None
        first_seed = args.seed
    progress = Progress(f"conform {args.target}", enabled=args.progress)
    totals = {"runs": 0, "events": 0, "refine_s": 0.0, "sim_s": 0.0, "hidden": 0,
              "max_states": 0}
    facts_sum: dict[str, int] = {}
    started = time.perf_counter()
    failed = None
    count = 1 if schedules else args.runs
    try:
        for k in range(count):
            if schedules:
                schedule = schedules[0]
            else:
                schedule = target.random_schedule(first_seed + k, nodes=args.nodes,
                                                  faults=faults, bug=args.bug,
                                                  duration_ms=args.duration, ops=args.ops)
            t0 = time.perf_counter()
            events, problems, facts = target.run(schedule)
            totals["sim_s"] += time.perf_counter() - t0
            result = refine(target.mapping(target.nodes_of(schedule), args.variant), events)
            totals["runs"] += 1
            totals["events"] += result.events
            totals["refine_s"] += result.elapsed_s
            totals["hidden"] += result.hidden_steps
            totals["max_states"] = max(totals["max_states"], result.max_states)
            for key, value in facts.items():
                facts_sum[key] = facts_sum.get(key, 0) + value
            progress.update(f"run {k + 1} of {count}, {totals['events']:,} events")
            if not result.ok or problems:
                failed = (schedule, result, problems)
                break
    finally:
        progress.close()
    totals["elapsed_s"] = time.perf_counter() - started
    if failed is None:
        return _report_pass(args, totals, facts_sum, first_seed, faults, result)
    return _report_failure(target, args, trace_path, totals, failed)


def _fails(target: Any, variant: str | None) -> Any:
    """For shrinking: run a schedule; when it failed (the run's end if the failure has no
    time of its own), or None if it passes."""
    def fails(schedule: Any) -> Any:
        events, problems, _ = target.run(schedule)
        result = refine(target.mapping(target.nodes_of(schedule), variant), events,
                        keep_trace=False)
        if result.ok and not problems:
            return None
        if result.failure is not None and result.failure.event is not None:
            at = target.event_time(result.failure.event)
            if at is not None:
                return at
        return target.end_time(schedule)
    return fails


def _report_pass(args: argparse.Namespace, totals: dict, facts: dict, first_seed: int | None,
                 faults: list[str] | None, last: RefinementResult) -> int:
    rate = totals["events"] / totals["refine_s"] if totals["refine_s"] > 0 else 0.0
    if args.json:
        print_json({"ok": True, **_totals_json(totals, rate), "facts": facts,
                    "properties_checked": last.properties_checked})
        return 0
    con = out_console()
    runs = totals["runs"]
    if first_seed is not None:
        which = (f"{runs} simulated run{'s' if runs != 1 else ''} (seeds {first_seed}.."
                 f"{first_seed + runs - 1}; faults: {', '.join(faults) if faults else 'none'}"
                 f"{'; bug ' + args.bug if args.bug else ''})")
    else:
        which = "The schedule's run"
    spec = f"{last.spec} (variant {args.variant})" if args.variant else last.spec
    con.print(f"{which}: every event is a step of the spec {spec}, and every spec "
              f"state reached satisfies its invariants.", markup=False)
    con.print(f"{totals['events']:,} events validated in {totals['refine_s']:.2f} s "
              f"({rate:,.0f} events/s); simulation {totals['sim_s']:.2f} s; total "
              f"{totals['elapsed_s']:.2f} s.", markup=False)
    extra = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in facts.items())
    con.print(f"Unlogged steps inferred: {totals['hidden']:,}; most spec states consistent at "
              f"once: {totals['max_states']}; {extra}.", markup=False)
    _print_checked(con, last)
    return 0


def _totals_json(totals: dict, rate: float) -> dict:
    return {"runs": totals["runs"], "events": totals["events"],
            "refine_s": round(totals["refine_s"], 3), "sim_s": round(totals["sim_s"], 3),
            "elapsed_s": round(totals["elapsed_s"], 3), "events_per_s": round(rate, 1),
            "hidden_steps": totals["hidden"], "max_states": totals["max_states"]}


def _print_checked(con: Any, result: RefinementResult) -> None:
    con.print(f"Properties checked on every spec state: "
              f"{', '.join(result.properties_checked) or 'none'}.", markup=False)


def _report_failure(target: Any, args: argparse.Namespace, trace_path: Path | None,
                    totals: dict, failed: tuple) -> int:
    schedule, result, problems = failed
    con = out_console()
    err = err_console()
    shrunk, shrunk_result, shrunk_problems = schedule, result, problems
    if args.shrink:
        if not args.json:
            err.print(f"A run failed after {totals['runs']} run(s); shrinking its schedule...",
                      markup=False)
        shrunk = target.shrink(schedule, _fails(target, args.variant))
        events, shrunk_problems, _ = target.run(shrunk)
        shrunk_result = refine(target.mapping(target.nodes_of(shrunk), args.variant), events)
    variant = f" --variant {args.variant}" if args.variant else ""
    replay = f"protospec conform {args.target}{variant} --schedule '{shrunk.to_json()}'"
    if trace_path is not None and shrunk_result.failure is not None:
        _write_trace(shrunk_result, trace_path)
    if args.json:
        print_json({"ok": False, **_totals_json(totals, 0.0),
                    "failed_seed": getattr(schedule, "seed", None),
                    "problems": shrunk_problems, "replay": replay,
                    "schedule": json.loads(shrunk.to_json()),
                    "refinement": shrunk_result.to_dict()})
        return 1
    seed = getattr(schedule, "seed", None)
    con.print(f"Run {totals['runs']} (seed {seed}) does not conform: "
              f"{target.describe_schedule(schedule)}.", markup=False)
    if args.shrink:
        con.print(f"Shrunk to: {target.describe_schedule(shrunk)}.", markup=False)
    con.print("", markup=False)
    if shrunk_result.failure is not None:
        con.print(format_failure(shrunk_result, window=args.window), markup=False)
    for p in shrunk_problems:
        con.print(f"The implementation's own check failed: {p}", markup=False)
    con.print("", markup=False)
    con.print(f"Replay: {replay}", markup=False)
    return 1


def _write_trace(result: RefinementResult, path: Path) -> None:
    from ...itf import write_trace

    f = result.failure
    if f is not None and f.trace is not None:
        write_trace(f.trace, path, violation=f.property_name or "refinement")
