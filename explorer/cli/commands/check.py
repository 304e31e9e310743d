"""``protospec check``: explore every reachable state and report the shortest counterexample."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path

from ...bfs import Progress as SearchProgress
from ...bfs import SearchControl
from ...errors import UsageError
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
                    "counterexample), 2 on a usage or spec error, 3 if the search stopped "
                    "before exploring every state (interrupted, a limit reached). Ctrl-C or "
                    "SIGTERM stops within a second, writes a checkpoint and prints the "
                    "command that resumes it.")
    add_spec_arguments(p)
    add_run_arguments(p)
    p.add_argument("--max-depth", type=int, metavar="N",
                   help="explore at most N steps from the initial states (exit 3 if cut)")
    p.add_argument("--max-states", type=int, metavar="N",
                   help="stop after N distinct states (exit 3 if cut)")
    p.add_argument("--time-limit", type=_duration, metavar="DURATION",
                   help="stop after this long (e.g. 90s, 30m, 2h), with a checkpoint (exit 3)")
    p.add_argument("--memory", type=_size, metavar="SIZE",
                   help="memory for the state store and waiting states (e.g. 512M, 4G); above "
                        "it they move to disk in the run folder and the run goes on "
                        "(default: 80%% of the memory available at start)")
    p.add_argument("--run-dir", metavar="DIR",
                   help="the run's folder for checkpoints and spilled tables (default: a new "
                        "folder under ~/.cache/protospec/runs, removed when the run completes)")
    p.add_argument("--resume", metavar="DIR",
                   help="continue the interrupted run whose folder (or checkpoint) is DIR")
    p.add_argument("--checkpoint-every", type=float, default=10.0, metavar="MINUTES",
                   help="write a checkpoint every MINUTES minutes (default 10; 0: only when "
                        "interrupted)")
    p.add_argument("--continue", dest="keep_going", action="store_true",
                   help="keep going after a violation, to report every violated property")
    p.add_argument("--coverage", action="store_true",
                   help="print per-action coverage (enabled / fired / new states)")
    add_temporal_arguments(p)
    add_parallel_arguments(p)
    p.add_argument("--symmetry", action="store_true",
                   help="explore one state per orbit of the spec's symmetric sets (process ids "
                        "it declares interchangeable); counterexamples stay concrete")
    p.set_defaults(func=run)


def add_parallel_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", default=None, metavar="N",
                   help="search on N worker processes (default 1; auto: one per core) "
                        "sharing one fingerprint table; same results as one process; "
                        "--resume may use another N")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="search on Ray actors: a cluster's ADDRESS, or auto to start a local "
                        "Ray on 127.0.0.1 (needs the ray extra: pip install 'protospec[ray]')")


def parse_workers_arg(args: argparse.Namespace) -> int:
    """The --workers value as a number (1 if unset); a UsageError if it is not one."""
    from ...parallel import parse_workers

    if args.workers is None:
        return 1
    try:
        return parse_workers(str(args.workers))
    except ValueError:
        raise UsageError(f"--workers must be a positive number or auto, got "
                         f"{args.workers!r}") from None


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
    p.add_argument("--progress-every", type=float, default=10.0, metavar="SECONDS",
                   help="when stderr is not a terminal, print a progress line this often "
                        "(default 10)")
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


def _duration(text: str) -> float:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 90s, 30m, 2h)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _size(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 512M, 4G)")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))


def available_memory() -> int | None:
    """The memory the system reports as available (Linux: MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _run_meta(spec, args: argparse.Namespace) -> dict:
    """What a checkpoint must agree with to be resumed by this command line."""
    return {
        "spec": spec.name,
        "params": {k: repr(v) for k, v in spec.param_values.items()},
        "variant": spec.variant_name,
        "properties": [n for n, _ in spec.invariant_fns] + [n for n, _ in
                                                            spec.action_property_fns],
        "inv": getattr(args, "inv", None),
        "action_prop": getattr(args, "action_prop", None),
        "constraint": getattr(args, "constraint", None),
        # The checkpoint holds the temporal properties' predicate values and (for liveness)
        # the edge log: a resumed run must record the very same ones.
        "temporal": temporal_names(spec, getattr(args, "liveness", None) is not False),
        "prop": getattr(args, "prop", None),
        "max_depth": args.max_depth,
        "keep_going": bool(args.keep_going),
        "deadlock": args.deadlock,
        # How many workers wrote the checkpoint (a resume may use another number).
        "workers": parse_workers_arg(args),
    }


def _resume_folder(args: argparse.Namespace, meta: dict) -> tuple[Path, Path]:
    """(run folder, checkpoint folder) named by --resume, checked against this command line."""
    import json

    given = Path(args.resume)
    checkpoint = given / "checkpoint" if (given / "checkpoint").is_dir() else given
    if not (checkpoint / "meta.json").is_file():
        raise UsageError(f"--resume {args.resume}: no checkpoint there (expected the run "
                         f"folder printed when the run stopped)")
    saved = json.loads((checkpoint / "meta.json").read_text())
    # Any number of workers may go on from any checkpoint (parallel_shared re-deals it).
    diffs = [k for k in meta if k != "workers" and saved.get(k) != meta[k]]
    if diffs:
        detail = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {meta[k]!r}" for k in diffs)
        raise UsageError(f"--resume {args.resume}: the checkpoint was written by a different "
                         f"configuration ({detail}); resume with the same spec, parameters "
                         f"and options")
    return checkpoint.parent if checkpoint.name == "checkpoint" else given, checkpoint


def resume_command(args: argparse.Namespace, folder: Path) -> str:
    """The command line that continues this run from its checkpoint in ``folder``."""
    argv = list(getattr(args, "argv", None) or sys.argv[1:])
    if "check" not in argv:  # called as a library (e.g. main([...]) in a test)
        argv = ["check", *([args.spec] if args.spec else [])]
        for item in args.param or []:
            argv += ["-p", item]
        if args.variant:
            argv += ["--variant", args.variant]
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--resume", "--run-dir"):
            skip = True
            continue
        if a.startswith(("--resume=", "--run-dir=")):
            continue
        out.append(a)
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    head = "protospec" if prog == "protospec" else f"{shlex.quote(sys.executable)} -m protospec"
    return f"{head} {shlex.join(out)} --resume {shlex.quote(str(folder))}"


def _default_run_folder(spec) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(base) / "protospec" / "runs" / f"{spec.name}-{stamp}-{os.getpid()}"


def run(args: argparse.Namespace) -> int:
    apply_config(args, "check")
    validate_bounds(args)
    spec = instantiate(args)
    if args.explain_inv:
        return print_explanations(spec, args)
    apply_property_arguments(spec, args)
    trace_path = confirm_overwrite(args.trace_out, args.force) if args.trace_out else None
    meta = _run_meta(spec, args)
    resume_from = None
    own_folder = False
    if args.resume:
        folder, resume_from = _resume_folder(args, meta)
    elif args.run_dir:
        folder = Path(args.run_dir)
        if (folder / "checkpoint").exists() and not args.force:
            raise UsageError(f"--run-dir {args.run_dir} holds a checkpoint of another run; "
                             f"resume it with --resume {args.run_dir}, or pass --force to "
                             f"replace it")
    else:
        folder, own_folder = _default_run_folder(spec), True
    if args.checkpoint_every is not None and args.checkpoint_every < 0:
        raise UsageError("--checkpoint-every must be 0 or more minutes")
    memory = args.memory
    if memory is None:
        avail = available_memory()
        memory = int(avail * 0.8) if avail else None
    control = SearchControl(
        folder=folder, memory_bytes=memory,
        checkpoint_every_s=(args.checkpoint_every * 60 if args.checkpoint_every else None),
        time_limit_s=args.time_limit, meta=meta)
    progress = Progress(f"check {spec.name}", enabled=args.progress,
                        every_s=args.progress_every)

    def on_progress(p: SearchProgress) -> None:
        progress.update(f"{p.distinct:,} distinct states, depth {p.depth}, {p.queued:,} queued, "
                        f"{p.distinct / max(p.elapsed_s, 1e-9):,.0f} states/s, "
                        f"memory {progress.rss_mib():,.0f} MiB"
                        + (" (store spilled to disk)" if p.spilled else ""))

    def on_signal(signum: int, frame: object) -> None:
        if control.stop_requested:  # a second Ctrl-C: stop now, without a checkpoint
            raise KeyboardInterrupt
        control.request_stop()

    handlers = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: no signal handling
            handlers[sig] = signal.signal(sig, on_signal)
    workers = parse_workers_arg(args)
    if args.ray and args.resume:
        raise UsageError("--resume cannot be combined with --ray (runs on Ray write no "
                         "checkpoint); resume on this machine with --workers")
    try:
        liveness = args.liveness is not False
        on_workers = bool(workers > 1 or args.ray)
        if args.symmetry and (workers > 1 or args.ray):
            raise UsageError("--symmetry runs in one process for now: drop --workers/--ray, "
                             "or --symmetry")
        if args.ray:
            from ...parallel_ray import check_ray

            result = check_ray(spec, address=args.ray,
                               workers=workers if args.workers is not None else None,
                               max_depth=args.max_depth, max_states=args.max_states,
                               keep_going=args.keep_going, progress=on_progress,
                               until=variant_target(spec), check_deadlock=args.deadlock,
                               control=control)
        elif workers > 1 or (resume_from is not None
                             and (resume_from / "driver.pkl").is_file()):
            # (a checkpoint written by workers goes on on workers, one if so asked)
            from ...parallel import check_parallel

            result = check_parallel(spec, workers=workers, max_depth=args.max_depth,
                                    max_states=args.max_states, keep_going=args.keep_going,
                                    progress=on_progress, until=variant_target(spec),
                                    check_deadlock=args.deadlock, control=control,
                                    resume=resume_from)
        else:
            result = check(spec, max_depth=args.max_depth, max_states=args.max_states,
                           keep_going=args.keep_going, progress=on_progress,
                           until=variant_target(spec, liveness), check_deadlock=args.deadlock,
                           liveness=liveness, control=control, resume=resume_from,
                           symmetry=args.symmetry)
        unchecked = on_workers and [n for n in temporal_names(spec, liveness)
                                    if n not in result.properties_checked]
        if unchecked and not result.violations and not result.stats.liveness_unchecked:
            # Liveness needs the whole graph in one process: workers check safety properties
            # (and, on the shared-table design, sometimes properties) only.
            result.stats.liveness_unchecked = (
                f"not checked: this search on --workers/--ray checks safety properties only "
                f"({', '.join(unchecked)}); run without --workers/--ray"
                + ("" if not liveness else ", or pass --no-liveness if these are liveness "
                   "properties you do not need now"))
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)
        progress.close()
    shutil.rmtree(folder / "spill", ignore_errors=True)  # spilled tables die with the run
    if result.stats.complete or result.violations or control.checkpoint_written is None:
        # Nothing to resume: a checkpoint of this run (or the one it resumed) is stale.
        shutil.rmtree(folder / "checkpoint", ignore_errors=True)
        if own_folder:
            shutil.rmtree(folder, ignore_errors=True)
        args.resume_info = None
    else:
        args.resume_info = {
            "folder": str(folder),
            "command": resume_command(args, folder),
            "checkpoint_bytes": control.checkpoint_bytes,
            "checkpoint_seconds": round(control.checkpoint_seconds, 3),
        }
    args.checkpoint_error = control.checkpoint_error
    return report(result, args, trace_path)


def report(result: CheckResult, args: argparse.Namespace, trace_path) -> int:
    """Print the result (text or JSON), save the trace if asked; return the exit code."""
    write_result_charts(result, args)  # --render, --html (and chart hints for --trace-out)
    with_trace = [v for v in result.violations if v.trace.steps]  # sometimes: no trace
    if trace_path is not None and with_trace:
        v = with_trace[0]
        write_trace(v.trace, trace_path, violation=v.property)
    incomplete = result.mode == "check" and not result.stats.complete and not result.violations
    code = 1 if result.violations else \
        (int(ExitCode.INCOMPLETE) if incomplete or result.stats.liveness_unchecked else 0)
    resume = getattr(args, "resume_info", None)
    if args.json:
        data = result.to_dict()
        if result.mode == "check":
            data["complete"] = result.stats.complete
            data["incomplete_reason"] = result.stats.incomplete_reason
            data["resume"] = resume
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
        elif result.mode == "check":
            con.print(f"Incomplete ({result.stats.incomplete_reason}): no violation among the "
                      f"states explored, but not every reachable state was explored.",
                      markup=False)
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
    if result.mode == "check" and result.stats.queued and incomplete:
        con.print(f"{result.stats.queued:,} states were waiting in the queue.", markup=False)
    if resume:
        con.print(f"Checkpoint written to {resume['folder']} "
                  f"({resume['checkpoint_bytes'] / 2**20:,.1f} MiB in "
                  f"{resume['checkpoint_seconds']:.1f} s). Resume with:", markup=False)
        con.print(f"  {resume['command']}", markup=False)
    elif getattr(args, "checkpoint_error", None):
        con.print(f"No checkpoint: {args.checkpoint_error}.", markup=False)
    return code
