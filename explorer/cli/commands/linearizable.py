"""``protospec linearizable``: check a history of client operations against a consistency model.

Exit codes: 0 the history satisfies the model, 1 it does not, 2 bad input (the message names
the file and line), 3 unknown (the check gave up at ``--timeout``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...errors import TraceFormatError, UsageError
from ...history import (
    INFINITY,
    UNKNOWN,
    History,
    HistoryTimeout,
    LinearizabilityResult,
    Model,
    Operation,
    PartialLinearization,
    Verdict,
    Window,
    check_linearizable,
    get_model,
    load_history,
    minimal_window,
)
from ...history.model import MODELS
from ...history.render import Picture, render_html, render_svg, render_text
from ...history.weaker import GUARANTEES, ConsistencyResult, check_sequential, check_sessions
from ..common import Progress, confirm_overwrite, out_console, print_json, write_output

CONSISTENCY = ("linearizable", "sequential", "session", *GUARANTEES)
EXIT = {Verdict.VALID: 0, Verdict.INVALID: 1, Verdict.UNKNOWN: 3}


def register(sub: argparse._SubParsersAction) -> None:
    models = ", ".join(f"{name} ({cls.summary})" for name, cls in MODELS.items())
    p = sub.add_parser(
        "linearizable", help="check a client history (JSON lines or Jepsen log) for "
                             "linearizability or a weaker model",
        description="Check that the operations in HISTORY could have happened one at a time, "
                    "in an order that respects real time, on the sequential MODEL "
                    "(linearizability), or check a weaker model with --consistency. HISTORY is "
                    "JSON lines or Jepsen's history log (see docs/linearizability.md). On a "
                    "violation it shrinks the history to a minimal window that still fails "
                    "and shows it per process; --render draws it. Exit 0 holds, 1 violated, "
                    "2 bad input, 3 unknown (timeout).")
    p.add_argument("history", metavar="HISTORY", help="the history file")
    p.add_argument("--model", default="cas-register", metavar="MODEL",
                   help=f"the sequential model: {models}; or your own as FILE.py:CLASS or "
                        "MODULE:CLASS (default cas-register)")
    p.add_argument("--consistency", default="linearizable", choices=CONSISTENCY,
                   metavar="MODEL",
                   help="what to check: linearizable (default), sequential, session (all four "
                        "session guarantees) or one of " + ", ".join(GUARANTEES))
    p.add_argument("--format", default="auto", choices=("auto", "json", "jepsen", "edn"),
                   help="the history's format (default: guessed from the first record)")
    p.add_argument("--initial", metavar="JSON",
                   help="initial value of the register(s), as JSON (default null)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="give up after this long and answer unknown (exit 3)")
    p.add_argument("--shrink-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="time allowed to shrink a violation to a minimal window (default 30)")
    p.add_argument("--no-shrink", dest="shrink", action="store_false",
                   help="report the violation without shrinking it")
    p.add_argument("--render", metavar="FILE",
                   help="draw the violation (or the history) as FILE.svg or FILE.html")
    p.add_argument("--force", action="store_true", help="overwrite the --render file")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show progress on stderr (default: when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="never show progress")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout must be a positive number of seconds, not {args.timeout}")
    if getattr(args, "shrink_timeout", None) is not None and not (
            math.isfinite(args.shrink_timeout) and args.shrink_timeout >= 0):
        raise UsageError(f"--shrink-timeout must be a number of seconds, not "
                         f"{args.shrink_timeout}")
    started = time.monotonic()
    deadline = None if args.timeout is None else started + args.timeout
    render_path = None
    if args.render:
        if Path(args.render).suffix.lower() not in (".svg", ".html", ".htm"):
            raise UsageError(f"--render {args.render}: give a file ending in .svg or .html")
        render_path = confirm_overwrite(args.render, args.force, "--render")
    initial = None
    if args.initial is not None:
        try:
            initial = _freeze(json.loads(args.initial))
        except json.JSONDecodeError as e:
            raise UsageError(f"--initial {args.initial!r} is not JSON: {e.msg}") from None
    model = get_model(args.model, initial)
    try:
        history = load_history(args.history, fmt=args.format, deadline=deadline)
    except HistoryTimeout as exc:
        msg = f"UNKNOWN: gave up after --timeout {args.timeout:g} s while reading: {exc}"
        if args.json:
            print_json({"history": args.history, "verdict": "unknown", "reason": msg})
        else:
            out_console().print(msg, markup=False, highlight=False)
        return EXIT[Verdict.UNKNOWN]
    try:
        return _check(args, history, model, render_path, deadline)
    except TraceFormatError as exc:
        # The model could not read an operation: say which file it is in.
        if str(exc).startswith(history.source):
            raise
        raise TraceFormatError(f"{history.source}, {exc}") from None


def _check(args: argparse.Namespace, history: History, model: Model, render_path: Path | None,
           deadline: float | None) -> int:
    timeout = None if deadline is None else max(1e-3, deadline - time.monotonic())
    progress = Progress(f"{args.consistency} {Path(args.history).name}", enabled=args.progress)

    def tick(done: int, total: int) -> None:
        progress.update(f"deepest order so far: {done:,} of {total:,} operations")

    try:
        if args.consistency == "linearizable":
            result: LinearizabilityResult | ConsistencyResult = check_linearizable(
                history, model, timeout=timeout, progress=tick)
            window = None
            if result.verdict is Verdict.INVALID and args.shrink:
                progress.update("shrinking the violation")
                budget = args.shrink_timeout
                if deadline is not None:  # --timeout bounds the whole run, shrinking too
                    budget = max(0.0, min(budget, deadline - time.monotonic()))
                window = minimal_window(result, timeout=budget)
        elif args.consistency == "sequential":
            result = check_sequential(history, model, timeout=timeout, progress=tick)
            window = None
        else:
            chosen = GUARANTEES if args.consistency == "session" else (args.consistency,)
            result = check_sessions(history, model, chosen)
            window = None
    finally:
        progress.close()

    picture = _picture(history, model, result, window)
    if render_path is not None and picture is not None:
        text = (render_svg(picture) if render_path.suffix.lower() == ".svg"
                else render_html(picture))
        write_output(render_path, text, "picture")
    if args.json:
        print_json(_json(args, history, result, window, render_path if picture else None))
    else:
        _print(args, history, result, window, picture, render_path)
    return EXIT[result.verdict]


# ---------------------------------------------------------------------------------------------
# Pictures


def _context(window: list[Operation], ops: list[Operation], limit: int = 60) -> tuple:
    """Operations outside the window worth drawing faintly beside it: those that overlap its
    span in real time, and each process's last operation completed before it."""
    ids = {o.id for o in window}
    lo = min(o.call for o in window)
    hi = max(o.ret if o.ret < INFINITY else o.call for o in window)
    near = [o for o in ops if o.id not in ids and o.call <= hi and o.ret >= lo]
    near.sort(key=lambda o: abs(o.call - lo))
    last_before: dict[Any, Operation] = {}
    for o in ops:
        if o.id not in ids and o.ret < lo and (o.process not in last_before
                                               or o.ret > last_before[o.process].ret):
            last_before[o.process] = o
    chosen = {o.id: o for o in near[:limit]}
    for o in sorted(last_before.values(), key=lambda o: -o.ret)[:8]:
        chosen.setdefault(o.id, o)
    return tuple(sorted(chosen.values(), key=lambda o: o.call))


def _picture(history: History, model: Model, result: Any, window: Window | None
             ) -> Picture | None:
    if result.verdict is Verdict.UNKNOWN:
        return None
    if isinstance(result, LinearizabilityResult):
        part_model = result.part_model or model
        key = "" if result.part is None else f", key {_text(result.part)}"
        if window is not None:
            part_ops = sorted(result.part_ops, key=lambda o: o.call)
            return Picture(window.ops, part_model,
                           title=f"Not linearizable ({model.name}{key}): a minimal window",
                           furthest=window.furthest,
                           starts=window.starts if window.cut else None,
                           optional=window.optional,
                           context=_context(list(window.ops), part_ops),
                           notes=_tail(result.furthest, part_model, len(part_ops)))
        if result.verdict is Verdict.INVALID:
            return _around_stuck(result.part_ops, part_model, result.furthest,
                                 f"Not linearizable ({model.name}{key})")
        if list(result.linearizations) == [None]:  # one order of the whole history
            order = result.linearizations[None]
            steps, state = [], part_model.init()
            for o in order[:200]:
                state = part_model.step(state, part_model.prepare(o)[0])[2]
                steps.append((o, False, state))
            shown = sorted(history.ops, key=lambda o: o.call)[:200]
            return Picture(tuple(shown), part_model, title=f"Linearizable ({model.name})",
                           furthest=PartialLinearization(part_model.init(), tuple(steps), None))
        return Picture(tuple(history.ops[:200]), model, title=f"Linearizable ({model.name})")
    if result.consistency == "sequential":
        title = ("Sequentially consistent" if result.verdict is Verdict.VALID
                 else "Not sequentially consistent")
        if result.verdict is Verdict.VALID:
            steps, state = [], model.init()
            for o in result.order[:200]:
                state = model.step(state, model.prepare(o)[0])[2]
                steps.append((o, False, state))
            return Picture(tuple(history.ops[:200]), model, title=f"{title} ({model.name})",
                           furthest=PartialLinearization(model.init(), tuple(steps), None))
        return _around_stuck(list(history.ops), model, result.furthest,
                             f"{title} ({model.name})")
    if result.verdict is Verdict.VALID:
        return Picture(tuple(history.ops[:200]), model,
                       title=f"Session guarantees hold ({result.consistency})")
    v = result.violations[0]
    notes = ["Why: " + v.message] + [f"  {why}" for _, _, why in v.edges]
    return Picture(v.ops, model, title="Session guarantee violated",
                   context=_context(list(v.ops), list(history.ops), 30), notes=tuple(notes),
                   show_start=False)


def _tail(furthest: PartialLinearization | None, model: Model, total: int,
          last: int = 6) -> tuple[str, ...]:
    """The last steps of the whole history's furthest partial linearization, as notes."""
    if furthest is None or not furthest.steps:
        return ()
    steps = furthest.steps
    lines = [f"In the whole history the longest legal order took {len(steps):,} of {total:,} "
             f"operations; its last steps:"]
    for n, (o, dropped, state) in enumerate(steps[-last:], len(steps) - min(last, len(steps)) + 1):
        what = "left out" if dropped else f"-> {model.format_state(state)}"
        lines.append(f"  {n:>6}. p{o.process} {model.describe(o)} (line {o.line})  {what}")
    return tuple(lines)


def _around_stuck(ops: list[Operation], model: Model, furthest: PartialLinearization | None,
                  title: str) -> Picture:
    """Without a shrunk window: the operations near where the search got stuck."""
    ops = sorted(ops, key=lambda o: o.call)
    if furthest is None or furthest.stuck is None:
        return Picture(tuple(ops[:200]), model, title=title, furthest=furthest)
    stuck = furthest.stuck
    near = [o for o in ops if o.call <= stuck.ret and o.ret >= stuck.call]
    return Picture(tuple(near[:80]), model, title=title, furthest=furthest)


# ---------------------------------------------------------------------------------------------
# Output


def _text(value: Any) -> str:
    from ...history import format_value

    return format_value(value)


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _jsonable(value: Any) -> Any:
    if value is UNKNOWN:
        return None
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, frozenset):
        return sorted((_jsonable(v) for v in value), key=repr)
    return value


def _op_json(o: Operation) -> dict[str, Any]:
    return {"id": o.id, "process": _jsonable(o.process), "f": o.f, "value": _jsonable(o.value),
            "output": _jsonable(o.output), "status": o.status.name.lower(),
            "line": o.line, "completion_line": o.ret_line or None}


def _partial_json(p: PartialLinearization | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"start_state": _jsonable(p.start),
            "steps": [{"operation": _op_json(o), "dropped": d, "state": _jsonable(s)}
                      for o, d, s in p.steps],
            "stuck": _op_json(p.stuck) if p.stuck is not None else None}


def _json(args: argparse.Namespace, history: History, result: Any, window: Window | None,
          render_path: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "file": args.history,
        "consistency": args.consistency,
        "model": result.model,
        "verdict": result.verdict.value,
        "valid": {"valid": True, "invalid": False}.get(result.verdict.value, "unknown"),
        "history": history.counts(),
        "elapsed_s": round(result.elapsed_s, 6),
    }
    if isinstance(result, LinearizabilityResult):
        out["configurations"] = result.configurations
        if result.verdict is not Verdict.VALID:
            out["part"] = _jsonable(result.part)
            out["furthest"] = _partial_json(result.furthest)
        if window is not None:
            out["window"] = {
                "operations": [_op_json(o) for o in window.ops],
                "start_states": [_jsonable(s) for s in window.starts] if window.cut else None,
                "may_precede_window": sorted(window.optional),
                "operations_before": window.before,
                "minimal": window.complete,
                "checks": window.checks,
                "furthest": _partial_json(window.furthest),
            }
    elif args.consistency == "sequential":
        out["configurations"] = result.configurations
        if result.verdict is not Verdict.VALID:
            out["furthest"] = _partial_json(result.furthest)
    else:
        out["violations"] = [
            {"guarantees": list(v.guarantees), "key": _jsonable(v.key), "message": v.message,
             "operations": [_op_json(o) for o in v.ops],
             "cycle": [{"before": a.id if a else "initial", "after": b.id if b else "initial",
                        "why": why} for a, b, why in v.edges]}
            for v in result.violations]
    if render_path is not None:
        out["render"] = str(render_path)
    return out


def _print(args: argparse.Namespace, history: History, result: Any, window: Window | None,
           picture: Picture | None, render_path: Path | None) -> None:
    con = out_console()

    def say(text: str = "") -> None:
        con.print(text, markup=False, highlight=False)

    c = history.counts()
    say(f"{args.history}: {c['operations']:,} operations ({c['ok']:,} ok, "
        f"{c['indeterminate']:,} indeterminate, {c['failed']:,} failed) "
        f"by {c['processes']:,} process{'' if c['processes'] == 1 else 'es'}")
    if args.consistency in ("linearizable", "sequential"):
        what = {"linearizable": "linearizable", "sequential": "sequentially consistent"}[
            args.consistency]
    else:
        what = f"session guarantees ({result.consistency})"
    timing = f"{result.elapsed_s:.2f} s"
    configs = getattr(result, "configurations", 0)
    if configs:
        timing += f", {configs:,} configurations"
    part = getattr(result, "part", None)
    key = "" if part is None else f" (key {_text(part)})"
    if result.verdict is Verdict.VALID:
        holds = "hold" if what.startswith("session") else "is " + what
        say(f"OK: the history {holds} with respect to the {result.model} model ({timing}).")
    elif result.verdict is Verdict.UNKNOWN:
        deepest = result.furthest.steps if result.furthest is not None else ()
        say(f"UNKNOWN: gave up after --timeout {args.timeout:g} s ({timing}); the deepest "
            f"order found took {len(deepest):,} operations{key}.")
    elif isinstance(result, ConsistencyResult) and result.violations:
        say(f"VIOLATION: the {what} do not hold ({timing}).")
        for v in result.violations[:20]:
            say(f"  {v.message}")
            for _, _, why in v.edges:
                say(f"    {why}")
        if len(result.violations) > 20:
            say(f"  ... and {len(result.violations) - 20} more")
    else:
        say(f"VIOLATION: the history is not {what} with respect to the {result.model} "
            f"model{key} ({timing}).")
        if window is not None:
            total = len(result.part_ops)
            say(f"Shrunk to a window of {len(window.ops)} of {total:,} operations "
                f"({window.checks} checks{'' if window.complete else ', time ran out first: '}"
                f"{'' if window.complete else 'may not be minimal'}); every operation in it is "
                "needed:")
    if picture is not None and result.verdict is Verdict.INVALID:
        say()
        # The session violations' reasons were printed above; the picture repeats them only
        # in files.
        say(render_text(replace(picture, notes=()) if isinstance(result, ConsistencyResult)
                        else picture))
    if render_path is not None:
        say()
        say(f"Picture written to {render_path}" if picture is not None
            else "No picture: the check gave up before an answer.")
