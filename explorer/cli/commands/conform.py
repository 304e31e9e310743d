"""``protospec conform``: check an implementation's event logs against its spec (trace refinement).

TARGET names a registered implementation (:mod:`explorer.conformance`: the built-in ones are
listed in ``protospec.specs.IMPLEMENTATIONS``); its conformance object supplies the refinement
mapping, a simulator for the implementation (seeded runs with faults, shrinking of a failing
schedule) and a reader for logs of a real deployment. The checking itself is
:func:`explorer.refinement.refine`, and a run's client history, if it has one, is checked for
linearizability with :mod:`explorer.history`. This module knows no protocol.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ...conformance import Conformance, check_events, history_problems, lookup, registered
from ...errors import UsageError
from ...refinement import RefinementResult, format_failure
from ..common import Progress, confirm_overwrite, err_console, out_console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "conform", help="check an implementation's event logs against its spec",
        description="Trace refinement: run the implementation of TARGET in its deterministic "
                    "simulator (seeded runs with faults), or read the event logs of a real "
                    "cluster (--logs), and check that every logged step is a step of the spec, "
                    "every spec state reached satisfies the spec's invariants, and the clients' "
                    "history is linearizable. Exit 0 if all conform, 1 at the first event no "
                    "spec step explains (with the failing run shrunk to a small schedule and a "
                    "command that replays it), 2 on a usage error. Without TARGET, list the "
                    "implementations that can be checked.")
    p.add_argument("target", metavar="TARGET", nargs="?",
                   help="a registered implementation (omit it to list them)")
    p.add_argument("--bugs", action="store_true",
                   help="list TARGET's deliberate bugs (for --bug), one per line, and exit")
    p.add_argument("--runs", type=int, default=20, metavar="N",
                   help="simulated runs (default 20), seeds S, S+1, ...")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (default 0)")
    p.add_argument("--faults", default="all", metavar="LIST",
                   help="fault families for the simulated runs, comma-separated, or 'all' "
                        "(default) or 'none' (`protospec conform` lists each target's)")
    p.add_argument("--bug", metavar="NAME",
                   help="run a deliberately broken implementation (see --bugs) to see the check "
                        "catch it")
    p.add_argument("--variant", metavar="NAME",
                   help="check against a bug variant of the spec instead of the spec itself "
                        "(e.g. to let a buggy implementation conform and see which invariant "
                        "its runs break)")
    p.add_argument("--nodes", type=int, default=3, metavar="N",
                   help="nodes, as the target counts them (default 3)")
    p.add_argument("--duration", type=int, default=3000, metavar="MS",
                   help="simulated milliseconds per run (default 3000)")
    p.add_argument("--ops", type=int, default=20, metavar="N",
                   help="client operations per run (default 20)")
    p.add_argument("--schedule", metavar="JSON|@FILE",
                   help="run exactly this schedule (as printed in a replay command)")
    p.add_argument("--logs", metavar="DIR",
                   help="check the event logs of a real cluster (the files under DIR) instead "
                        "of simulating")
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


def load_target(name: str) -> Conformance:
    """The implementation registered as ``name``, or a UsageError naming the known ones."""
    return lookup(name)


def _list_targets(as_json: bool) -> int:
    targets = registered()
    if as_json:
        print_json({"implementations": [
            {"name": t.name, "spec": t.spec_cls.name, "summary": t.summary,
             "faults": list(t.fault_families()), "bugs": list(t.bugs())} for t in targets]})
        return 0
    con = out_console()
    for t in targets:
        con.print(f"{t.name}: {t.summary}; checked against the spec {t.spec_cls.name}",
                  markup=False)
        con.print(f"  faults: {', '.join(t.fault_families()) or 'none'}", markup=False)
        con.print(f"  bugs: {', '.join(t.bugs()) or 'none'}", markup=False)
    return 0


def _check_run_options(target: Any, args: argparse.Namespace) -> None:
    """Before any run: the target's own check of a schedule built from the options (its
    parse_schedule), so that a value it cannot run, such as more --nodes than its simulator
    holds, is a usage error naming the options rather than a crash in the first run."""
    if args.logs or args.schedule:
        return
    probe = target.random_schedule(args.seed, nodes=args.nodes, faults=[], bug=None,
                                   duration_ms=args.duration, ops=args.ops)
    try:
        target.parse_schedule(probe.to_json())
    except ValueError as exc:
        raise UsageError(f"--nodes {args.nodes}, --duration {args.duration}, --ops "
                         f"{args.ops}: {target.name} cannot run that: {exc}") from None


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
    if args.target is None:
        if args.bugs:
            raise UsageError("--bugs needs a TARGET (run `protospec conform` to list them)")
        return _list_targets(args.json)
    target = load_target(args.target)
    if args.bugs:
        out = out_console()
        for name in target.bugs():
            out.print(name, markup=False)
        return 0
    for opt in ("runs", "nodes", "duration", "window"):
        if getattr(args, opt) < 1:
            raise UsageError(f"--{opt} must be a positive number, got {getattr(args, opt)}")
    if args.ops < 0:
        raise UsageError(f"--ops must be 0 or more, got {args.ops}")
    _check_run_options(target, args)
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


def _check_logs(target: Conformance, args: argparse.Namespace, trace_path: Path | None) -> int:
    path = Path(args.logs)
    if not path.exists():
        raise UsageError(f"--logs: {str(path)!r} does not exist")
    try:
        logs = target.load_logs(path)
    except ValueError as exc:
        raise UsageError(f"--logs: cannot read the logs under {str(path)!r}: {exc}") from None
    events, notes, nodes = logs.events, logs.notes, logs.nodes
    if nodes < 1:
        raise UsageError(f"--logs: the logs under {str(path)!r} contain no events")
    result = check_events(target, nodes, args.variant, events)
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
                  f"({result.events_per_s:,.0f} events/s); unlogged steps inferred: "
                  f"{result.hidden_steps}.", markup=False)
        _print_checked(con, result)
        return 0
    con.print(format_failure(result, window=args.window), markup=False)
    return 1


# -- simulated runs ----------------------------------------------------------------------------


def _check_simulated(target: Conformance, args: argparse.Namespace, trace_path: Path | None) -> int:
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
    totals = {"runs": 0, "events": 0, "refine_s": 0.0, "sim_s": 0.0, "hidden": 0, "histories": 0,
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
            sim = target.run(schedule)
            totals["sim_s"] += time.perf_counter() - t0
            result = check_events(target, target.nodes_of(schedule), args.variant,
                                  sim.events)
            problems = sim.problems
            if result.ok and not problems and sim.history:
                totals["histories"] += 1
                problems = history_problems(sim)
            totals["runs"] += 1
            totals["events"] += result.events
            totals["refine_s"] += result.elapsed_s
            totals["hidden"] += result.hidden_steps
            totals["max_states"] = max(totals["max_states"], result.max_states)
            for key, value in sim.facts.items():
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


def _fails(target: Conformance, variant: str | None) -> Any:
    """For shrinking: run a schedule; when it failed (the run's end if the failure has no
    time of its own), or None if it passes."""
    def fails(schedule: Any) -> Any:
        sim = target.run(schedule)
        result = check_events(target, target.nodes_of(schedule), variant, sim.events,
                              keep_trace=False)
        if result.ok and not sim.problems and not history_problems(sim):
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
    histories = (f"; the clients' histories of {totals['histories']} run"
                 f"{'s' if totals['histories'] != 1 else ''} are linearizable"
                 if totals["histories"] else "")
    con.print(f"{which}: every event is a step of the spec {spec}, and every spec "
              f"state reached satisfies its invariants{histories}.", markup=False)
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


def _report_failure(target: Conformance, args: argparse.Namespace, trace_path: Path | None,
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
        sim = target.run(shrunk)
        shrunk_result = check_events(target, target.nodes_of(shrunk), args.variant,
                                     sim.events)
        shrunk_problems = sim.problems or (history_problems(sim) if shrunk_result.ok else [])
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
