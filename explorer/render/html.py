"""A self-contained HTML report of a run or a trace: one file, no network, opens anywhere.

The report has the summary (spec, parameters, variant, properties, outcome, statistics), then
for each violation the message sequence chart inlined as SVG and the trace as a table of
step-by-step changes, then the action coverage table. Styles are inline; there is no script,
no font, no image and no link to fetch, so the file reads the same offline, in a mail, or in a
CI artifact. Without Graphviz's ``dot`` the chart is replaced by a note saying how to install
it, and the DOT source is kept in the page.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from .. import __version__
from ..result import CheckResult, Trace, Violation
from ..values import format_value, state_vars
from .changes import describe_changes
from .dot import DotFailed, DotMissing, render
from .lanes import infer_chart
from .sequence import sequence_dot
from .text import format_params, format_stats

__all__ = ["inline_svg", "result_html", "trace_html"]

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #212121; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #e0e0e0; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.9em; }
.ok { color: #2e7d32; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
tr.violation td { background: #ffebee; } .violation-note { color: #c62828; font-weight: bold; }
tr.cycle td { background: #f3e5f5; } .loop-note { color: #6a1b9a; font-weight: bold; }
.chart { overflow-x: auto; border: 1px solid #e0e0e0; padding: 0.5em; background: #fff; }
.chart svg { max-width: none; height: auto; }
.change { display: block; } .old { color: #757575; } .arrow { color: #9e9e9e; }
.added { color: #2e7d32; } .removed { color: #c62828; }
.note { background: #fff8e1; border: 1px solid #ffe082; padding: 0.6em 1em; }
details summary { cursor: pointer; color: #616161; }
table.trace { width: 100%; } table.trace code { overflow-wrap: anywhere; }
footer { margin-top: 3em; color: #9e9e9e; font-size: 0.85em; }
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def inline_svg(svg: bytes | str) -> str:
    """SVG from ``dot`` made fit to sit inside HTML: no XML prolog, doctype, comments, or
    namespace declarations (HTML needs none, and they are URLs a checker may flag)."""
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return text.strip()


def _chart_block(trace: Trace, violation: str | None, kind: str, doc: str) -> str:
    source = sequence_dot(trace, violation=violation, kind=kind, doc=doc)
    try:
        svg = inline_svg(render(source, "svg"))
    except (DotMissing, DotFailed) as exc:
        return (f'<p class="note">The message sequence chart could not be drawn: {_e(exc)}</p>'
                f"<details><summary>The chart as DOT source</summary><pre class=\"mono\">"
                f"{_e(source)}</pre></details>")
    return f'<div class="chart">{svg}</div>'


def _change_html(change: Any) -> str:
    if change.added or change.removed:
        parts = []
        if change.added:
            parts.append(f'<span class="added">+{{{_e(", ".join(change.added))}}}</span>')
        if change.removed:
            parts.append(f'<span class="removed">−{{{_e(", ".join(change.removed))}}}</span>')
        body = " ".join(parts)
    else:
        body = (f'<span class="old">{_e(change.before)}</span> <span class="arrow">→</span> '
                f"{_e(change.after)}")
    return f'<span class="change"><code>{_e(change.path)}</code>: {body}</span>'


def _trace_table(trace: Trace, violation: str | None, kind: str) -> str:
    """One row per step: its process, its action, what it changed; the full state on demand."""
    chart = infer_chart(trace)
    lane_of = {e.step: e.lane for e in chart.events}
    bags = set(chart.message_vars)
    rows = ['<table class="trace"><thead><tr><th>#</th><th>process</th><th>step</th>'
            "<th>what changed</th></tr></thead><tbody>"]
    n = len(trace.steps) - 1
    prev = None
    for i, st in enumerate(trace.steps):
        if prev is None:
            changes = "".join(f'<span class="change"><code>{_e(k)}</code> = {_e(format_value(v))}'
                              f"</span>" for k, v in state_vars(st.state).items())
        else:
            found = describe_changes(prev, st.state, bags=bags)
            changes = "".join(_change_html(c) for c in found) or \
                '<span class="old">(no variable changed)</span>'
        full = "".join(f"<div><code>{_e(k)}</code> = {_e(format_value(v))}</div>"
                       for k, v in state_vars(st.state).items())
        note = ""
        cls = ""
        if trace.loop is not None:
            if trace.stutters and i == n:
                note = "then this state stays unchanged forever"
            elif not trace.stutters and i == trace.loop:
                note = "the cycle starts at this state"
            elif not trace.stutters and i == n:
                note = f"back to state {trace.loop}: steps {trace.loop + 1}..{n} repeat forever"
            if (not trace.stutters and i > trace.loop) or (trace.stutters and i == n):
                cls = ' class="cycle"'
            note = f'<div class="loop-note">{_e(note)}</div>' if note else ""
        elif violation and i == n:
            cls = ' class="violation"'
            note = {"invariant": f"this state violates {violation}",
                    "action_property": f"this step violates {violation}",
                    "deadlock": "no step is possible from this state (deadlock)"}.get(
                        kind, f"violates {violation}")
            note = f'<div class="violation-note">{_e(note)}</div>'
        details = (f"<details><summary>state {i}</summary>{full}</details>" if i else "")
        rows.append(f"<tr{cls}><td class=\"num\">{i}</td><td>{_e(lane_of.get(i, ''))}</td>"
                    f"<td><code>{_e(st.label)}</code></td><td>{changes}{note}{details}</td></tr>")
        prev = st.state
    rows.append("</tbody></table>")
    return "".join(rows)


def _violation_section(v: Violation, draw: bool) -> str:
    kinds = {"invariant": "Invariant", "action_property": "Action property",
             "deadlock": "Deadlock", "liveness": "Liveness property",
             "sometimes": "Reachability check"}
    head = (f"{kinds.get(v.kind, v.kind)} {v.property} violated" if v.kind != "deadlock"
            else "Deadlock: a state with no successor")
    if v.instance is not None:
        head += f" (instance {format_value(v.instance)})"
    n = len(v.trace)
    parts = [f'<h2 class="bad">{_e(head)}</h2>']
    if v.doc:
        parts.append(f"<p><code>{_e(v.property)}</code>: {_e(' '.join(v.doc.split()))}</p>")
    if v.kind == "sometimes":
        parts.append("<p>No reachable state satisfies it: there is no trace to show.</p>")
        return "\n".join(parts)
    loop = v.trace.loop
    if loop is None:
        parts.append(f"<p>Counterexample: {n} step{'s' if n != 1 else ''}.</p>")
    elif v.trace.stutters:
        parts.append(f"<p>Counterexample: a fair behaviour of {n} step"
                     f"{'s' if n != 1 else ''}, after which state {loop} stays unchanged "
                     f"forever.</p>")
    else:
        parts.append(f"<p>Counterexample: a fair behaviour that takes {loop} step"
                     f"{'s' if loop != 1 else ''} to state {loop}, then repeats steps "
                     f"{loop + 1}..{n} forever (the rows shaded purple), back to state "
                     f"{loop} each time.</p>")
    if draw:
        parts.append("<h3>Message sequence chart</h3>")
        parts.append(_chart_block(v.trace, v.property, v.kind, v.doc))
    parts.append("<h3>Step by step</h3>")
    parts.append(_trace_table(v.trace, v.property, v.kind))
    return "\n".join(parts)


def _coverage(result: CheckResult) -> str:
    if not result.coverage:
        return ""
    rows = ["<h2>Action coverage</h2><table><thead><tr><th>action</th><th>enabled</th>"
            "<th>fired</th><th>new states</th></tr></thead><tbody>"]
    for name, c in result.coverage.items():
        flag = ' <span class="bad">(never enabled)</span>' if c.fired == 0 else ""
        rows.append(f"<tr><td><code>{_e(name)}</code>{flag}</td><td class=\"num\">{c.enabled:,}"
                    f"</td><td class=\"num\">{c.fired:,}</td><td class=\"num\">{c.new:,}</td>"
                    f"</tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body)
            + f"\n<footer>Written by protospec {_e(__version__)}.</footer>\n</body></html>\n")


def _summary_table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="summary">{cells}</table>'


def result_html(result: CheckResult, *, draw: bool = True) -> str:
    """The report of a ``check`` or ``simulate`` run (``draw=False``: no charts, no ``dot``)."""
    modes = {"check": "Check", "simulate": "Simulation", "bmc": "Bounded model check"}
    what = f"{modes.get(result.mode, result.mode.capitalize())} of {result.spec}"
    outcome = ('<span class="ok">no violation</span>' if result.ok else
               f'<span class="bad">{len(result.violations)} violation'
               f'{"s" if len(result.violations) != 1 else ""}: '
               f'{_e(", ".join(v.property for v in result.violations))}</span>')
    if result.ok:
        outcome += (" — every reachable state was explored" if result.mode == "check"
                    and result.stats.complete else " — the search was not exhaustive")
    rows = [("spec", f"<code>{_e(result.spec)}</code>"),
            ("parameters", _e(format_params(result.params)) or "—"),
            ("variant", _e(result.variant) if result.variant else "none (the correct spec)"),
            ("properties checked", _e(", ".join(result.properties_checked) or "none")),
            ("outcome", outcome),
            ("statistics", "<br>".join(_e(line) for line in format_stats(result).splitlines()))]
    body = [f"<h1>{_e(what)}</h1>", _summary_table(rows)]
    body += [_violation_section(v, draw) for v in result.violations]
    body.append(_coverage(result))
    return _page(what, body)


def trace_html(trace: Trace, *, violation: str | None = None, kind: str = "invariant",
               doc: str = "", draw: bool = True) -> str:
    """The report of one saved trace (``protospec show``): summary, chart, steps."""
    what = f"Trace of {trace.spec or 'an unnamed spec'}"
    n = len(trace)
    rows = [("spec", f"<code>{_e(trace.spec or '?')}</code>"),
            ("parameters", _e(format_params(trace.params)) or "—"),
            ("variant", _e(trace.variant) if trace.variant else "none"),
            ("length", f"{n} step{'s' if n != 1 else ''}"),
            ("violates", f'<span class="bad">{_e(violation)}</span>' if violation else "—")]
    body = [f"<h1>{_e(what)}</h1>", _summary_table(rows)]
    if draw:
        body += ["<h2>Message sequence chart</h2>", _chart_block(trace, violation, kind, doc)]
    body += ["<h2>Step by step</h2>", _trace_table(trace, violation, kind),
             "<p class=\"old\">A saved trace does not record action coverage; run "
             "<code>protospec check --html</code> for that.</p>"]
    return _page(what, body)
