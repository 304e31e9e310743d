"""Plain-text views of results: counterexamples step by step, statistics, coverage tables.

Renderers read results and traces, never specs, and return text; only the CLI prints.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from ..result import CheckResult, Trace, Violation
from ..values import format_value, state_vars

__all__ = ["format_coverage", "format_params", "format_stats", "format_trace",
           "format_violation"]


def format_params(params: dict) -> str:
    return " ".join(f"{k}={format_value(v)}" for k, v in params.items())


def format_trace(trace: Trace, *, all_vars: bool = False, width: int = 100) -> str:
    """Numbered steps, each with its action and arguments and the variables that changed."""
    lines: list[str] = []
    changes = trace.changes()
    names = trace.var_names()
    pad = max((len(n) for n in names), default=5)
    last = len(trace.steps) - 1
    for i, (step, changed) in enumerate(zip(trace.steps, changes)):
        if trace.loop is not None and i == trace.loop and not trace.stutters:
            lines.append(f"{'':5}-- the cycle starts here: state {i} --")
        closes = trace.loop is not None and i == last and not trace.stutters
        lines.append(f"{i:>3}  {step.label}" + (f"   (back to state {trace.loop})"
                                                  if closes else ""))
        values = state_vars(step.state) if (all_vars or i == 0) else changed
        if not values:
            lines.append(f"{'':5}(no variable changed)")
        for name, value in values.items():
            mark = "*" if all_vars and i > 0 and name in changed else " "
            lines.append(_wrap(f"{'':4}{mark}{name:<{pad}} = ", format_value(value), width))
    if trace.loop is not None:
        lines.append(f"{'':5}-- " + (f"state {last} stays unchanged forever --" if trace.stutters
                                     else f"back to state {trace.loop}; steps "
                                          f"{trace.loop + 1}..{last} repeat forever --"))
    return "\n".join(lines)


def _wrap(prefix: str, text: str, width: int) -> str:
    if len(prefix) + len(text) <= width:
        return prefix + text
    indent = " " * len(prefix)
    out, line = [], prefix
    for part in text.split(", "):
        piece = part if line.endswith(("= ", "  ")) else ", " + part if line != indent else part
        if len(line) + len(piece) > width and line.strip():
            out.append(line.rstrip() + ("," if not line.endswith("= ") else ""))
            line = indent + part
        else:
            line += piece
    out.append(line)
    return "\n".join(out)


KINDS = {"invariant": "Invariant", "action_property": "Action property", "deadlock": "Deadlock",
         "liveness": "Liveness property", "sometimes": "Reachability check"}


def format_violation(v: Violation, *, all_vars: bool = False) -> str:
    if v.kind == "sometimes":
        head = f"Reachability check {v.property} failed: no reachable state satisfies it"
        return head + (f"\n  {v.property}: {v.doc}" if v.doc else "")
    if v.kind == "liveness":
        return _format_lasso(v, all_vars)
    what = KINDS.get(v.kind, v.kind)
    head = (f"{what} {v.property} violated" if v.kind != "deadlock"
            else "Deadlock reached: a state with no successor")
    if v.doc:
        head += f"\n  {v.property}: {v.doc}"
    n = len(v.trace)
    head += f"\nShortest counterexample: {n} step{'s' if n != 1 else ''}" \
        if v.trace.spec else ""
    body = format_trace(v.trace, all_vars=all_vars)
    if v.kind == "invariant":
        tail = f"  ^ state {n} violates {v.property}"
    elif v.kind == "action_property":
        tail = f"  ^ step {n} violates {v.property}"
    else:
        tail = f"  ^ state {n} has no successor"
    return f"{head}\n\n{body}\n{tail}"


def _format_lasso(v: Violation, all_vars: bool) -> str:
    head = f"Liveness property {v.property} violated"
    if v.instance is not None:
        head += f" (instance {format_value(v.instance)})"
    if v.doc:
        head += f"\n  {v.property}: {v.doc}"
    t = v.trace
    n = len(t)
    assert t.loop is not None
    if t.stutters:
        shape = (f"{n} step{'s' if n != 1 else ''} to state {t.loop}, which then stays "
                 f"unchanged forever")
    else:
        shape = (f"{t.loop} step{'s' if t.loop != 1 else ''} to state {t.loop}, then a cycle "
                 f"of {n - t.loop} step{'s' if n - t.loop != 1 else ''} repeated forever")
    head += (f"\nCounterexample (a fair behaviour that never gets there): {shape}"
             if t.spec else "")
    return f"{head}\n\n{format_trace(t, all_vars=all_vars)}"


def format_stats(result: CheckResult) -> str:
    s = result.stats
    if result.mode == "bmc":
        reach = (f"violation at depth {s.depth}" if result.violations
                 else f"no violation within {s.depth} steps")
        return f"Bounded model checking with z3: {reach}, {s.elapsed_s:.2f} s"
    if result.mode == "simulate":
        return (f"{result.runs} run(s), {s.distinct_states:,} distinct states visited "
                f"({s.states_generated:,} successors generated), longest run {s.depth} steps, "
                f"{s.elapsed_s:.2f} s")
    lines = [
        f"{s.distinct_states:,} distinct states, {s.states_generated:,} generated, "
        f"depth {s.depth}, {s.elapsed_s:.2f} s ({s.states_per_s:,.0f} states/s), "
        f"peak memory {s.peak_rss_bytes / 2**20:,.0f} MiB",
    ]
    if s.edges and (s.liveness_s or s.liveness_bytes):
        lines.append(f"Liveness: {s.edges:,} steps logged, checked in {s.liveness_s:.2f} s")
    if s.outside_constraint:
        lines.append(f"{s.outside_constraint:,} successor states fell outside the constraint "
                     f"and were not explored")
    if not s.complete and s.stopped_by != "violation":
        lines.append(f"Search incomplete: {s.incomplete_reason}")
    lines.append(f"Fingerprint collision probability: {s.collision_probability:.1e} "
                 f"(optimistic estimate n*(m-n)/2^64, as TLC reports it)")
    return "\n".join(lines)


def format_coverage(result: CheckResult) -> str:
    table = Table(title="Action coverage", title_justify="left", box=None, pad_edge=False)
    table.add_column("action")
    table.add_column("enabled", justify="right")
    table.add_column("fired", justify="right")
    table.add_column("new states", justify="right")
    for name, c in result.coverage.items():
        flag = "  (never enabled)" if c.fired == 0 else ""
        table.add_row(name + flag, f"{c.enabled:,}", f"{c.fired:,}", f"{c.new:,}")
    buf = io.StringIO()
    Console(file=buf, width=100, no_color=True, force_terminal=False).print(table)
    return buf.getvalue().rstrip()
